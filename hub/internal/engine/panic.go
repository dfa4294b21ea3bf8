package engine

import (
	"fmt"
	"net/http"
	"runtime/debug"
)

// recoverPanic is deferred first thing on every goroutine that works for a
// session: its WebSocket reader and writer, its timers, the HTTP handlers
// that serve it. A panic there, the engine's or a handler's (an
// application's event listener runs on the reader), ends this session
// only: it is logged with its stack, counted (Server.PanicsRecovered) and
// the connection is closed with ReasonTransportError. It costs a deferred
// call per goroutine, not per message. Nothing in the engine calls out
// with the session's lock held, so the lock is free here.
func (c *Conn) recoverPanic() {
	if v := recover(); v != nil {
		c.afterPanic(v)
	}
}

// recoverRequest is recoverPanic for a polling request on the HTTP
// server's goroutine: the request is then aborted (http.ErrAbortHandler,
// which net/http does not log again), since its answer may be half written.
func (c *Conn) recoverRequest() {
	if v := recover(); v != nil {
		c.afterPanic(v)
		panic(http.ErrAbortHandler)
	}
}

// afterPanic logs and counts panic v and closes the session. The handler's
// OnClose, which closing calls, may panic in turn: that panic is logged and
// counted too, and goes no further.
func (c *Conn) afterPanic(v any) {
	c.logPanic(v, debug.Stack())
	defer func() {
		if v := recover(); v != nil {
			c.logPanic(v, debug.Stack())
		}
	}()
	c.closeNow(ReasonTransportError, nil)
}

// logPanic logs panic v, then counts it: whoever sees the count can find
// the log entry.
func (c *Conn) logPanic(v any, stack []byte) {
	c.srv.cfg.Logger.Error("engine: panic on a session's goroutine; the session is closed",
		"sid", c.id, "panic", fmt.Sprint(v), "stack", string(stack))
	c.srv.panics.Add(1)
}

// Panicked ends the session after a panic that its handler recovered on a
// goroutine of its own, on the session's behalf (an application's ack
// timer, say): logged with its stack, counted and closed, as on the
// engine's goroutines. It must be called from the deferred function that
// recovered v, so that the stack still shows where the panic happened.
func (c *Conn) Panicked(v any) { c.afterPanic(v) }
