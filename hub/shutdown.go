package hub

import (
	"context"
	"errors"
)

// Shutdown stops the server gracefully. From its call on, new connections
// are refused: a handshake, on either transport, gets HTTP 503 with the
// JSON body {"code":4,"message":"Server shutting down"}, so that clients
// back off and retry, here later or on another node. Every socket is
// disconnected at once with ReasonServerShuttingDown, as Node's
// io.close() does, and without a DISCONNECT packet: the clients see their
// transport close ("transport close") and reconnect. Before a connection
// closes, what was emitted to it before Shutdown is flushed to the client:
// over WebSocket it is written before the close frame; over long-polling
// the client's next poll gets it and the poll after that the close packet.
//
// Shutdown returns nil once every connection has flushed and closed. If
// ctx ends first, the connections left are closed at once, dropping what
// they still had to send, and Shutdown returns ctx.Err() (unless closing
// an adapter failed: then that error). Then it closes the namespaces'
// adapters. Requests of connections still flushing keep being served
// meanwhile, so the HTTP server should be shut down after Shutdown
// returns, not before. Calling Shutdown again waits again and closes the
// adapters again.
func (s *Server) Shutdown(ctx context.Context) error {
	// The engine first: no message is delivered to a closing connection,
	// so no socket connects once the ones below are closed.
	s.engine.Drain(string(ReasonServerShuttingDown))
	for _, n := range s.Namespaces() {
		for _, sock := range n.Sockets() {
			sock.onClose(ReasonServerShuttingDown)
		}
	}
	waitErr := s.engine.Wait(ctx)
	var first error
	for _, n := range s.Namespaces() {
		if err := n.adapter.Close(); err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return first
	}
	return waitErr
}

// Close is Shutdown without grace: new handshakes are refused, every socket
// is disconnected with "server shutting down" (the clients reconnect, to
// another node or to this address once a new server serves it), every
// connection is closed at once, dropping what it had not yet sent, and the
// adapters are closed.
func (s *Server) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
