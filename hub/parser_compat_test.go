package hub_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/internal/nodeproc"
)

// The real socket.io-client with socket.io-msgpack-parser against a server
// with ParserMsgpack: namespaces on one connection, binary values both
// ways, acks both ways, broadcasts to rooms with and without acks, and a
// middleware's connect_error — over each transport.
func TestCompatMsgpack(t *testing.T) {
	compatRequireClient(t)
	for _, tr := range []compatTransport{compatWebSocket, compatPolling, compatDefault} {
		t.Run(tr.name, func(t *testing.T) {
			srv, url := hubServer(t, hub.Options{Parser: hub.ParserMsgpack})
			srv.Use(func(s *hub.Socket) error {
				var auth struct{ Token string }
				json.Unmarshal(s.Handshake().Auth, &auth)
				if auth.Token == "bad" {
					return &hub.ConnectError{Message: "denied", Data: map[string]any{"code": 42}}
				}
				return nil
			})
			main := srv.Of("/")
			main.OnConnection(func(s *hub.Socket) {
				s.On("echo", func(ev *hub.Event) { ev.Ack(ev.Args) })
				s.On("join", func(ev *hub.Event) {
					var room string
					ev.Args.Bind(&room)
					s.Join(room)
					ev.Ack(true)
				})
				s.On("shout", func(ev *hub.Event) { main.To("r").Emit("news", ev.Args) })
			})
			srv.Of("/chat").OnConnection(func(s *hub.Socket) {
				s.On("hi", func(ev *hub.Event) { ev.Ack("chat:" + s.ID()) })
			})

			c := nodeproc.Start(t, compatClientDir, "msgpack.mjs", []string{"URL=" + url}, nil)
			var a, chat, b openResult
			c.Must(map[string]any{"op": "open", "name": "a", "parser": "msgpack", "transports": tr.transports, "auth": map[string]any{"token": "ok"}}, &a)
			c.Must(map[string]any{"op": "open", "name": "chat", "manager": "a", "nsp": "/chat"}, &chat)
			c.Must(map[string]any{"op": "open", "name": "b", "parser": "msgpack", "transports": tr.transports}, &b)
			for _, r := range []openResult{a, chat, b} {
				if r.ID == "" {
					t.Fatalf("open: %+v", r)
				}
			}

			// Binary and every JSON type, client → server → client.
			bin := []byte{0, 1, 2, 0xff}
			args := []any{"x", 1.5, -7, map[string]any{"k": []any{1, nil, true}, "b": binJSON(bin)}, binJSON(bin), "é✓😀"}
			var echoed []any
			c.Must(map[string]any{"op": "emit", "name": "a", "event": "echo", "args": args, "ack": true}, &echoed)
			compatWant(t, "echo", echoed, args)

			var hi []any
			c.Must(map[string]any{"op": "emit", "name": "chat", "event": "hi", "ack": true}, &hi)
			if want := "chat:" + chat.ID; len(hi) != 1 || hi[0] != want {
				t.Fatalf("ack on /chat: %v, want [%s]", hi, want)
			}

			// A broadcast to a room from a client's event.
			for _, n := range []string{"a", "b"} {
				var ok []any
				c.Must(map[string]any{"op": "emit", "name": n, "event": "join", "args": []any{"r"}, "ack": true}, &ok)
			}
			c.Must(map[string]any{"op": "emit", "name": "b", "event": "shout", "args": []any{"n", binJSON([]byte("bin"))}}, nil)
			for _, n := range []string{"a", "b"} {
				var events []compatEvent
				c.Must(map[string]any{"op": "until", "name": n, "event": "news"}, &events)
				compatWant(t, n+" news", lastEvent(events, "news").Args, []any{"n", binJSON([]byte("bin"))})
			}

			// An ack the server asks of one socket, with binary.
			sa := hubSocket(t, main, a.ID)
			got := make(chan hub.Args, 1)
			sa.Emit("ask", 7, []byte{9}, hub.AckFunc(func(args hub.Args, err error) {
				if err != nil {
					t.Errorf("ask: %v", err)
				}
				got <- args
			}))
			select {
			case args := <-got:
				if string(args.JSON()) != `["answer",7,{"_placeholder":true,"num":0}]` || len(args.Attachments()) != 1 || args.Attachments()[0][0] != 9 {
					t.Fatalf("ack %s %v", args.JSON(), args.Attachments())
				}
			case <-time.After(testWait):
				t.Fatal("no ack from the client")
			}

			// A broadcast with acks to the room.
			ctx, cancel := context.WithTimeout(context.Background(), testWait)
			defer cancel()
			replies, err := main.To("r").Timeout(testWait).EmitWithAck(ctx, "ask", "all")
			if err != nil || len(replies) != 2 {
				t.Fatalf("broadcast ack: %v, %v", replies, err)
			}
			for _, r := range replies {
				if string(r.JSON()) != `["answer","all"]` {
					t.Fatalf("broadcast ack reply %s", r.JSON())
				}
			}

			// A middleware's refusal, with its data.
			var refused openResult
			c.Must(map[string]any{"op": "open", "name": "c", "parser": "msgpack", "transports": tr.transports, "auth": map[string]any{"token": "bad"}}, &refused)
			if refused.ConnectError == nil || refused.ConnectError.Message != "denied" {
				t.Fatalf("refused: %+v", refused)
			}
			compatWant(t, "connect_error data", refused.ConnectError.Data, map[string]any{"code": 42})
		})
	}
}

type openResult struct {
	ID           string `json:"id"`
	Recovered    bool   `json:"recovered"`
	ConnectError *struct {
		Message string `json:"message"`
		Data    any    `json:"data"`
	} `json:"connect_error"`
	Disconnect string `json:"disconnect"`
}

type compatEvent struct {
	Event string `json:"event"`
	Args  []any  `json:"args"`
}

func lastEvent(events []compatEvent, name string) compatEvent {
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].Event == name {
			return events[i]
		}
	}
	return compatEvent{}
}

func binJSON(b []byte) map[string]any {
	return map[string]any{"$bin": base64.StdEncoding.EncodeToString(b)}
}

// A client whose parser is not the server's never connects: as in Node,
// its first packet is malformed for the server, which closes the
// connection (the client's socket sees it close before any connect).
func TestCompatParserMismatch(t *testing.T) {
	compatRequireClient(t)
	for _, tc := range []struct {
		server hub.Parser
		client string
	}{
		{hub.ParserMsgpack, "json"},
		{hub.ParserJSON, "msgpack"},
	} {
		for _, tr := range []compatTransport{compatWebSocket, compatPolling} {
			t.Run(fmt.Sprintf("%s-server-%s-client-%s", tc.server, tc.client, tr.name), func(t *testing.T) {
				srv, url := hubServer(t, hub.Options{Parser: tc.server})
				var mu sync.Mutex
				connected := 0
				srv.OnConnection(func(*hub.Socket) { mu.Lock(); connected++; mu.Unlock() })
				c := nodeproc.Start(t, compatClientDir, "msgpack.mjs", []string{"URL=" + url}, nil)
				var r openResult
				c.Must(map[string]any{"op": "open", "name": "x", "parser": tc.client, "transports": tr.transports}, &r)
				if r.ID != "" || r.Disconnect != "transport close" {
					t.Fatalf("open: %+v, want a disconnect before any connect", r)
				}
				mu.Lock()
				defer mu.Unlock()
				if connected != 0 {
					t.Fatalf("%d sockets connected", connected)
				}
			})
		}
	}
}

// An event hook sees the same name and arguments whichever parser the
// client used.
func TestCompatParserHookSeesSameArgs(t *testing.T) {
	compatRequireClient(t)
	type seen struct {
		name string
		json string
		atts [][]byte
	}
	args := []any{"s", 1, 2.5, true, nil, map[string]any{"k": []any{"v", binJSON([]byte{1, 2})}}, binJSON([]byte{3}), "<&>é\u2028"}
	results := map[hub.Parser]seen{}
	for _, pr := range []hub.Parser{hub.ParserJSON, hub.ParserMsgpack} {
		srv, url := hubServer(t, hub.Options{Parser: pr})
		got := make(chan seen, 1)
		srv.SetHooks(&hub.Hooks{Event: func(ev *hub.Event) error {
			got <- seen{ev.Name, string(ev.Args.JSON()), ev.Args.Attachments()}
			return hub.ErrDrop
		}})
		c := nodeproc.Start(t, compatClientDir, "msgpack.mjs", []string{"URL=" + url}, nil)
		var r openResult
		c.Must(map[string]any{"op": "open", "name": "x", "parser": pr.String(), "transports": []string{"websocket"}}, &r)
		if r.ID == "" {
			t.Fatalf("%s: open %+v", pr, r)
		}
		c.Must(map[string]any{"op": "emit", "name": "x", "event": "ev", "args": args}, nil)
		select {
		case s := <-got:
			results[pr] = s
		case <-time.After(testWait):
			t.Fatalf("%s: the hook saw no event", pr)
		}
	}
	j, m := results[hub.ParserJSON], results[hub.ParserMsgpack]
	if j.name != "ev" || m.name != j.name {
		t.Fatalf("names %q and %q", j.name, m.name)
	}
	var jv, mv any
	if err := json.Unmarshal([]byte(j.json), &jv); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(m.json), &mv); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(jv, mv) || !reflect.DeepEqual(j.atts, m.atts) {
		t.Fatalf("json parser: %s %v\nmsgpack parser: %s %v", j.json, j.atts, m.json, m.atts)
	}
	if !strings.Contains(m.json, `{"_placeholder":true,"num":1}`) {
		t.Fatalf("msgpack args %s lack the second placeholder", m.json)
	}
}

// Connection state recovery with the msgpack parser: the kept packets are
// in its wire form, and the client gets what it missed, offsets included.
func TestCompatMsgpackRecovery(t *testing.T) {
	compatRequireClient(t)
	for _, tr := range []compatTransport{compatWebSocket, compatPolling} {
		t.Run(tr.name, func(t *testing.T) {
			srv, url := hubServer(t, hub.Options{Parser: hub.ParserMsgpack, ConnectionStateRecovery: &hub.RecoveryOptions{}})
			nsp := srv.Of("/")
			var mu sync.Mutex
			gone := map[string]chan struct{}{}
			nsp.OnConnection(func(s *hub.Socket) {
				if !s.Recovered() {
					s.Join("r")
				}
				ch := make(chan struct{})
				s.OnDisconnect(func(hub.DisconnectReason) { close(ch) })
				mu.Lock()
				gone[s.ID()] = ch
				mu.Unlock()
			})
			c := nodeproc.Start(t, compatClientDir, "msgpack.mjs", []string{"URL=" + url}, nil)
			var first openResult
			c.Must(map[string]any{"op": "open", "name": "a", "parser": "msgpack", "transports": tr.transports}, &first)
			if first.ID == "" || first.Recovered {
				t.Fatalf("first open: %+v", first)
			}
			nsp.To("r").Emit("before", 0)
			c.Must(map[string]any{"op": "until", "name": "a", "event": "before"}, nil)
			var reason string
			c.Must(map[string]any{"op": "cut", "name": "a"}, &reason)
			mu.Lock()
			ch := gone[first.ID]
			mu.Unlock()
			select {
			case <-ch:
			case <-time.After(testWait):
				t.Fatalf("the server did not see the cut (client: %s)", reason)
			}
			nsp.To("r").Emit("gap", 1)
			nsp.To("r").Emit("gap", 2, []byte("bin"))
			nsp.To("x").Emit("other", 1)

			var again openResult
			c.Must(map[string]any{"op": "reconnect", "name": "a"}, &again)
			if !again.Recovered || again.ID != first.ID {
				t.Fatalf("reconnect: %+v, want recovered with id %s", again, first.ID)
			}
			nsp.To("r").Emit("after")
			var events []compatEvent
			c.Must(map[string]any{"op": "until", "name": "a", "event": "after"}, &events)
			var got []string
			for _, e := range events {
				if e.Event != "gap" && e.Event != "other" {
					continue
				}
				got = append(got, fmt.Sprint(e.Event, e.Args[0]))
				if off, ok := e.Args[len(e.Args)-1].(string); !ok || off == "" {
					t.Fatalf("replayed event without an offset: %v", e)
				}
				if e.Args[0] == float64(2) {
					compatWant(t, "replayed binary", e.Args[1], binJSON([]byte("bin")))
				}
			}
			if want := "gap1 gap2"; strings.Join(got, " ") != want {
				t.Fatalf("client got %v, want %s", got, want)
			}
		})
	}
}
