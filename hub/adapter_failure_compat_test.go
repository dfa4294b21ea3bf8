package hub_test

import (
	"errors"
	"io"
	"log/slog"
	"regexp"
	"sync/atomic"
	"testing"

	"github.com/hubd/hubd/hub"
)

// TestCompatAdapterFailure: the real socket.io-client asking for a dynamic
// namespace whose adapter cannot be made gets a connect_error (and does
// not retry by itself); asking again once the adapter can be made, it
// connects. The connection and its main namespace stay up throughout.
func TestCompatAdapterFailure(t *testing.T) {
	t.Parallel()
	for _, tr := range []compatTransport{compatWebSocket, compatPolling} {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			srv := hub.New(hub.Options{
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
				Adapter: func(n *hub.Namespace, local hub.LocalAdapter) (hub.Adapter, error) {
					if n.Name() == "/flaky-1" && calls.Add(1) == 1 {
						return nil, errors.New("broker down")
					}
					return local, nil
				},
			})
			hello := func(s *hub.Socket) { _ = s.Emit("hello", s.Namespace().Name()) }
			srv.OnConnection(func(s *hub.Socket) {
				s.On("ping", func(ev *hub.Event) { _ = ev.Ack("pong") })
			})
			srv.OfPattern(regexp.MustCompile(`^/flaky-[0-9]+$`)).OnConnection(hello)
			srv.Of("/private").OnConnection(hello)
			url := serveCompat(t, srv)
			attempts := [][]any{{"/flaky-1", nil}, {"/flaky-1", nil}}
			run := runCompatDriver(t, "middleware", url, map[string]any{"transports": tr.transports, "attempts": attempts})

			results := run.all("result", "nsp", "/flaky-1")
			if len(results) != 2 {
				t.Fatalf("client: %d results for /flaky-1, want 2: %v", len(results), results)
			}
			first, second := results[0], results[1]
			if first["ok"] != false || first["message"] != "Namespace unavailable, try again later" || first["active"] != false || first["connectedLater"] != false {
				t.Errorf("client: first connect to /flaky-1 = %v, want a connect_error with a message and no retry", first)
			}
			if second["ok"] != true || second["hello"] != "/flaky-1" {
				t.Errorf("client: second connect to /flaky-1 = %v, want connected and greeted", second)
			}
			if root := run.one(t, "root"); root["connected"] != true || root["value"] != "pong" {
				t.Errorf("client: the main namespace after the refusal: %v", root)
			}
		})
	}
}
