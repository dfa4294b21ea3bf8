package hub

import "encoding/json"

// SetDataView sets a function that FetchSockets passes each of this
// node's sockets' data through, as JSON (the object SetData's value
// marshals to, {} when there is none), before it reports them to this node
// or another: a library may add fields of its own there, as the admin UI's
// server side adds "_admin" (the connection's id and transport) the way
// Node's instrument() adds it to socket.data. The socket's own data is
// left alone. There is one such function: a later call replaces it, nil
// removes it. It runs on the goroutine that answers the fetch, for every
// socket listed, so it must be quick.
func (s *Server) SetDataView(fn func(s *Socket, data json.RawMessage) json.RawMessage) {
	if fn == nil {
		s.dataView.Store(nil)
		return
	}
	s.dataView.Store(&fn)
}

// viewData is the socket's data as FetchSockets reports it.
func (s *Socket) viewData() json.RawMessage {
	d := marshalData(s.Data())
	if fn := s.nsp.srv.dataView.Load(); fn != nil {
		d = (*fn)(s, d)
	}
	return d
}
