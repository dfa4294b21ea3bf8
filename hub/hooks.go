package hub

// Hooks are the server's interception points, where a plugin host (or any
// Go code) decides what happens at the moments of a socket's life. A nil
// field costs nothing; Server.SetHooks swaps the whole set atomically.
//
// Connect and Event run on the socket's own runner goroutine (see Socket),
// in the order of the client's packets: a slow hook holds up that socket's
// later events only, while its connection keeps being read (acks and
// heartbeats included) and its other sockets go on. Join and Leave run on
// the goroutine that calls Socket.Join or Socket.Leave (usually a
// listener's, the runner). Disconnect runs on the goroutine that ends the
// socket: its runner when the client's earlier events are still queued,
// else the one that saw the end (the connection's reader, a caller of
// Socket.Disconnect or Server.Close). A hook that waits on a socket's
// behalf should give up when Socket.Context ends: the client is gone.
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

// ChainHooks composes hook sets into one, for Server.SetHooks: each hook
// runs the sets' hooks of its kind in the order given (nil sets and nil
// fields are skipped, so a kind no set has stays nil and costs nothing).
//
//   - Connect runs each in turn and stops at the first error, which
//     refuses the connection.
//   - Join passes the rooms along: each gets the rooms the one before
//     returned; the first error refuses the join.
//   - Event runs each in turn and stops at the first error, ErrDrop
//     included: later sets do not see a dropped or refused event.
//   - Leave and Disconnect, which observe, run every set's.
//
// With no set it returns nil; with one, that set.
func ChainHooks(sets ...*Hooks) *Hooks {
	var live []*Hooks
	for _, h := range sets {
		if h != nil {
			live = append(live, h)
		}
	}
	switch len(live) {
	case 0:
		return nil
	case 1:
		return live[0]
	}
	var out Hooks
	if fns := collect(live, func(h *Hooks) (func(*Socket) error, bool) { return h.Connect, h.Connect != nil }); len(fns) > 0 {
		out.Connect = func(s *Socket) error {
			for _, fn := range fns {
				if err := fn(s); err != nil {
					return err
				}
			}
			return nil
		}
	}
	if fns := collect(live, func(h *Hooks) (func(*Socket, []string) ([]string, error), bool) { return h.Join, h.Join != nil }); len(fns) > 0 {
		out.Join = func(s *Socket, rooms []string) ([]string, error) {
			for _, fn := range fns {
				var err error
				if rooms, err = fn(s, rooms); err != nil {
					return nil, err
				}
			}
			return rooms, nil
		}
	}
	if fns := collect(live, func(h *Hooks) (func(*Socket, []string), bool) { return h.Leave, h.Leave != nil }); len(fns) > 0 {
		out.Leave = func(s *Socket, rooms []string) {
			for _, fn := range fns {
				fn(s, rooms)
			}
		}
	}
	if fns := collect(live, func(h *Hooks) (func(*Event) error, bool) { return h.Event, h.Event != nil }); len(fns) > 0 {
		out.Event = func(ev *Event) error {
			for _, fn := range fns {
				if err := fn(ev); err != nil {
					return err
				}
			}
			return nil
		}
	}
	if fns := collect(live, func(h *Hooks) (func(*Socket, DisconnectReason), bool) { return h.Disconnect, h.Disconnect != nil }); len(fns) > 0 {
		out.Disconnect = func(s *Socket, reason DisconnectReason) {
			for _, fn := range fns {
				fn(s, reason)
			}
		}
	}
	return &out
}

// collect returns the hooks field picks out of sets, those it reports set.
func collect[F any](sets []*Hooks, field func(*Hooks) (F, bool)) []F {
	var out []F
	for _, h := range sets {
		if fn, ok := field(h); ok {
			out = append(out, fn)
		}
	}
	return out
}
