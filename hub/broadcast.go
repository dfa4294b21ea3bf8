package hub

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hubd/hubd/hub/internal/sio"
)

// BroadcastOperator targets a set of sockets: those in any of the chosen
// rooms (every socket of the namespace when no room is chosen) and in none
// of the excepted ones. Each method returns a new operator; the zero value
// is not usable.
type BroadcastOperator struct {
	nsp    *Namespace
	rooms  []string
	except []string
	flags  BroadcastFlags
}

// To adds rooms to the target.
func (b BroadcastOperator) To(rooms ...string) BroadcastOperator {
	b.rooms = append(slices.Clip(b.rooms), rooms...)
	return b
}

// In is To.
func (b BroadcastOperator) In(rooms ...string) BroadcastOperator { return b.To(rooms...) }

// Except leaves out the sockets in rooms (a socket id names one socket).
func (b BroadcastOperator) Except(rooms ...string) BroadcastOperator {
	b.except = append(slices.Clip(b.except), rooms...)
	return b
}

// Volatile drops the event for sockets that cannot take it at once.
func (b BroadcastOperator) Volatile() BroadcastOperator { b.flags.Volatile = true; return b }

// Compress sets the compress flag.
func (b BroadcastOperator) Compress(on bool) BroadcastOperator { b.flags.Compress = on; return b }

// Local keeps the broadcast on this node.
func (b BroadcastOperator) Local() BroadcastOperator { b.flags.Local = true; return b }

// Timeout bounds the wait for acks.
func (b BroadcastOperator) Timeout(d time.Duration) BroadcastOperator { b.flags.Timeout = d; return b }

func (b BroadcastOperator) options() BroadcastOptions {
	return BroadcastOptions{Rooms: b.rooms, Except: b.except, Flags: b.flags}
}

// BroadcastAckFunc receives the acks of a broadcast: one Args per socket
// that answered (only the first argument crosses nodes), in the order they
// came, and an error when not every targeted socket answered. The error is
//   - ErrTimeout when the Timeout passed first: responses hold the answers
//     that came in time, as the reference's callback gets them;
//   - an error wrapping ErrDisconnected, naming the sockets (those of this
//     node; other nodes' by count), when targets disconnected before they
//     answered: such a target counts as answered, so the callback comes as
//     soon as every other target has answered, with their responses;
//   - the adapter's error when the other nodes cannot be reached or stop
//     answering (with a cluster adapter).
//
// The callback is called once, on a goroutine of its own.
type BroadcastAckFunc func(responses []Args, err error)

// Emit sends an event to every targeted socket; the packet is encoded once
// for all. A trailing BroadcastAckFunc (or func([]Args, error)) collects
// the acks; without a Timeout it waits until every target has answered or
// disconnected.
func (b BroadcastOperator) Emit(event string, args ...any) error {
	var ack BroadcastAckFunc
	if n := len(args); n > 0 {
		switch fn := args[n-1].(type) {
		case BroadcastAckFunc:
			ack, args = fn, args[:n-1]
		case func([]Args, error):
			ack, args = fn, args[:n-1]
		}
	}
	if sio.Reserved(event) {
		return ErrReserved
	}
	a, err := NewArgs(args...)
	if err != nil {
		return err
	}
	p := NewPacket(b.nsp.name, event, a)
	if ack == nil {
		return b.nsp.adapter.Broadcast(p, b.options())
	}
	_, err = b.broadcastWithAck(p, ack)
	return err
}

// EmitArgs sends an event with arguments as they are, e.g. those of an
// event received from a client.
func (b BroadcastOperator) EmitArgs(event string, args Args) error {
	if sio.Reserved(event) {
		return ErrReserved
	}
	return b.nsp.adapter.Broadcast(NewPacket(b.nsp.name, event, args), b.options())
}

// ackCollector gathers the acks of one broadcast, as the reference's
// BroadcastOperator.emit does (expected servers and clients against the
// counts and responses that came), with targets that disconnected counted
// as answered.
type ackCollector struct {
	nsp *Namespace
	p   *Packet
	cb  BroadcastAckFunc

	mu             sync.Mutex
	done           bool
	responses      []Args
	unanswered     []string // ids of local targets that disconnected
	unknown        int      // targets elsewhere that disconnected
	expectedNodes  int      // -1 until ServerCount answers
	countedNodes   int
	expectedClient int
	timer          *time.Timer
}

// finishLocked calls the callback once; c.mu is held. When the broadcast
// ends before every target answered (its timeout, an adapter's error),
// this node's targets first forget its ack, as the reference's timer
// deletes it from every socket's acks: a late answer is dropped, and
// nothing stays in their ack tables.
func (c *ackCollector) finishLocked(err error) {
	if c.done {
		return
	}
	c.done = true
	if c.timer != nil {
		c.timer.Stop()
	}
	r, cb := c.responses, c.cb
	early := err != nil
	if err == nil {
		err = c.unansweredErr()
	}
	go func() {
		defer c.nsp.srv.recoverPanic("a broadcast's ack callback", nil)
		if early {
			c.nsp.local.endAcks(c.p)
		}
		cb(r, err)
	}()
}

// abandon ends the broadcast without calling the callback (its waiter is
// gone) and has this node's targets forget its ack.
func (c *ackCollector) abandon() {
	c.mu.Lock()
	done := c.done
	c.done = true
	if c.timer != nil {
		c.timer.Stop()
	}
	c.mu.Unlock()
	if !done {
		c.nsp.local.endAcks(c.p)
	}
}

func (c *ackCollector) finish(err error) {
	c.mu.Lock()
	c.finishLocked(err)
	c.mu.Unlock()
}

// checkLocked ends the broadcast once every node has counted its targets
// and every target has answered or gone.
func (c *ackCollector) checkLocked() {
	answered := len(c.responses) + len(c.unanswered) + c.unknown
	if c.expectedNodes == c.countedNodes && answered == c.expectedClient {
		c.finishLocked(nil)
	}
}

func (c *ackCollector) count(n int) {
	c.mu.Lock()
	c.expectedClient += n
	c.countedNodes++
	c.checkLocked()
	c.mu.Unlock()
}

func (c *ackCollector) ack(a Args, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		return
	}
	var gone *unansweredError
	switch {
	case err == nil:
		c.responses = append(c.responses, a)
	case errors.As(err, &gone):
		c.unanswered = append(c.unanswered, gone.id)
	case errors.Is(err, ErrDisconnected):
		c.unknown++
	default:
		c.finishLocked(err)
		return
	}
	c.checkLocked()
}

// maxNamed bounds the socket ids an unanswered broadcast's error names.
const maxNamed = 10

// unansweredErr is nil when every target answered, else the error naming
// those that disconnected first; c.mu is held.
func (c *ackCollector) unansweredErr() error {
	n := len(c.unanswered) + c.unknown
	if n == 0 {
		return nil
	}
	var b strings.Builder
	for i, id := range c.unanswered {
		if i == maxNamed {
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(id)
	}
	if rest := n - min(len(c.unanswered), maxNamed); rest > 0 {
		if b.Len() > 0 {
			b.WriteString(" and ")
		}
		fmt.Fprintf(&b, "%d more", rest)
	}
	return fmt.Errorf("hub: %d of %d sockets disconnected before answering (%s): %w",
		n, c.expectedClient, b.String(), ErrDisconnected)
}

// broadcastWithAck sends p asking for acks; the collector it returns
// calls ack once.
func (b BroadcastOperator) broadcastWithAck(p *Packet, ack BroadcastAckFunc) (*ackCollector, error) {
	c := &ackCollector{nsp: b.nsp, p: p, cb: ack, expectedNodes: -1}
	if d := b.flags.Timeout; d > 0 {
		c.mu.Lock()
		c.timer = time.AfterFunc(d, func() { c.finish(ErrTimeout) })
		c.mu.Unlock()
	}
	if err := b.nsp.adapter.BroadcastWithAck(p, b.options(), c.count, c.ack); err != nil {
		c.finish(err)
		return c, err
	}
	nodes := 1
	if !b.flags.Local {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout(b.flags))
		var err error
		nodes, err = b.nsp.adapter.ServerCount(ctx)
		cancel()
		if err != nil {
			c.finish(err)
			return c, err
		}
	}
	c.mu.Lock()
	c.expectedNodes = nodes
	c.checkLocked()
	c.mu.Unlock()
	return c, nil
}

func requestTimeout(f BroadcastFlags) time.Duration {
	if f.Timeout > 0 {
		return f.Timeout
	}
	return 5 * time.Second
}

// EmitWithAck sends an event and waits for the acks of every targeted
// socket, until the Timeout or the end of ctx. It returns the answers that
// came and, when some did not, the error a BroadcastAckFunc would get: a
// target that disconnected before answering ends the wait as an answer
// would (the error wraps ErrDisconnected and names it). When ctx ends
// first, this node's targets forget the ack: answers that come later are
// dropped.
func (b BroadcastOperator) EmitWithAck(ctx context.Context, event string, args ...any) ([]Args, error) {
	if sio.Reserved(event) {
		return nil, ErrReserved
	}
	a, err := NewArgs(args...)
	if err != nil {
		return nil, err
	}
	type result struct {
		r   []Args
		err error
	}
	ch := make(chan result, 1)
	c, err := b.broadcastWithAck(NewPacket(b.nsp.name, event, a), func(r []Args, err error) { ch <- result{r, err} })
	if err != nil {
		return nil, err
	}
	select {
	case res := <-ch:
		return res.r, res.err
	case <-ctx.Done():
		c.abandon()
		return nil, ctx.Err()
	}
}

// FetchSockets describes the targeted sockets, on every node.
func (b BroadcastOperator) FetchSockets(ctx context.Context) ([]*RemoteSocket, error) {
	out, err := b.nsp.adapter.FetchSockets(ctx, b.options())
	for _, r := range out {
		r.nsp = b.nsp
	}
	return out, err
}

// SocketsJoin makes the targeted sockets join rooms.
func (b BroadcastOperator) SocketsJoin(rooms ...string) error {
	return b.nsp.adapter.AddSockets(b.options(), rooms)
}

// SocketsLeave makes the targeted sockets leave rooms.
func (b BroadcastOperator) SocketsLeave(rooms ...string) error {
	return b.nsp.adapter.DelSockets(b.options(), rooms)
}

// DisconnectSockets disconnects the targeted sockets; with close, their
// whole connections.
func (b BroadcastOperator) DisconnectSockets(close bool) error {
	return b.nsp.adapter.DisconnectSockets(b.options(), close)
}
