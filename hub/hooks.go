package hub

// Hooks are the server's interception points, where a plugin host (or any
// Go code) decides what happens at the moments of a socket's life. A nil
// field costs nothing; Server.SetHooks swaps the whole set atomically.
//
// Each hook runs on the goroutine of the client concerned, so a slow hook
// delays that client only.
type Hooks struct {
	// Connect runs after the middlewares, before the socket joins its own
	// room and the client is told it is connected. It may attach data
	// (SetData) and join rooms; an error refuses the connection (use
	// *ConnectError for a message with data).
	Connect func(s *Socket) error
	// Join runs on Socket.Join and may refuse (error) or replace the rooms.
	Join func(s *Socket, rooms []string) ([]string, error)
	// Leave runs on Socket.Leave; it observes.
	Leave func(s *Socket, rooms []string)
	// Event runs first for every event a client sends, before catch-all
	// listeners and socket middlewares. It may change ev.Name and ev.Args,
	// answer ev.Ack, or return an error to stop the event (ErrDrop stops it
	// silently; other errors reach the socket's OnError listeners).
	Event func(ev *Event) error
	// Disconnect runs when a socket disconnects, while it is still in its
	// rooms; it observes.
	Disconnect func(s *Socket, reason DisconnectReason)
}
