package hub_test

// socket.io-client 2.x (Engine.IO revision 3) against a hub.Server with
// AllowEIO3: hub/testdata/client2/driver.js drives the real client from npm
// over polling, over WebSocket and through the upgrade, and the test
// checks what it printed against what the server saw.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
)

const compatV2Dir = "testdata/client2"

// runCompatV2 runs driver.js and returns what it printed.
func runCompatV2(t *testing.T, scenario, url, transports string) *compatRun {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node is not installed: install Node.js 20 or newer, then run `make test`")
	}
	mod := filepath.Join(compatV2Dir, "node_modules", "socket.io-client", "package.json")
	if _, err := os.Stat(mod); err != nil {
		t.Fatalf("%s is missing: run `make test` (it runs `npm ci` in %s), or `npm ci` there", mod, compatV2Dir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "driver.js", scenario, url, transports)
	cmd.Dir = compatV2Dir
	if d := os.Getenv("HUBD_COMPAT_DEBUG"); d != "" {
		cmd.Env = append(os.Environ(), "DEBUG="+d)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node driver.js %s %s: %v\nstderr:\n%s\nstdout:\n%s", scenario, transports, err, stderr.String(), compatTruncate(stdout.String(), 4000))
	}
	r := &compatRun{scenario: scenario + " " + transports, raw: stdout.String()}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var o compatObs
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			t.Fatalf("driver printed a line that is not JSON: %q", sc.Text())
		}
		r.lines = append(r.lines, o)
	}
	if len(r.lines) == 0 || r.lines[len(r.lines)-1]["ev"] != "end" {
		t.Fatalf("driver did not finish; stdout:\n%s\nstderr:\n%s", compatTruncate(r.raw, 4000), stderr.String())
	}
	return r
}

// compatV2Server is the server side of the tour in driver.js.
func compatV2Server(rec *compatRecorder) *hub.Server {
	srv := hub.New(hub.Options{
		AllowEIO3: true,
		// Short, so that the driver sees three heartbeats soon; the
		// timeout is long, so that a loaded machine does not miss one.
		PingInterval: 100 * time.Millisecond,
		PingTimeout:  10 * time.Second,
	})
	srv.OnConnection(func(s *hub.Socket) {
		rec.add("main-id", s.ID())
		rec.add("main-query", s.Handshake().Query().Get("who"))
		rec.add("main-auth", string(s.Handshake().Auth))
		echo := func(e *hub.Event) { _ = e.Ack(e.Args) }
		s.On("echo", echo)
		s.On("bin", echo)
		s.On("ask-hello", func(*hub.Event) {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				a, err := s.EmitWithAck(ctx, "hello", "greeting")
				if err != nil {
					rec.add("hello-ack", err.Error())
					return
				}
				rec.add("hello-ack", a)
				_ = s.Emit("hello-done", a)
			}()
		})
		s.On("join", func(e *hub.Event) {
			_ = s.Join("r1")
			_ = e.Ack()
		})
		s.On("shout", func(*hub.Event) {
			_ = srv.To("r1").Emit("roomcast", "to-room", []byte{9, 8, 7})
		})
		s.OnDisconnect(func(r hub.DisconnectReason) { rec.add("main-disconnect", string(r)) })
	})
	chat := srv.Of("/chat")
	chat.Use(func(s *hub.Socket) error {
		if compatAuth(s, "token") != "good" {
			return &hub.ConnectError{Message: "bad token"}
		}
		return nil
	})
	chat.OnConnection(func(s *hub.Socket) {
		rec.add("chat-id", s.ID())
		_ = s.Emit("welcome", s.Handshake().Auth, s.ID())
		s.On("kick", func(*hub.Event) { s.Disconnect(false) })
		s.OnDisconnect(func(r hub.DisconnectReason) { rec.add("chat-disconnect", string(r)) })
	})
	srv.Of("/private").Use(func(*hub.Socket) error {
		return &hub.ConnectError{Message: "not allowed", Data: map[string]any{"code": 403}}
	})
	srv.Of("/strict").Use(func(*hub.Socket) error { return errors.New("go away") })
	return srv
}

// TestCompatV2 runs the whole tour with socket.io-client 2.5.0 over each
// transport: connect (to the main namespace with no CONNECT of its own),
// heartbeats the client drives, acks both ways, binary both ways, a room
// broadcast, a second namespace with auth in its query, refusals, a
// server-side and a client-side disconnect.
func TestCompatV2(t *testing.T) {
	t.Parallel()
	for _, tr := range []struct{ mode, final string }{
		{"polling", "polling"},
		{"websocket", "websocket"},
		{"default", "websocket"},
	} {
		t.Run(tr.mode, func(t *testing.T) {
			t.Parallel()
			rec := newCompatRecorder()
			srv := compatV2Server(rec)
			url := serveCompat(t, srv)
			r := runCompatV2(t, "full", url, tr.mode)

			c := r.one(t, "connect")
			mainID := rec.wait(t, "main-id", 1, 20*time.Second)[0]
			if c["id"] != mainID || c["sid"] != mainID {
				t.Errorf("client socket id %v (session %v), server %v: a 2.x client's id is its session's", c["id"], c["sid"], mainID)
			}
			compatWant(t, "main query and auth", []any{rec.get("main-query")[0], rec.get("main-auth")[0]}, []any{"v2", "{}"})
			if h := r.one(t, "heartbeat"); h["pongs"] != float64(3) {
				t.Errorf("heartbeat %v", h)
			}

			compatWant(t, "echo ack", r.one(t, "echo")["args"], []any{map[string]any{"a": 1}, "x"})
			compatWant(t, "binary ack", r.one(t, "bin")["args"],
				[]any{compatBin([]byte{0, 1, 2, 255}), map[string]any{"nested": compatBin([]byte("abc"))}})

			compatWant(t, "hello", r.one(t, "hello")["msg"], "greeting")
			ack := rec.wait(t, "hello-ack", 1, 20*time.Second)[0]
			a, ok := ack.(hub.Args)
			if !ok {
				t.Fatalf("server's ack: %v", ack)
			}
			var word string
			var bin []byte
			if err := a.Bind(&word, &bin); err != nil || word != "thanks" || !bytes.Equal(bin, []byte{1, 2, 3}) {
				t.Errorf("server got the client's ack as %q %v (%v)", word, bin, err)
			}
			compatWant(t, "hello-done", r.one(t, "hello-done")["args"], []any{"thanks", compatBin([]byte{1, 2, 3})})

			compatWant(t, "room broadcast", r.one(t, "roomcast")["args"], []any{"to-room", compatBin([]byte{9, 8, 7})})

			chatID := "/chat#" + mainID.(string)
			if got := r.one(t, "chat-connect")["id"]; got != chatID {
				t.Errorf("client's /chat id %v, want %v", got, chatID)
			}
			if got := rec.wait(t, "chat-id", 1, 20*time.Second)[0]; got != chatID {
				t.Errorf("server's /chat id %v, want %v", got, chatID)
			}
			compatWant(t, "welcome", r.one(t, "welcome")["args"], []any{map[string]any{"token": "good"}, chatID})

			compatWant(t, "/private refusal", r.one(t, "refused", "nsp", "/private")["err"], map[string]any{"code": 403})
			compatWant(t, "/strict refusal", r.one(t, "refused", "nsp", "/strict")["err"], "go away")
			compatWant(t, "/nowhere refusal", r.one(t, "refused", "nsp", "/nowhere")["err"], map[string]any{"message": "Invalid namespace"})

			compatWant(t, "client's /chat disconnect", r.one(t, "chat-disconnect")["reason"], "io server disconnect")
			compatWant(t, "server's /chat disconnect", rec.wait(t, "chat-disconnect", 1, 20*time.Second), []any{"server namespace disconnect"})
			compatWant(t, "final transport", r.one(t, "transport")["name"], tr.final)
			compatWant(t, "client's disconnect", r.one(t, "main-disconnect")["reason"], "io client disconnect")
			compatWant(t, "server's disconnect", rec.wait(t, "main-disconnect", 1, 20*time.Second), []any{"client namespace disconnect"})
		})
	}
}

// TestCompatV2Refused: without AllowEIO3, a 2.x client is refused as Node
// refuses it, with HTTP 400, over polling and WebSocket, and the server
// reports the protocol.
func TestCompatV2Refused(t *testing.T) {
	t.Parallel()
	rec := newCompatRecorder()
	srv := hub.New(hub.Options{OnConnectionError: func(e hub.ConnectionError) {
		rec.add("code", e.Code)
		rec.add("message", e.Message)
	}})
	url := serveCompat(t, srv)
	r := runCompatV2(t, "refused", url, "polling")
	e := r.one(t, "connect_error")
	compatWant(t, "connect_error", e["description"], 400)
	compatWant(t, "server's connection errors", []any{rec.wait(t, "code", 1, 20*time.Second)[0], rec.get("message")[0]},
		[]any{hub.CodeUnsupportedProtocolVersion, "Unsupported protocol version"})

	r = runCompatV2(t, "refused", url, "websocket")
	compatWant(t, "connect_error over WebSocket", r.one(t, "connect_error")["description"], "Unexpected server response: 400")
	compatWant(t, "server's connection errors over WebSocket", rec.wait(t, "code", 2, 20*time.Second)[1], hub.CodeUnsupportedProtocolVersion)
}
