package hub_test

// A listener that waits for the acks of its own client, with the real
// socket.io-client (hub/testdata/client/handlers.mjs): Node's server
// answers at once, and so must the hub.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
)

// runHandlersScript runs handlers.mjs scenario against url and returns what
// it printed; a failed run fails the test.
func runHandlersScript(t *testing.T, scenario, url string, params map[string]any) *compatRun {
	t.Helper()
	compatRequireClient(t)
	p, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "handlers.mjs", scenario, url, string(p))
	cmd.Dir = compatClientDir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node handlers.mjs %s %s: %v\nstderr:\n%s\nstdout:\n%s", scenario, p, err, stderr.String(), compatTruncate(stdout.String(), 4000))
	}
	r := &compatRun{scenario: scenario, raw: stdout.String()}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var o compatObs
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			t.Fatalf("handlers.mjs printed a line that is not JSON: %q", compatTruncate(sc.Text(), 300))
		}
		r.lines = append(r.lines, o)
	}
	if len(r.lines) == 0 || r.lines[len(r.lines)-1]["ev"] != "end" {
		t.Fatalf("handlers.mjs %s did not finish; stdout:\n%s\nstderr:\n%s", scenario, compatTruncate(r.raw, 4000), stderr.String())
	}
	return r
}

// handlerAckServer serves the listeners of handlers.mjs's scenarios.
func handlerAckServer(t *testing.T) string {
	t.Helper()
	srv := hub.New(hub.Options{})
	srv.OnConnection(func(s *hub.Socket) {
		// cmd asks its own client, and answers with what came back.
		s.On("cmd", func(ev *hub.Event) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			args, err := s.EmitWithAck(ctx, "hello", "there")
			if err != nil {
				_ = ev.Ack(map[string]any{"error": err.Error()})
				return
			}
			var got string
			_ = args.Bind(&got)
			_ = ev.Ack(map[string]any{"answer": got})
		})
		// cmd-all asks every client, its own included.
		s.On("cmd-all", func(ev *hub.Event) {
			answers, err := srv.Timeout(5*time.Second).EmitWithAck(context.Background(), "hello", "all")
			out := map[string]any{"answers": len(answers)}
			if err != nil {
				out["error"] = err.Error()
			}
			_ = ev.Ack(out)
		})
	})
	return serveCompat(t, srv)
}

// TestHandlerAwaitsOwnClientsAck: a listener that emits to its own client
// and waits for the ack gets it, on every transport.
func TestHandlerAwaitsOwnClientsAck(t *testing.T) {
	url := handlerAckServer(t)
	for _, tr := range []compatTransport{compatWebSocket, compatPolling, compatDefault} {
		t.Run(tr.name, func(t *testing.T) {
			r := runHandlersScript(t, "cmd", url, map[string]any{"transports": tr.transports})
			r.one(t, "hello", "client", 0.0, "arg", "there")
			compatWant(t, "the reply to cmd", r.one(t, "reply")["value"], map[string]any{"answer": "hi there"})
		})
	}
}

// TestHandlerAwaitsBroadcastAcks: a listener that broadcasts with acks to
// every client gets every answer, its own client's included.
func TestHandlerAwaitsBroadcastAcks(t *testing.T) {
	url := handlerAckServer(t)
	for _, tr := range []compatTransport{compatWebSocket, compatPolling} {
		t.Run(tr.name, func(t *testing.T) {
			r := runHandlersScript(t, "cmd-all", url, map[string]any{"transports": tr.transports, "clients": 3})
			if n := len(r.all("hello", "arg", "all")); n != 3 {
				t.Fatalf("%d clients got hello, want 3", n)
			}
			compatWant(t, "the reply to cmd-all", r.one(t, "reply")["value"], map[string]any{"answers": 3})
		})
	}
}
