package adminui

import (
	"github.com/hubd/hubd/hub"
)

// registerActions serves what a UI may do, as the Node package's feature
// handlers: an emit, a join, a leave or a disconnection, for a namespace's
// sockets or those in a room (a socket's id names its own). Each goes to
// every node, through the namespace's adapter. Arguments of the wrong
// type are ignored, as Node's would fail.
//
// One difference: Node's io.of(name) makes a namespace the UI names if
// there is none; here an action on a namespace this node does not have
// does nothing, so that the UI cannot make namespaces (nor shadow a
// dynamic namespace's future children with a static one).
func (a *Admin) registerActions(s *hub.Socket) {
	s.On("emit", func(ev *hub.Event) {
		var nsp, filter, event string
		var rawFilter *string
		if ev.Args.Bind(&nsp, &rawFilter, &event) != nil || event == "" {
			return
		}
		if rawFilter != nil {
			filter = *rawFilter
		}
		n := a.target(nsp)
		if n == nil {
			return
		}
		a.logAction(target(n, filter).EmitArgs(event, ev.Args.From(3)), "emit", nsp)
	})
	s.On("join", func(ev *hub.Event) {
		var nsp, room string
		var filter *string
		if ev.Args.Bind(&nsp, &room, &filter) != nil || room == "" {
			return
		}
		if n := a.target(nsp); n != nil {
			a.logAction(target(n, deref(filter)).SocketsJoin(room), "join", nsp)
		}
	})
	s.On("leave", func(ev *hub.Event) {
		var nsp, room string
		var filter *string
		if ev.Args.Bind(&nsp, &room, &filter) != nil || room == "" {
			return
		}
		if n := a.target(nsp); n != nil {
			a.logAction(target(n, deref(filter)).SocketsLeave(room), "leave", nsp)
		}
	})
	s.On("_disconnect", func(ev *hub.Event) {
		var nsp string
		var closeConn bool
		var filter *string
		if ev.Args.Bind(&nsp, &closeConn, &filter) != nil {
			return
		}
		if n := a.target(nsp); n != nil {
			a.logAction(target(n, deref(filter)).DisconnectSockets(closeConn), "_disconnect", nsp)
		}
	})
}

// target returns the namespace an action names, if this node has it.
func (a *Admin) target(name string) *hub.Namespace {
	if name == "" {
		return nil
	}
	return a.srv.Namespace(name)
}

// target picks the sockets of n in room filter, or all of them.
func target(n *hub.Namespace, filter string) hub.BroadcastOperator {
	if filter == "" {
		return n.Except()
	}
	return n.In(filter)
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (a *Admin) logAction(err error, action, nsp string) {
	if err != nil {
		a.srv.Options().Logger.Info("adminui: an action of the UI failed", "action", action, "namespace", nsp, "err", err)
	}
}
