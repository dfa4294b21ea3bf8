package hub_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os/exec"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
)

// runShutdownScript runs testdata/client/shutdown.mjs against url and
// returns its lines by event name; a failed run fails the test.
func runShutdownScript(t *testing.T, url string, params map[string]any) map[string]compatObs {
	t.Helper()
	compatRequireClient(t)
	p, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "shutdown.mjs", url, string(p))
	cmd.Dir = compatClientDir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node shutdown.mjs %s: %v\nstderr:\n%s\nstdout:\n%s", p, err, stderr.String(), stdout.String())
	}
	lines := make(map[string]compatObs)
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var o compatObs
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			t.Fatalf("shutdown.mjs printed %q", sc.Text())
		}
		lines[o["ev"].(string)] = o
	}
	if lines["end"] == nil {
		t.Fatalf("shutdown.mjs did not finish:\n%s", stdout.String())
	}
	return lines
}

// TestCompatShutdown: with the real socket.io-client, on WebSocket and on
// long-polling, the events emitted just before Shutdown all arrive, in
// order; the client's disconnect reason is "transport close" (what Node's
// client shows when Node's io.close() ends its connection), so it tries
// to reconnect, and that attempt is refused (503 on polling) while the
// server shuts down; Shutdown returns nil with no connection left.
func TestCompatShutdown(t *testing.T) {
	const n = 100
	for _, tr := range []compatTransport{compatWebSocket, compatPolling} {
		t.Run(tr.name, func(t *testing.T) {
			srv := hub.New(hub.Options{})
			ts := httptest.NewServer(srv)
			defer ts.Close()
			shut := make(chan error, 1)
			serverReason := make(chan hub.DisconnectReason, 1)
			srv.OnConnection(func(s *hub.Socket) {
				s.OnDisconnect(func(r hub.DisconnectReason) { serverReason <- r })
				s.On("go", func(*hub.Event) {
					for i := range n {
						_ = s.Emit("tick", i)
					}
					go func() {
						ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
						defer cancel()
						shut <- srv.Shutdown(ctx)
					}()
				})
			})
			lines := runShutdownScript(t, ts.URL, map[string]any{"transports": tr.transports})

			if got := lines["connected"]["transport"]; got != tr.final {
				t.Errorf("client transport %v, want %s", got, tr.final)
			}
			d := lines["disconnect"]
			if d == nil {
				t.Fatal("the client saw no disconnect")
			}
			compatWant(t, "client: disconnect reason", d["reason"], "transport close")
			want := make([]any, n)
			for i := range want {
				want[i] = i
			}
			compatWant(t, "client: ticks received before the disconnect", d["ticks"], want)
			compatWant(t, "client: still active (reconnecting)", d["active"], true)
			if lines["reconnect_attempt"] == nil {
				t.Error("the client made no reconnection attempt")
			}
			if tr.name == "polling" {
				compatWant(t, "client: status of the refused reconnection", lines["reconnect_error"]["status"], 503)
			}
			select {
			case r := <-serverReason:
				if r != hub.ReasonServerShuttingDown {
					t.Errorf("server: disconnect reason %q, want %q", r, hub.ReasonServerShuttingDown)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("server: no disconnect")
			}
			select {
			case err := <-shut:
				if err != nil {
					t.Fatalf("Shutdown = %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("Shutdown did not return")
			}
			if c := srv.Connections(); c != 0 {
				t.Fatalf("Connections() = %d after Shutdown", c)
			}
		})
	}
}
