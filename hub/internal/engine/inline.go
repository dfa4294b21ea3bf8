package engine

import (
	"sync"
	"time"
)

// Running application code on the reading goroutine, safely.
//
// A WebSocket session's messages are read by one goroutine, which hands
// each to the handler. The hub runs a socket's listeners one at a time,
// and while they run the connection must still be read (the listener may
// wait for an ack of this very client, or for anything else, and the
// client's pongs must not go unread). Starting a goroutine for every
// message costs a goroutine and a wake-up of another thread per message,
// and the replies then need a writer goroutine too. RunInline avoids both
// in the common case, a listener that does not wait: it runs on the
// reading goroutine, whose dispatch writes what the listener queued once
// it returns. Should it take longer than handoffAfter, the reading moves
// to a fresh goroutine (and what was queued is written), so a listener
// that waits is not waited for; the listener then finishes on the old
// goroutine, which stops reading.

// handoffAfter is how long application code may hold a WebSocket reader
// before the reading moves to another goroutine.
const handoffAfter = time.Millisecond

// Inline states of a Conn.
const (
	inlineNone    int32 = iota
	inlineRunning       // the reader runs code given to RunInline
	inlineMoved         // meanwhile, the reading moved to another goroutine
)

// inlineWatch finds the readers held too long by RunInline; its goroutine
// ticks only while some are, and a little after.
type inlineWatch struct {
	mu      sync.Mutex
	since   map[*Conn]time.Time
	running bool
}

// RunInline runs fn on the calling goroutine and reports true when that is
// the goroutine reading the session's WebSocket, inside the handler's
// OnMessage; otherwise it runs nothing and reports false, and the caller
// runs fn elsewhere. Frames sent meanwhile are written once fn returns, or
// once the reading moves on (after handoffAfter). fn must not call
// RunInline.
func (c *Conn) RunInline(fn func()) bool {
	c.mu.Lock()
	ws := c.ws
	ok := ws != nil && c.dispatching && c.reading == ws && c.inline.Load() == inlineNone
	if ok {
		c.inline.Store(inlineRunning)
	}
	c.mu.Unlock()
	if !ok {
		return false
	}
	c.srv.watchInline(c)
	defer func() {
		// Unwatched first: once the state is none, the new reader may
		// run code inline and be watched in its turn.
		c.srv.unwatchInline(c)
		if !c.inline.CompareAndSwap(inlineRunning, inlineNone) {
			// Moved: this goroutine no longer reads (dispatch and
			// readLoop see the new epoch). The new reader may run code
			// inline from now on.
			c.inline.Store(inlineNone)
		}
	}()
	fn()
	return true
}

// moveReading starts a new reader for the session whose reader has run
// application code for too long (watchdog goroutine).
func (c *Conn) moveReading() {
	// Under mu, with the epoch's bump: the reader checks the epoch under
	// mu once the handler returns (dispatch), so it either still finds
	// the code running here, and then sees the new epoch and stops, or
	// has finished it, and then nothing moves.
	c.mu.Lock()
	ws := c.reading
	if ws == nil || ws != c.ws || c.state == stateClosed ||
		!c.inline.CompareAndSwap(inlineRunning, inlineMoved) {
		c.mu.Unlock()
		return // done meanwhile, or nothing left to read
	}
	// A fresh wsConn view is not needed: the old reader is inside the
	// handler, between two messages, and never reads again.
	c.readEpoch.Add(1)
	c.dispatching = false
	if !c.writing && len(c.queue) > 0 {
		c.startWriterLocked()
	}
	epoch := c.readEpoch.Load()
	c.mu.Unlock()
	go c.readLoopEpoch(ws, maxHandoffs, epoch)
}

func (s *Server) watchInline(c *Conn) {
	w := &s.inline
	w.mu.Lock()
	if w.since == nil {
		w.since = make(map[*Conn]time.Time)
	}
	w.since[c] = time.Now()
	start := !w.running
	w.running = true
	w.mu.Unlock()
	if start {
		go s.inlineWatchdog()
	}
}

func (s *Server) unwatchInline(c *Conn) {
	w := &s.inline
	w.mu.Lock()
	delete(w.since, c)
	w.mu.Unlock()
}

// inlineWatchdog moves the reading of sessions whose reader has run
// application code for handoffAfter; it exits after a while with none.
func (s *Server) inlineWatchdog() {
	w := &s.inline
	t := time.NewTicker(handoffAfter)
	defer t.Stop()
	var late []*Conn
	idle := 0
	for range t.C {
		now := time.Now()
		late = late[:0]
		w.mu.Lock()
		for c, since := range w.since {
			if now.Sub(since) >= handoffAfter {
				late = append(late, c)
				delete(w.since, c)
			}
		}
		if len(w.since) == 0 && len(late) == 0 {
			if idle++; idle >= 100 {
				w.running = false
				w.mu.Unlock()
				return
			}
		} else {
			idle = 0
		}
		w.mu.Unlock()
		for _, c := range late {
			func() {
				defer c.recoverPanic()
				c.moveReading()
			}()
		}
	}
}
