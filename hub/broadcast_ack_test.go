package hub_test

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
)

// runBroadcastAcks serves a hub to the four clients of
// testdata/client/broadcast_acks.mjs (a and b answer, c leaves the
// namespace and d closes its connection before answering), runs ask once
// they are connected, and checks what it returns: a and b's answers, and
// an error wrapping ErrDisconnected that names c and d. No timeout has to
// pass for the broadcast to end: a bounded wait (10 s) that ends first
// fails the test.
func runBroadcastAcks(t *testing.T, ask func(ctx context.Context, srv *hub.Server) ([]hub.Args, error)) {
	t.Helper()
	compatRequireClient(t)
	srv := hub.New(hub.Options{})
	var mu sync.Mutex
	sockets := map[string]*hub.Socket{}
	connected := make(chan struct{}, 4)
	srv.OnConnection(func(s *hub.Socket) {
		name, _ := compatAuth(s, "name").(string)
		mu.Lock()
		sockets[name] = s
		mu.Unlock()
		connected <- struct{}{}
	})
	url := serveCompat(t, srv)

	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "broadcast_acks.mjs", url)
	cmd.Dir = compatClientDir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for range 4 {
		select {
		case <-connected:
		case err := <-exited:
			t.Fatalf("the client script exited before its clients connected: %v\nstderr:\n%s", err, stderr.String())
		case <-time.After(10 * time.Second):
			t.Fatalf("the clients did not connect within 10 s\nstderr:\n%s", stderr.String())
		}
	}

	askCtx, askCancel := context.WithTimeout(ctx, 10*time.Second)
	answers, err := ask(askCtx, srv)
	askCancel()
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the broadcast did not end within 10 s, though every target answered or disconnected")
	}
	var got []string
	for _, a := range answers {
		got = append(got, string(a.JSON()))
	}
	slices.Sort(got)
	if want := []string{`["a:1"]`, `["b:1"]`}; !slices.Equal(got, want) {
		t.Errorf("answers %q, want %q", got, want)
	}
	mu.Lock()
	idC, idD, a := sockets["c"].ID(), sockets["d"].ID(), sockets["a"]
	mu.Unlock()
	if !errors.Is(err, hub.ErrDisconnected) {
		t.Errorf("error %v, want one wrapping ErrDisconnected", err)
	} else if msg := err.Error(); !strings.Contains(msg, idC) || !strings.Contains(msg, idD) || !strings.Contains(msg, "2 of 4") {
		t.Errorf("error %q does not say that 2 of 4 sockets, %s and %s, disconnected", msg, idC, idD)
	}

	if err := a.Emit("done"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil || !strings.Contains(stdout.String(), `"ev":"end"`) {
			t.Fatalf("client script: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("the client script did not exit\nstderr:\n%s", stderr.String())
	}
}

// A broadcast with acks and no timeout ends once every target has answered
// or disconnected: the disconnected ones count as answered with an error.
func TestBroadcastAckTargetsDisconnectNoTimeout(t *testing.T) {
	runBroadcastAcks(t, func(ctx context.Context, srv *hub.Server) ([]hub.Args, error) {
		return srv.EmitWithAck(ctx, "question", 1)
	})
}

// With a Timeout far away the callback comes when the last target has
// answered or gone, with the disconnect error, not ErrTimeout.
func TestBroadcastAckTargetsDisconnectCallback(t *testing.T) {
	runBroadcastAcks(t, func(ctx context.Context, srv *hub.Server) ([]hub.Args, error) {
		type result struct {
			r   []hub.Args
			err error
		}
		ch := make(chan result, 1)
		err := srv.Timeout(time.Hour).Emit("question", 1, hub.BroadcastAckFunc(func(r []hub.Args, err error) {
			ch <- result{r, err}
		}))
		if err != nil {
			return nil, err
		}
		select {
		case res := <-ch:
			if errors.Is(res.err, hub.ErrTimeout) {
				return res.r, errors.New("the broadcast ended on its timeout")
			}
			return res.r, res.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
}
