package hub

// Close disconnects every socket with "server shutting down", closes every
// connection (clients then reconnect, to this server or another) and closes
// the adapters.
func (s *Server) Close() error {
	for _, n := range s.Namespaces() {
		for _, sock := range n.Sockets() {
			sock.onClose(ReasonServerShuttingDown)
		}
	}
	s.engine.CloseAll()
	var first error
	for _, n := range s.Namespaces() {
		if err := n.adapter.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
