package hub_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/internal/nodeproc"
)

// The real socket.io-client recovers: after a cut, it comes back with the
// same id, socket.recovered true, and gets what it missed once and in
// order — over each transport.
func TestCompatRecovery(t *testing.T) {
	compatRequireClient(t)
	for _, tr := range []compatTransport{compatWebSocket, compatPolling} {
		t.Run(tr.name, func(t *testing.T) {
			rs := newRecoveryServer(t, hub.RecoveryOptions{})
			nsp := rs.srv.Of("/")
			nsp.OnConnection(func(s *hub.Socket) {
				s.On("join", func(ev *hub.Event) {
					var room string
					ev.Args.Bind(&room)
					s.Join(room)
					s.SetData(map[string]any{"n": 2})
					ev.Ack(s.Rooms())
				})
			})
			transports, _ := json.Marshal(tr.transports)
			c := nodeproc.Start(t, compatClientDir, "recovery.mjs", []string{"URL=" + rs.url, "TRANSPORTS=" + string(transports)}, nil)
			type conn struct {
				ID        string `json:"id"`
				Recovered bool   `json:"recovered"`
			}
			type event struct {
				Event string `json:"event"`
				Args  []any  `json:"args"`
			}
			var first conn
			c.Must(map[string]any{"op": "connect"}, &first)
			if first.Recovered {
				t.Fatalf("first connect: %+v", first)
			}
			c.Must(map[string]any{"op": "join", "room": "r"}, nil)
			nsp.To("r").Emit("before", 0)
			c.Must(map[string]any{"op": "until", "event": "before"}, nil)

			var reason string
			c.Must(map[string]any{"op": "cut"}, &reason)
			rs.mu.Lock()
			gone := rs.gone[first.ID]
			rs.mu.Unlock()
			select {
			case <-gone:
			case <-time.After(testWait):
				t.Fatalf("the server did not see the cut (client: %s)", reason)
			}
			nsp.To("r").Emit("gap", 1)
			nsp.To("r").Emit("gap", 2, []byte("bin"))
			nsp.To(first.ID).Emit("gap", 3)
			nsp.To("r").Volatile().Emit("other", 0)
			nsp.To("x").Emit("other", 1)

			var again conn
			c.Must(map[string]any{"op": "reconnect"}, &again)
			if !again.Recovered || again.ID != first.ID {
				t.Fatalf("reconnect: %+v, want recovered with id %s", again, first.ID)
			}
			s := rs.socket(t, first.ID)
			if !s.Recovered() || !s.In("r") {
				t.Fatalf("server side: Recovered %v, rooms %v", s.Recovered(), s.Rooms())
			}
			if d, _ := s.Data().(map[string]any); d["n"] != 2 {
				t.Fatalf("data %v, want n=2", s.Data())
			}
			s.Emit("after")
			var events []event
			c.Must(map[string]any{"op": "until", "event": "after"}, &events)
			var got []string
			for _, e := range events {
				if e.Event != "gap" && e.Event != "other" {
					continue
				}
				got = append(got, fmt.Sprintf("%s%v", e.Event, e.Args[0]))
				if off, ok := e.Args[len(e.Args)-1].(string); !ok || off == "" {
					t.Fatalf("replayed event without an offset: %v", e)
				}
				if e.Event == "gap" && e.Args[0] == float64(2) {
					if b, _ := e.Args[1].(map[string]any); b["$bin"] != "Ymlu" {
						t.Fatalf("binary argument replayed as %v", e.Args[1])
					}
				}
			}
			if want := "gap1 gap2 gap3"; strings.Join(got, " ") != want {
				t.Fatalf("client got %v, want %s", got, want)
			}
		})
	}
}
