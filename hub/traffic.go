package hub

// Traffic is what a server's Engine.IO connections have done since it was
// created, for monitoring (an admin UI's dashboard): what Node's engine
// reports with its connection, close, packet and packetCreate events.
type Traffic struct {
	// Opened is the connections opened; Closed the connections that
	// ended, by reason ("transport close", "ping timeout", "transport
	// error", "forced close", "parse error", "server shutting down").
	Opened uint64
	Closed map[string]uint64
	// Open is the connections open now; Polling those of them on HTTP
	// long-polling (not, or not yet, upgraded to WebSocket).
	Open, Polling int
	// PacketsIn and BytesIn count the message packets received from
	// clients and their bytes; PacketsOut and BytesOut the message
	// packets (a binary attachment is one) queued for clients and their
	// bytes. Heartbeats and other control packets are not counted.
	PacketsIn, PacketsOut uint64
	BytesIn, BytesOut     uint64
}

// Traffic returns the server's connection counts. It visits every open
// connection, so it costs in proportion to their number (a few
// milliseconds for 100,000); the counting itself costs the data path
// nothing measurable. The packet and byte counts only grow, but a call
// made while a connection ends may miss that connection's share, which
// the next call has again: to take differences, keep the largest count
// seen.
func (s *Server) Traffic() Traffic {
	t := s.engine.Traffic()
	return Traffic{
		Opened: t.Opened, Closed: t.Closed,
		Open: t.Open, Polling: t.Polling,
		PacketsIn: t.PacketsIn, PacketsOut: t.PacketsOut,
		BytesIn: t.BytesIn, BytesOut: t.BytesOut,
	}
}

// ClientID returns the id of the socket's Engine.IO connection, which the
// client's sockets in every namespace share (Node's socket.client.id,
// socket.conn.id). It authenticates the connection's polling requests:
// show no more than a prefix of it to anyone but the client.
func (s *Socket) ClientID() string { return s.client.conn.ID() }
