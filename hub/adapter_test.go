package hub_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
)

// spyAdapter wraps the memory adapter, records what the namespace asks of
// it, and plays a second node for acks and server-side emits.
type spyAdapter struct {
	hub.LocalAdapter
	mu     sync.Mutex
	calls  []string
	closed bool
	// remote answers a broadcast with ack as one socket of another node.
	remote *hub.Args
}

func (a *spyAdapter) log(format string, args ...any) {
	a.mu.Lock()
	a.calls = append(a.calls, fmt.Sprintf(format, args...))
	a.mu.Unlock()
}

func (a *spyAdapter) take() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.calls
	a.calls = nil
	return c
}

func optsString(o hub.BroadcastOptions) string {
	return fmt.Sprintf("rooms=%s except=%s local=%v volatile=%v compress=%v timeout=%v",
		strings.Join(o.Rooms, ","), strings.Join(o.Except, ","), o.Flags.Local, o.Flags.Volatile, o.Flags.Compress, o.Flags.Timeout)
}

func (a *spyAdapter) AddAll(s *hub.Socket, rooms []string) {
	a.log("AddAll %s", strings.Join(rooms, ","))
	a.LocalAdapter.AddAll(s, rooms)
}

func (a *spyAdapter) Del(s *hub.Socket, room string) {
	a.log("Del %s", room)
	a.LocalAdapter.Del(s, room)
}

func (a *spyAdapter) DelAll(s *hub.Socket) {
	a.log("DelAll")
	a.LocalAdapter.DelAll(s)
}

func (a *spyAdapter) Broadcast(p *hub.Packet, o hub.BroadcastOptions) error {
	a.log("Broadcast %s %s %s %s", p.Nsp, p.Event, p.Args.JSON(), optsString(o))
	return a.LocalAdapter.Broadcast(p, o)
}

func (a *spyAdapter) BroadcastWithAck(p *hub.Packet, o hub.BroadcastOptions, count func(int), ack func(hub.Args, error)) error {
	a.log("BroadcastWithAck %s %s", p.Event, optsString(o))
	if err := a.LocalAdapter.BroadcastWithAck(p, o, count, ack); err != nil {
		return err
	}
	if a.remote != nil && !o.Flags.Local {
		go func() {
			count(1)
			ack(*a.remote, nil)
		}()
	}
	return nil
}

func (a *spyAdapter) ServerCount(ctx context.Context) (int, error) {
	a.log("ServerCount")
	if a.remote != nil {
		return 2, nil
	}
	return 1, nil
}

func (a *spyAdapter) ServerSideEmit(ctx context.Context, event string, args hub.Args, wantAck bool) ([]hub.Args, error) {
	a.log("ServerSideEmit %s %s %v", event, args.JSON(), wantAck)
	if !wantAck {
		return nil, nil
	}
	r, _ := hub.NewArgs("remote answer")
	return []hub.Args{r}, nil
}

func (a *spyAdapter) Close() error {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	return errors.New("spy closed")
}

func spyServer(t *testing.T) (*hub.Server, string, map[string]*spyAdapter) {
	t.Helper()
	var mu sync.Mutex
	spies := map[string]*spyAdapter{}
	srv, url := hubServer(t, hub.Options{Adapter: func(n *hub.Namespace, local hub.LocalAdapter) (hub.Adapter, error) {
		a := &spyAdapter{LocalAdapter: local}
		mu.Lock()
		spies[n.Name()] = a
		mu.Unlock()
		return a, nil
	}})
	return srv, url, spies
}

// The namespace goes through Options.Adapter for memberships and
// broadcasts, with the operator's options.
func TestAdapterCalls(t *testing.T) {
	srv, url, spies := spyServer(t)
	spy := spies["/"]
	if srv.Of("/").Adapter() != hub.Adapter(spy) {
		t.Fatal("namespace does not use the adapter made by Options.Adapter")
	}
	c := hubDial(t, url)
	id := hubConnect(t, c, "/", nil)
	s := hubSocket(t, srv.Of("/"), id)
	if got := spy.take(); !slices.Equal(got, []string{"AddAll " + id}) {
		t.Errorf("connect: %q", got)
	}
	_ = s.Join("a", "b")
	_ = s.Leave("a")
	_ = srv.To("a", "b").Except("c").Volatile().Compress(true).Emit("x", 1)
	_ = s.Broadcast().To("b").Local().Emit("y")
	_ = srv.Timeout(time.Second).Emit("z")
	want := []string{
		"AddAll a,b",
		"Del a",
		"Broadcast / x [1] rooms=a,b except=c local=false volatile=true compress=true timeout=0s",
		"Broadcast / y [] rooms=b except=" + id + " local=true volatile=false compress=false timeout=0s",
		"Broadcast / z [] rooms= except= local=false volatile=false compress=false timeout=1s",
	}
	if got := spy.take(); !slices.Equal(got, want) {
		t.Errorf("calls\n %q\nwant\n %q", got, want)
	}
	// A socket's own emit does not go through the adapter.
	_ = s.Emit("direct")
	if got := spy.take(); len(got) != 0 {
		t.Errorf("Socket.Emit used the adapter: %q", got)
	}
	_ = c.Disconnect("/")
	waitUntil(t, func() bool { return srv.Of("/").Len() == 0 }, "socket gone")
	if got := spy.take(); !slices.Equal(got, []string{"DelAll"}) {
		t.Errorf("disconnect: %q", got)
	}
	// Close reports the adapter's error and closes every namespace's.
	srv.Of("/other")
	if err := srv.Close(); err == nil || err.Error() != "spy closed" {
		t.Errorf("Close() = %v", err)
	}
	for name, a := range spies {
		a.mu.Lock()
		if !a.closed {
			t.Errorf("adapter of %s not closed", name)
		}
		a.mu.Unlock()
	}
}

// A broadcast with acks waits for every node the adapter counts, and for
// the clients each node reports.
func TestAdapterBroadcastAckAcrossNodes(t *testing.T) {
	srv, url, spies := spyServer(t)
	spy := spies["/"]
	remote, _ := hub.NewArgs("from node 2")
	spy.remote = &remote
	c := hubDial(t, url)
	hubConnect(t, c, "/", nil)
	answer(t, c, "local")
	rs, err := srv.Timeout(testWait).EmitWithAck(t.Context(), "q")
	if got := ackStrings(t, rs); err != nil || !slices.Equal(got, []string{"from node 2", "local"}) {
		t.Errorf("responses %q, %v", got, err)
	}
	calls := spy.take()
	if !slices.Contains(calls, "ServerCount") {
		t.Errorf("ServerCount not asked: %q", calls)
	}
	// Local: this node only, no node count.
	rs, err = srv.Local().Timeout(testWait).EmitWithAck(t.Context(), "q")
	if got := ackStrings(t, rs); err != nil || !slices.Equal(got, []string{"local"}) {
		t.Errorf("local responses %q, %v", got, err)
	}
	if calls := spy.take(); slices.Contains(calls, "ServerCount") {
		t.Errorf("Local broadcast asked ServerCount: %q", calls)
	}
}

// Server-side emits go to the adapter (never to this node's listeners);
// events from other nodes reach OnServerSideEmit, answered once.
func TestServerSideEmit(t *testing.T) {
	srv, _, spies := spyServer(t)
	spy := spies["/"]
	var rec strLog
	srv.OnServerSideEmit("hello", func(ev *hub.ServerEvent) {
		rec.add("local listener " + ev.Name)
	})
	if err := srv.ServerSideEmit("hello", 1, "<&>"); err != nil {
		t.Fatal(err)
	}
	rs, err := srv.ServerSideEmitWithAck(t.Context(), "hello")
	if err != nil || len(rs) != 1 || string(rs[0].JSON()) != `["remote answer"]` {
		t.Errorf("ServerSideEmitWithAck = %v, %v", rs, err)
	}
	if got := spy.take(); !slices.Equal(got, []string{`ServerSideEmit hello [1,"<&>"] false`, `ServerSideEmit hello [] true`}) {
		t.Errorf("calls %q", got)
	}
	if got := rec.get(); len(got) != 0 {
		t.Errorf("delivered locally: %q", got)
	}

	nsp := srv.Of("/")
	answers := make(chan string, 2)
	nsp.OnServerSideEmit("ask", func(ev *hub.ServerEvent) {
		var n int
		_ = ev.Args.Bind(&n)
		answers <- fmt.Sprintf("wants=%v n=%d first=%v second=%v", ev.WantsAck(), n, ev.Ack(n+1), ev.Ack(0))
	})
	args, _ := hub.NewArgs(41)
	var acked []string
	// As a cluster adapter delivers an event from another node.
	spy.HandleServerSideEmit("ask", args, func(a hub.Args) { acked = append(acked, string(a.JSON())) })
	if got := <-answers; got != "wants=true n=41 first=<nil> second="+hub.ErrNoAck.Error() {
		t.Errorf("listener: %s", got)
	}
	if !slices.Equal(acked, []string{"[42]"}) {
		t.Errorf("answers %q", acked)
	}
	spy.HandleServerSideEmit("ask", args, nil)
	if got := <-answers; !strings.HasPrefix(got, "wants=false") {
		t.Errorf("without ack: %s", got)
	}
	spy.HandleServerSideEmit("nobody-listens", args, nil)
}
