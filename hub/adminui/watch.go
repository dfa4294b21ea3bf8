package adminui

import (
	"github.com/hubd/hubd/hub"
)

// watchedSocket is a socket whose events are reported to the UIs.
type watchedSocket struct {
	nsp       string
	transport string // as last reported
	// Remove the socket's event listeners while no UI watches; its
	// disconnect listener stays until it disconnects (the hub has no
	// way to remove one).
	offAny, offOut func()
}

// instrumentNamespace reports n's sockets (development mode): its
// connection listener, there for good, reads one flag while no UI
// watches.
func (a *Admin) instrumentNamespace(n *hub.Namespace) {
	n.OnConnection(func(s *hub.Socket) {
		if !a.watching.Load() {
			return
		}
		a.mu.Lock()
		if !a.watching.Load() {
			a.mu.Unlock()
			return
		}
		a.watchSocketLocked(s)
		a.mu.Unlock()
		a.emit("socket_connected", a.serializeLocal(s), now())
	})
	a.mu.Lock()
	if a.watching.Load() {
		a.watchRoomsLocked(n)
	}
	a.mu.Unlock()
}

// reconcile starts or stops the live updates (development mode) as the
// UIs come and go: on for as long as one watches (always with a cluster
// adapter), off after Close.
func (a *Admin) reconcile() {
	a.mu.Lock()
	defer a.mu.Unlock()
	want := a.opts.Mode == Development && a.active()
	if want == a.watching.Load() {
		return
	}
	a.watching.Store(want)
	if !want {
		for _, off := range a.rooms {
			off()
		}
		clear(a.rooms)
		for _, w := range a.sockets {
			if w.offAny != nil {
				w.offAny()
				w.offOut()
				w.offAny, w.offOut = nil, nil
			}
		}
		return
	}
	for _, n := range a.srv.Namespaces() {
		a.watchRoomsLocked(n)
		for _, s := range n.Sockets() {
			a.watchSocketLocked(s)
		}
	}
}

// watchRoomsLocked reports the joins and leaves of n's rooms.
func (a *Admin) watchRoomsLocked(n *hub.Namespace) {
	if a.rooms[n] != nil {
		return
	}
	name := n.Name()
	a.rooms[n] = n.AddRoomEvents(hub.RoomEvents{
		JoinRoom: func(room, id string) {
			if a.watching.Load() {
				a.emit("room_joined", name, room, id, now())
			}
		},
		LeaveRoom: func(room, id string) {
			if a.watching.Load() {
				a.emit("room_left", name, room, id, now())
			}
		},
	})
}

// watchSocketLocked reports s's events (those of the UIs' own sockets
// excepted, as in Node) and its disconnection.
func (a *Admin) watchSocketLocked(s *hub.Socket) {
	w := a.sockets[s]
	if w == nil {
		w = &watchedSocket{nsp: s.Namespace().Name(), transport: s.Transport()}
		a.sockets[s] = w
		s.OnDisconnect(func(reason hub.DisconnectReason) { a.onDisconnect(s, w, reason) })
		if !s.Connected() {
			// Gone before its listener was in place: it may never run.
			delete(a.sockets, s)
			return
		}
	}
	if w.offAny != nil || s.Namespace() == a.nsp {
		return
	}
	id := s.ID()
	w.offAny = s.OnAny(func(ev *hub.Event) {
		if a.watching.Load() {
			a.emitEvent("event_received", w.nsp, id, ev.Name, ev.Args)
		}
	})
	w.offOut = s.OnAnyOutgoing(func(event string, args hub.Args) {
		if a.watching.Load() {
			a.emitEvent("event_sent", w.nsp, id, event, args)
		}
	})
}

func (a *Admin) onDisconnect(s *hub.Socket, w *watchedSocket, reason hub.DisconnectReason) {
	a.mu.Lock()
	if a.sockets[s] == w {
		delete(a.sockets, s)
	}
	a.mu.Unlock()
	if a.watching.Load() {
		a.emit("socket_disconnected", w.nsp, s.ID(), string(reason), now())
	}
}

// transportChanges reports the sockets whose connection moved to
// WebSocket since the last look, as Node's socket_updated on the engine's
// upgrade event (the hub has no such event: the statistics' tick looks).
func (a *Admin) transportChanges() {
	if !a.watching.Load() {
		return
	}
	type update struct {
		ID        string `json:"id"`
		Nsp       string `json:"nsp"`
		Transport string `json:"transport"`
	}
	var updates []update
	a.mu.Lock()
	for s, w := range a.sockets {
		if w.transport != "polling" {
			continue
		}
		if t := s.Transport(); t != w.transport {
			w.transport = t
			updates = append(updates, update{ID: s.ID(), Nsp: w.nsp, Transport: t})
		}
	}
	a.mu.Unlock()
	for _, u := range updates {
		a.emit("socket_updated", u)
	}
}
