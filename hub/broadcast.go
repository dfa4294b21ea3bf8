package hub

import (
	"context"
	"slices"
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
// that answered (only the first argument crosses nodes), and ErrTimeout if
// some did not answer in time.
type BroadcastAckFunc func(responses []Args, err error)

// Emit sends an event to every targeted socket; the packet is encoded once
// for all. A trailing BroadcastAckFunc (or func([]Args, error)) collects
// the acks; set a Timeout with it, or it waits for every socket.
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
	return b.broadcastWithAck(p, ack)
}

// EmitArgs sends an event with arguments as they are, e.g. those of an
// event received from a client.
func (b BroadcastOperator) EmitArgs(event string, args Args) error {
	if sio.Reserved(event) {
		return ErrReserved
	}
	return b.nsp.adapter.Broadcast(NewPacket(b.nsp.name, event, args), b.options())
}

func (b BroadcastOperator) broadcastWithAck(p *Packet, ack BroadcastAckFunc) error {
	var (
		mu             sync.Mutex
		done           bool
		responses      []Args
		expectedNodes  = -1
		countedNodes   int
		expectedClient int
		timer          *time.Timer
	)
	finish := func(err error) {
		if done {
			return
		}
		done = true
		if timer != nil {
			timer.Stop()
		}
		r := responses
		go func() {
			defer b.nsp.srv.recoverPanic("a broadcast's ack callback", nil)
			ack(r, err)
		}()
	}
	check := func() {
		if expectedNodes == countedNodes && len(responses) == expectedClient {
			finish(nil)
		}
	}
	if d := b.flags.Timeout; d > 0 {
		mu.Lock()
		timer = time.AfterFunc(d, func() {
			mu.Lock()
			finish(ErrTimeout)
			mu.Unlock()
		})
		mu.Unlock()
	}
	err := b.nsp.adapter.BroadcastWithAck(p, b.options(), func(n int) {
		mu.Lock()
		expectedClient += n
		countedNodes++
		check()
		mu.Unlock()
	}, func(a Args) {
		mu.Lock()
		if !done {
			responses = append(responses, a)
			check()
		}
		mu.Unlock()
	})
	if err != nil {
		mu.Lock()
		finish(err)
		mu.Unlock()
		return err
	}
	nodes := 1
	if !b.flags.Local {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout(b.flags))
		nodes, err = b.nsp.adapter.ServerCount(ctx)
		cancel()
		if err != nil {
			mu.Lock()
			finish(err)
			mu.Unlock()
			return err
		}
	}
	mu.Lock()
	expectedNodes = nodes
	check()
	mu.Unlock()
	return nil
}

func requestTimeout(f BroadcastFlags) time.Duration {
	if f.Timeout > 0 {
		return f.Timeout
	}
	return 5 * time.Second
}

// EmitWithAck sends an event and waits for the acks of every targeted
// socket, until the Timeout or the end of ctx.
func (b BroadcastOperator) EmitWithAck(ctx context.Context, event string, args ...any) ([]Args, error) {
	type result struct {
		r   []Args
		err error
	}
	ch := make(chan result, 1)
	args = append(slices.Clip(args), BroadcastAckFunc(func(r []Args, err error) { ch <- result{r, err} }))
	if err := b.Emit(event, args...); err != nil {
		return nil, err
	}
	select {
	case res := <-ch:
		return res.r, res.err
	case <-ctx.Done():
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
