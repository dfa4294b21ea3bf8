package hub_test

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/testclient"
)

type ackResult struct {
	args hub.Args
	err  error
}

// ackPair is one client and its server socket.
func ackPair(t *testing.T) (*hub.Server, *testclient.Client, *hub.Socket) {
	t.Helper()
	srv, url := hubServer(t, hub.Options{})
	c := hubDial(t, url)
	id := hubConnect(t, c, "/", nil)
	return srv, c, hubSocket(t, srv.Of("/"), id)
}

// Emit with an AckFunc asks the client for an ack; its answer reaches the
// function once, whatever the client sends after.
func TestServerAck(t *testing.T) {
	_, c, s := ackPair(t)
	results := make(chan ackResult, 4)
	err := s.Emit("q", 1, "two", hub.AckFunc(func(a hub.Args, err error) { results <- ackResult{a, err} }))
	if err != nil {
		t.Fatal(err)
	}
	p := nextEvent(t, c, "/")
	if p.ID < 0 || p.Text != "42"+itoa(p.ID)+`["q",1,"two"]` {
		t.Fatalf("got %s", p.Text)
	}
	_ = c.Ack("/", p.ID, "r", map[string]any{"ok": true})
	_ = c.Ack("/", p.ID, "duplicate")
	r := <-results
	if r.err != nil || string(r.args.JSON()) != `["r",{"ok":true}]` {
		t.Errorf("ack = %s, %v", r.args.JSON(), r.err)
	}

	// A plain func(Args, error) works too; binary answers keep their
	// attachments.
	_ = s.Emit("bin", func(a hub.Args, err error) { results <- ackResult{a, err} })
	p = nextEvent(t, c, "/")
	_ = c.Ack("/", p.ID, []byte{1, 2}, "x")
	r = <-results
	var b []byte
	var x string
	if r.err != nil || r.args.Bind(&b, &x) != nil || !bytes.Equal(b, []byte{1, 2}) || x != "x" {
		t.Errorf("binary ack = %s %v, %v", r.args.JSON(), r.args.Attachments(), r.err)
	}
	select {
	case r := <-results:
		t.Errorf("ack function called again: %s %v", r.args.JSON(), r.err)
	default:
	}
	// An ack for an id nobody waits for is ignored.
	_ = c.Ack("/", 999, "stray")
	_ = s.Emit("still-open")
	if p := nextEvent(t, c, "/"); p.Event != "still-open" {
		t.Errorf("got %s", p.Text)
	}
}

// Ack ids come from one counter per namespace.
func TestServerAckIDs(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	c1, c2 := hubDial(t, url), hubDial(t, url)
	s1 := hubSocket(t, srv.Of("/"), hubConnect(t, c1, "/", nil))
	s2 := hubSocket(t, srv.Of("/"), hubConnect(t, c2, "/", nil))
	noop := hub.AckFunc(func(hub.Args, error) {})
	_ = s1.Emit("a", noop)
	_ = s2.Emit("b", noop)
	_ = s1.Emit("c", noop)
	_ = s1.Emit("plain")
	p1, p2, p3, p4 := nextEvent(t, c1, "/"), nextEvent(t, c2, "/"), nextEvent(t, c1, "/"), nextEvent(t, c1, "/")
	if p1.ID != 0 || p2.ID != 1 || p3.ID != 2 || p4.ID != testclient.NoID {
		t.Errorf("ids %d %d %d %d, want 0 1 2 none", p1.ID, p2.ID, p3.ID, p4.ID)
	}
}

// An ack that does not come in time fails with ErrTimeout; a late answer
// is then ignored.
func TestServerAckTimeout(t *testing.T) {
	_, c, s := ackPair(t)
	results := make(chan ackResult, 2)
	_ = s.Timeout(50*time.Millisecond).Emit("q", hub.AckFunc(func(a hub.Args, err error) { results <- ackResult{a, err} }))
	p := nextEvent(t, c, "/")
	r := <-results
	if !errors.Is(r.err, hub.ErrTimeout) || r.args.Len() != 0 {
		t.Errorf("got %s, %v; want ErrTimeout", r.args.JSON(), r.err)
	}
	_ = c.Ack("/", p.ID, "late")
	// Answered in time, the timeout does not fire afterwards.
	_ = s.Timeout(time.Hour).Emit("q2", hub.AckFunc(func(a hub.Args, err error) { results <- ackResult{a, err} }))
	p = nextEvent(t, c, "/")
	_ = c.Ack("/", p.ID, "fast")
	if r := <-results; r.err != nil || string(r.args.JSON()) != `["fast"]` {
		t.Errorf("got %s, %v", r.args.JSON(), r.err)
	}
	_, err := s.Emitter().Timeout(20*time.Millisecond).EmitWithAck(t.Context(), "q3")
	if !errors.Is(err, hub.ErrTimeout) {
		t.Errorf("EmitWithAck with a timeout: %v", err)
	}
	select {
	case r := <-results:
		t.Errorf("extra ack call: %s %v", r.args.JSON(), r.err)
	default:
	}
}

// A pending ack fails with ErrDisconnected when the socket goes, and an
// emit on a disconnected socket fails at once.
func TestServerAckDisconnected(t *testing.T) {
	for _, how := range []string{"client namespace disconnect", "transport close", "server disconnect"} {
		_, c, s := ackPair(t)
		results := make(chan ackResult, 4)
		fn := hub.AckFunc(func(a hub.Args, err error) { results <- ackResult{a, err} })
		_ = s.Emit("q", fn)
		_ = s.Timeout(time.Hour).Emit("q", fn)
		nextEvent(t, c, "/")
		nextEvent(t, c, "/")
		switch how {
		case "client namespace disconnect":
			_ = c.Disconnect("/")
		case "transport close":
			c.Close()
		case "server disconnect":
			s.Disconnect(false)
		}
		for range 2 {
			if r := <-results; !errors.Is(r.err, hub.ErrDisconnected) {
				t.Errorf("%s: pending ack got %v, want ErrDisconnected", how, r.err)
			}
		}
		waitUntil(t, func() bool { return !s.Connected() }, "socket disconnected")
		_ = s.Emit("after", fn)
		if r := <-results; !errors.Is(r.err, hub.ErrDisconnected) {
			t.Errorf("%s: emit after disconnect got %v", how, r.err)
		}
		if _, err := s.EmitWithAck(t.Context(), "after"); !errors.Is(err, hub.ErrDisconnected) {
			t.Errorf("%s: EmitWithAck after disconnect: %v", how, err)
		}
		if err := s.Emit("plain"); err != nil {
			t.Errorf("%s: plain emit after disconnect: %v", how, err)
		}
	}
}

// EmitWithAck waits for the answer or the end of ctx.
func TestServerEmitWithAck(t *testing.T) {
	_, c, s := ackPair(t)
	go func() {
		p, err := c.WaitEvent("/", "q", testWait)
		if err == nil {
			_ = c.Ack("/", p.ID, "answer", 42)
		}
	}()
	a, err := s.EmitWithAck(t.Context(), "q", "x")
	if err != nil || string(a.JSON()) != `["answer",42]` {
		t.Errorf("EmitWithAck = %s, %v", a.JSON(), err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	if _, err := s.EmitWithAck(ctx, "silent"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("EmitWithAck with an ending ctx: %v", err)
	}
	cctx, ccancel := context.WithCancel(t.Context())
	ccancel()
	if _, err := s.EmitWithAck(cctx, "cancelled"); !errors.Is(err, context.Canceled) {
		t.Errorf("EmitWithAck with a cancelled ctx: %v", err)
	}
	if _, err := s.EmitWithAck(t.Context(), "bad", make(chan int)); err == nil {
		t.Error("EmitWithAck with an unencodable argument: no error")
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
