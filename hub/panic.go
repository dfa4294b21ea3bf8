package hub

import (
	"fmt"
	"runtime/debug"
)

// recoverPanic is deferred on the goroutines the hub starts to run an
// application's code outside a connection's own goroutines (which the
// engine guards): ack callbacks, ack timers, the connect timer and
// listeners of events from other nodes. A panic there is logged with its
// stack and counted in Stats.PanicsRecovered; when it happened on behalf
// of a socket's connection, that connection is closed, as the engine does
// for its own goroutines. The process goes on.
func (s *Server) recoverPanic(what string, c *client) {
	v := recover()
	if v == nil {
		return
	}
	if c != nil {
		c.conn.Panicked(v)
		return
	}
	s.opts.Logger.Error("hub: panic in "+what+"; recovered", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	s.stats.panics.Add(1)
}
