package natsadapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/sio"
)

// adapter is a namespace's cluster adapter: it serves the local sockets
// through local and carries to and from the other nodes what concerns
// theirs, on the namespace's subject.
type adapter struct {
	c       *Cluster
	nsp     *hub.Namespace
	local   hub.LocalAdapter
	subject string
	sub     *nats.Subscription

	ctx    context.Context // ends when the adapter or its cluster closes
	cancel context.CancelFunc

	mu      sync.Mutex
	members map[string]time.Time // the other nodes with this namespace: when last heard
	closed  bool
}

func (a *adapter) AddAll(s *hub.Socket, rooms []string) { a.local.AddAll(s, rooms) }
func (a *adapter) Del(s *hub.Socket, room string)       { a.local.Del(s, room) }
func (a *adapter) DelAll(s *hub.Socket)                 { a.local.DelAll(s) }

// Broadcast delivers p to the local targets and publishes it for the
// other nodes' (unless opts say Local).
func (a *adapter) Broadcast(p *hub.Packet, opts hub.BroadcastOptions) error {
	err := a.local.Broadcast(p, opts)
	if opts.Flags.Local {
		return err
	}
	w := newMessage(msgBroadcast, a.c.uid)
	w.opts(opts)
	w.str(p.Event)
	w.args(p.Args)
	return errors.Join(err, a.send(w, ""))
}

// BroadcastWithAck delivers p to the local targets asking for acks, and
// asks the other nodes to do the same: each answers on a reply inbox of
// the broadcast's own with its count, then its sockets' acks.
func (a *adapter) BroadcastWithAck(p *hub.Packet, opts hub.BroadcastOptions, clientCount func(int), ack func(hub.Args, error)) error {
	if !opts.Flags.Local {
		if want := a.memberCount(); want > 0 {
			w := newMessage(msgBroadcast, a.c.uid)
			w.opts(opts)
			w.str(p.Event)
			w.args(p.Args)
			sub, err := a.ask(w)
			if err != nil {
				return err
			}
			go a.collectAcks(sub, want, opts.Flags.Timeout, clientCount, ack)
		}
	}
	return a.local.BroadcastWithAck(p, opts, clientCount, ack)
}

// ServerCount is the number of nodes with this namespace, this one
// included, as their heartbeats tell.
func (a *adapter) ServerCount(context.Context) (int, error) {
	if !a.c.nc.IsConnected() {
		return 0, ErrUnavailable
	}
	return a.memberCount() + 1, nil
}

// FetchSockets describes the targeted sockets of every node.
func (a *adapter) FetchSockets(ctx context.Context, opts hub.BroadcastOptions) ([]*hub.RemoteSocket, error) {
	out, err := a.local.FetchSockets(ctx, opts)
	if err != nil || opts.Flags.Local {
		return out, err
	}
	w := newMessage(msgFetch, a.c.uid)
	w.opts(opts)
	err = a.request(ctx, w, msgSockets, a.timeout(opts.Flags.Timeout), "fetching sockets", func(m message) bool {
		var rs []*hub.RemoteSocket
		if json.Unmarshal(m.raw, &rs) != nil {
			return false
		}
		for _, s := range rs {
			if s != nil {
				out = append(out, s)
			}
		}
		return true
	})
	return out, err
}

// Rooms lists the rooms of every node.
func (a *adapter) Rooms(ctx context.Context) ([]string, error) {
	out, _ := a.local.Rooms(ctx)
	err := a.request(ctx, newMessage(msgRooms, a.c.uid), msgRoomList, a.c.opts.RequestsTimeout, "listing rooms", func(m message) bool {
		out = append(out, m.rooms...)
		return true
	})
	slices.Sort(out)
	return slices.Compact(out), err
}

// AddSockets makes the targeted sockets of every node join rooms: this
// node's at once, the others' on receipt.
func (a *adapter) AddSockets(opts hub.BroadcastOptions, rooms []string) error {
	return a.roomsOp(msgJoin, opts, rooms, a.local.AddSockets)
}

// DelSockets makes the targeted sockets of every node leave rooms.
func (a *adapter) DelSockets(opts hub.BroadcastOptions, rooms []string) error {
	return a.roomsOp(msgLeave, opts, rooms, a.local.DelSockets)
}

func (a *adapter) roomsOp(typ byte, opts hub.BroadcastOptions, rooms []string, local func(hub.BroadcastOptions, []string) error) error {
	err := local(opts, rooms)
	if opts.Flags.Local {
		return err
	}
	w := newMessage(typ, a.c.uid)
	w.opts(opts)
	w.strs(rooms)
	return errors.Join(err, a.send(w, ""))
}

// DisconnectSockets disconnects the targeted sockets of every node.
func (a *adapter) DisconnectSockets(opts hub.BroadcastOptions, close bool) error {
	err := a.local.DisconnectSockets(opts, close)
	if opts.Flags.Local {
		return err
	}
	w := newMessage(msgDisconnect, a.c.uid)
	w.opts(opts)
	if close {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
	return errors.Join(err, a.send(w, ""))
}

// ServerSideEmit sends an event to the other nodes' namespace; with
// wantAck, it waits for one answer from each.
func (a *adapter) ServerSideEmit(ctx context.Context, event string, args hub.Args, wantAck bool) ([]hub.Args, error) {
	w := newMessage(msgEmit, a.c.uid)
	w.str(event)
	w.args(args)
	if !wantAck {
		return nil, a.send(w, "")
	}
	var out []hub.Args
	err := a.request(ctx, w, msgEmitAck, a.c.opts.RequestsTimeout, "server-side emit", func(m message) bool {
		out = append(out, m.args)
		return true
	})
	return out, err
}

// Close leaves the namespace: the other nodes stop counting this one at
// once, and its pending requests end with ErrClosed.
func (a *adapter) Close() error {
	a.leave()
	return nil
}

// leave unsubscribes and says goodbye, once.
func (a *adapter) leave() {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return
	}
	a.closed = true
	a.mu.Unlock()
	_ = a.sub.Unsubscribe()
	_ = a.send(newMessage(msgBye, a.c.uid), "")
	a.cancel()
	a.c.forget(a)
}

// memberCount is the number of other nodes heard from within the
// heartbeat timeout.
func (a *adapter) memberCount() int {
	since := time.Now().Add(-a.c.opts.HeartbeatTimeout)
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, t := range a.members {
		if t.After(since) {
			n++
		}
	}
	return n
}

// heard notes that node uid is alive; it reports whether uid is new.
func (a *adapter) heard(uid string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, known := a.members[uid]
	if !known && len(a.members) >= maxMembers {
		return false
	}
	a.members[uid] = time.Now()
	return !known
}

// maxMembers bounds the nodes a namespace counts, so that a flood of
// forged heartbeats cannot grow the table without end.
const maxMembers = 4096

// expire forgets the nodes not heard from since before.
func (a *adapter) expire(before time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for uid, t := range a.members {
		if t.Before(before) {
			delete(a.members, uid)
		}
	}
}

// forgetMembers forgets every other node: the NATS server says none
// subscribes to the namespace any more.
func (a *adapter) forgetMembers() {
	a.mu.Lock()
	clear(a.members)
	a.mu.Unlock()
}

// timeout is a request's bound: the broadcast's Timeout when it has one.
func (a *adapter) timeout(d time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return a.c.opts.RequestsTimeout
}

// publish sends a message that needs no answer, logging a failure.
func (a *adapter) publish(w *writer) {
	if err := a.send(w, ""); err != nil && !errors.Is(err, ErrClosed) {
		a.c.log.Warn("natsadapter: cannot publish", "nsp", a.nsp.Name(), "err", err)
	}
}

// send publishes w on the namespace's subject, with reply as the inbox
// for answers when not empty. While the client reconnects, NATS keeps the
// message in its reconnect buffer; ErrUnavailable says that buffer is
// full.
func (a *adapter) send(w *writer, reply string) error {
	if max := a.c.nc.MaxPayload(); max > 0 && int64(len(w.b)) > max {
		return fmt.Errorf("%w: %d bytes, max_payload %d", ErrTooLarge, len(w.b), max)
	}
	return a.c.publishErr(a.c.nc.PublishMsg(&nats.Msg{Subject: a.subject, Reply: reply, Data: w.b}))
}

// respond answers a request on its reply inbox.
func (a *adapter) respond(reply string, w *writer) {
	if max := a.c.nc.MaxPayload(); max > 0 && int64(len(w.b)) > max {
		a.c.log.Warn("natsadapter: an answer is larger than max_payload", "nsp", a.nsp.Name(), "bytes", len(w.b), "max_payload", max)
		return
	}
	if err := a.c.publishErr(a.c.nc.Publish(reply, w.b)); err != nil && !errors.Is(err, ErrClosed) {
		a.c.log.Warn("natsadapter: cannot answer a request", "nsp", a.nsp.Name(), "err", err)
	}
}

// publishErr maps the client's publish errors to the package's.
func (c *Cluster) publishErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, nats.ErrConnectionClosed):
		return ErrClosed
	case errors.Is(err, nats.ErrReconnectBufExceeded):
		return ErrUnavailable
	}
	return fmt.Errorf("natsadapter: publishing: %w", err)
}

// ask publishes w with a reply inbox of its own and returns the inbox's
// subscription, on which the answers come.
func (a *adapter) ask(w *writer) (*nats.Subscription, error) {
	if !a.c.nc.IsConnected() {
		return nil, ErrUnavailable
	}
	inbox := a.c.nc.NewInbox()
	sub, err := a.c.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, a.c.publishErr(err)
	}
	if err := a.send(w, inbox); err != nil {
		_ = sub.Unsubscribe()
		return nil, err
	}
	return sub, nil
}

// request asks every other node and hands each one's first well-formed
// answer of answerType to answer (which reports whether it took it), until all have
// answered, timeout passes, ctx ends or the adapter closes.
func (a *adapter) request(ctx context.Context, w *writer, answerType byte, timeout time.Duration, what string, answer func(m message) bool) error {
	want := a.memberCount()
	if want == 0 {
		return nil
	}
	sub, err := a.ask(w)
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stop := context.AfterFunc(a.ctx, cancel)
	defer stop()
	answered := map[string]bool{}
	for len(answered) < want {
		nm, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			switch {
			case a.ctx.Err() != nil:
				return ErrClosed
			case errors.Is(err, nats.ErrNoResponders):
				// No other node subscribes: those counted are gone.
				a.forgetMembers()
				return nil
			case !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled):
				return fmt.Errorf("natsadapter: %s: %w", what, err)
			}
			return fmt.Errorf("natsadapter: %s: %d of %d nodes answered within %v: %w", what, len(answered), want, timeout, hub.ErrTimeout)
		}
		m, ok := decode(nm.Data)
		if !ok || answered[m.uid] || m.typ != answerType {
			continue
		}
		if answer(m) {
			answered[m.uid] = true
		}
	}
	return nil
}

// ackWait bounds the wait for other nodes' acks of a broadcast without a
// Timeout.
const ackWait = time.Minute

// collectAcks hands the other nodes' counts and acks of a broadcast to
// the hub, until every node has counted and every counted socket has
// answered or gone. A broadcast with a Timeout is ended by the hub when it
// passes; one without ends after ackWait with an error wrapping
// hub.ErrTimeout, or with ErrClosed when the adapter closes first.
func (a *adapter) collectAcks(sub *nats.Subscription, want int, timeout time.Duration, clientCount func(int), ack func(hub.Args, error)) {
	defer sub.Unsubscribe()
	life := timeout
	if life <= 0 {
		life = ackWait
	}
	ctx, cancel := context.WithTimeout(a.ctx, life)
	defer cancel()
	counts := map[string]int{}  // per node that counted: its targets
	answers := map[string]int{} // per node: its targets that answered or went
	pending := 0                // counted targets not yet answered
	for len(counts) < want || pending > 0 {
		nm, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			switch {
			case a.ctx.Err() != nil:
				ack(hub.Args{}, ErrClosed)
			case errors.Is(err, nats.ErrNoResponders):
				a.forgetMembers()
				ack(hub.Args{}, fmt.Errorf("natsadapter: the other nodes left before they answered: %w", hub.ErrUnavailable))
			case timeout <= 0:
				ack(hub.Args{}, fmt.Errorf("natsadapter: the other nodes' acks did not all come within %v: %w", ackWait, hub.ErrTimeout))
			}
			return
		}
		m, ok := decode(nm.Data)
		if !ok {
			continue
		}
		switch m.typ {
		case msgClientCount:
			if _, dup := counts[m.uid]; dup || len(counts) == want {
				continue
			}
			counts[m.uid] = int(m.n)
			pending += int(m.n)
			clientCount(int(m.n))
		case msgAck, msgGone:
			if n, ok := counts[m.uid]; !ok || answers[m.uid] >= n {
				continue // a node counts before it answers (broadcastForAcks)
			}
			answers[m.uid]++
			pending--
			if m.typ == msgGone {
				ack(hub.Args{}, fmt.Errorf("natsadapter: a socket on another node disconnected before it answered: %w", hub.ErrDisconnected))
			} else {
				ack(m.args, nil)
			}
		}
	}
}

// maxClientCount bounds a node's count of a broadcast's targets.
const maxClientCount = 1 << 30

// handle applies a message from another node of the namespace; a
// malformed one is dropped whole.
func (a *adapter) handle(nm *nats.Msg) {
	if nm.Reply == "" {
		// Every node of the namespace gets every broadcast: one for a
		// room with no member here costs only the reading of its room.
		if room, ok := singleRoom(nm.Data); ok && !a.local.HasRoom(room) {
			return
		}
	}
	m, ok := decode(nm.Data)
	if !ok || m.uid == a.c.uid {
		return
	}
	switch m.typ {
	case msgHello, msgHeartbeat:
		if a.heard(m.uid) && m.typ == msgHello {
			// A newcomer: let it count this node at once.
			a.publish(newMessage(msgHeartbeat, a.c.uid))
		}
	case msgBye:
		a.mu.Lock()
		delete(a.members, m.uid)
		a.mu.Unlock()
	case msgBroadcast:
		if sio.Reserved(m.event) {
			return
		}
		p := hub.NewPacket(a.nsp.Name(), m.event, m.args)
		if nm.Reply != "" {
			a.broadcastForAcks(nm.Reply, p, m.opts)
			return
		}
		_ = a.local.Broadcast(p, m.opts)
	case msgJoin:
		_ = a.local.AddSockets(m.opts, m.rooms)
	case msgLeave:
		_ = a.local.DelSockets(m.opts, m.rooms)
	case msgDisconnect:
		_ = a.local.DisconnectSockets(m.opts, m.close)
	case msgFetch:
		if nm.Reply == "" {
			return
		}
		rs, _ := a.local.FetchSockets(context.Background(), m.opts)
		if rs == nil {
			rs = []*hub.RemoteSocket{}
		}
		raw, err := json.Marshal(rs)
		if err != nil {
			a.c.log.Warn("natsadapter: cannot encode sockets", "err", err)
			return
		}
		w := newMessage(msgSockets, a.c.uid)
		w.bytes(raw)
		a.respond(nm.Reply, w)
	case msgRooms:
		if nm.Reply == "" {
			return
		}
		rooms, _ := a.local.Rooms(context.Background())
		w := newMessage(msgRoomList, a.c.uid)
		w.strs(rooms)
		a.respond(nm.Reply, w)
	case msgEmit:
		var ack func(hub.Args)
		if reply := nm.Reply; reply != "" {
			ack = func(v hub.Args) {
				w := newMessage(msgEmitAck, a.c.uid)
				w.args(firstArg(v))
				a.respond(reply, w)
			}
		}
		// A listener may take its time: it must not hold up the
		// namespace's other messages.
		go a.local.HandleServerSideEmit(m.event, m.args, ack)
	}
}

// broadcastForAcks delivers another node's broadcast with acks and
// answers on reply: the count first, then each socket's ack (an ack that
// comes before the count is held until the count is sent).
func (a *adapter) broadcastForAcks(reply string, p *hub.Packet, opts hub.BroadcastOptions) {
	var mu sync.Mutex
	counted := false
	var held []*writer
	answer := func(w *writer) {
		mu.Lock()
		if !counted {
			held = append(held, w)
			mu.Unlock()
			return
		}
		mu.Unlock()
		a.respond(reply, w)
	}
	count := func(w *writer) {
		a.respond(reply, w)
		mu.Lock()
		counted = true
		early := held
		held = nil
		mu.Unlock()
		for _, h := range early {
			a.respond(reply, h)
		}
	}
	_ = a.local.BroadcastWithAck(p, opts, func(n int) {
		w := newMessage(msgClientCount, a.c.uid)
		w.uint(uint64(n))
		count(w)
	}, func(v hub.Args, err error) {
		if err != nil {
			answer(newMessage(msgGone, a.c.uid))
			return
		}
		w := newMessage(msgAck, a.c.uid)
		w.args(firstArg(v))
		answer(w)
	})
}
