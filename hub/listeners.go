package hub

import (
	"slices"
	"sync/atomic"
)

// A socket's listeners follow Node's EventEmitter: an event may have many
// listeners, run in the order added; an emit runs the listeners that were
// there when it began, so one added meanwhile waits for the next emit and
// one removed meanwhile still runs in this one. Every method that adds a
// listener returns the function that removes it (Go functions cannot be
// compared, so there is no Off(event, fn)); calling it again does nothing.

// listener is one registration of an incoming-event listener.
type listener struct {
	fn    func(*Event)
	once  bool
	fired atomic.Bool // a once listener has run
}

// outgoingListener is one registration of an OnAnyOutgoing listener.
type outgoingListener struct {
	fn func(event string, args Args)
}

// On adds a listener of event, run after those added before it. The
// returned function removes it. (Node: socket.on.)
func (s *Socket) On(event string, fn func(*Event)) (off func()) {
	return s.addListener(event, &listener{fn: fn})
}

// Once adds a listener of event that runs once, then is removed. The
// returned function removes it before it runs. (Node: socket.once.)
func (s *Socket) Once(event string, fn func(*Event)) (off func()) {
	return s.addListener(event, &listener{fn: fn, once: true})
}

// Off removes every listener of event, those added with Once included.
// (Node: socket.removeAllListeners(event).)
func (s *Socket) Off(event string) {
	s.mu.Lock()
	delete(s.handlers, event)
	s.mu.Unlock()
}

func (s *Socket) addListener(event string, l *listener) func() {
	s.mu.Lock()
	if s.handlers == nil {
		s.handlers = make(map[string][]*listener)
	}
	// Copied, never changed in place: an emit under way keeps its list.
	s.handlers[event] = append(slices.Clip(s.handlers[event]), l)
	s.mu.Unlock()
	return func() { s.removeListener(event, l) }
}

func (s *Socket) removeListener(event string, l *listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.handlers[event]
	i := slices.Index(list, l)
	if i < 0 {
		return
	}
	if len(list) == 1 {
		delete(s.handlers, event)
		return
	}
	s.handlers[event] = slices.Delete(slices.Clone(list), i, i+1)
}

// OnAny adds a listener of every event, run before the socket's
// middlewares and the event's own listeners, after the catch-all listeners
// added before it. The returned function removes it. (Node: socket.onAny.)
func (s *Socket) OnAny(fn func(*Event)) (off func()) {
	l := &listener{fn: fn}
	s.mu.Lock()
	s.anyHandlers = append(slices.Clip(s.anyHandlers), l)
	s.mu.Unlock()
	return func() { s.removeAny(l) }
}

// PrependAny adds a listener of every event, run before the catch-all
// listeners already there. The returned function removes it. (Node:
// socket.prependAny.)
func (s *Socket) PrependAny(fn func(*Event)) (off func()) {
	l := &listener{fn: fn}
	s.mu.Lock()
	s.anyHandlers = append([]*listener{l}, s.anyHandlers...)
	s.mu.Unlock()
	return func() { s.removeAny(l) }
}

// OffAny removes every catch-all listener. (Node: socket.offAny().)
func (s *Socket) OffAny() {
	s.mu.Lock()
	s.anyHandlers = nil
	s.mu.Unlock()
}

func (s *Socket) removeAny(l *listener) {
	s.mu.Lock()
	if i := slices.Index(s.anyHandlers, l); i >= 0 {
		s.anyHandlers = slices.Delete(slices.Clone(s.anyHandlers), i, i+1)
	}
	s.mu.Unlock()
}

// OnAnyOutgoing adds a listener of every event sent to this socket's
// client: its own emits (Socket.Emit and the emitters of Timeout, Volatile
// and Compress; the ack function is not among the arguments) and the
// broadcasts that reach it (other nodes' too: a cluster adapter delivers
// them through its LocalAdapter). Acks sent to the client are not events and
// do not count. The listener runs on the goroutine that emits, and holds
// it up: for an emit, before the packet is queued; for a broadcast, once
// the packet is queued for every target, outside the adapter's locks (so
// it may join, leave or broadcast). It runs also for a volatile event that
// is then dropped. The returned function removes it. (Node:
// socket.onAnyOutgoing.)
func (s *Socket) OnAnyOutgoing(fn func(event string, args Args)) (off func()) {
	l := &outgoingListener{fn: fn}
	s.mu.Lock()
	var list []*outgoingListener
	if p := s.outgoing.Load(); p != nil {
		list = *p
	}
	list = append(slices.Clip(list), l)
	s.setOutgoingLocked(&list)
	s.mu.Unlock()
	return func() { s.removeOutgoing(l) }
}

// PrependAnyOutgoing adds an outgoing listener run before those already
// there. The returned function removes it. (Node: socket.prependAnyOutgoing.)
func (s *Socket) PrependAnyOutgoing(fn func(event string, args Args)) (off func()) {
	l := &outgoingListener{fn: fn}
	s.mu.Lock()
	list := []*outgoingListener{l}
	if p := s.outgoing.Load(); p != nil {
		list = append(list, *p...)
	}
	s.setOutgoingLocked(&list)
	s.mu.Unlock()
	return func() { s.removeOutgoing(l) }
}

// OffAnyOutgoing removes every outgoing listener. (Node:
// socket.offAnyOutgoing().)
func (s *Socket) OffAnyOutgoing() {
	s.mu.Lock()
	s.setOutgoingLocked(nil)
	s.mu.Unlock()
}

// setOutgoingLocked stores the socket's outgoing listeners (nil: none)
// and keeps the namespace's count of sockets that have some, which a
// socket leaves when it has none or is gone: once the last such socket
// is, broadcasts take their fast path again. The count goes up before a
// list is stored, down after none is: a broadcast that finds it at zero
// finds no socket with listeners.
func (s *Socket) setOutgoingLocked(list *[]*outgoingListener) {
	if list != nil && !s.outCounted && !s.gone {
		s.outCounted = true
		s.nsp.outgoingSockets.Add(1)
	}
	s.outgoing.Store(list)
	if (list == nil || s.gone) && s.outCounted {
		s.outCounted = false
		s.nsp.outgoingSockets.Add(-1)
	}
}

func (s *Socket) removeOutgoing(l *outgoingListener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.outgoing.Load()
	if p == nil {
		return
	}
	i := slices.Index(*p, l)
	if i < 0 {
		return
	}
	if len(*p) == 1 {
		s.setOutgoingLocked(nil)
		return
	}
	list := slices.Delete(slices.Clone(*p), i, i+1)
	s.setOutgoingLocked(&list)
}

// hasOutgoing reports whether the socket has outgoing listeners: one
// atomic load, for delivery loops to check before they call
// notifyOutgoing.
func (s *Socket) hasOutgoing() bool { return s.outgoing.Load() != nil }

// notifyOutgoing runs the outgoing listeners for an event sent to the
// socket's client. The adapter's delivery loops call it for broadcasts
// (as Node's in-memory adapter does), outside their locks.
func (s *Socket) notifyOutgoing(event string, args Args) {
	p := s.outgoing.Load()
	if p == nil {
		return
	}
	for _, l := range *p {
		l.fn(event, args)
	}
}

// runListeners runs the listeners in list for ev, as an EventEmitter's
// emit: once listeners are removed before they run, and run once.
func (s *Socket) runListeners(event string, list []*listener, ev *Event) {
	for _, l := range list {
		if l.once {
			if !l.fired.CompareAndSwap(false, true) {
				continue
			}
			s.removeListener(event, l)
		}
		l.fn(ev)
	}
}
