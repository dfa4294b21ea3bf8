package hub_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/httpapi"
	"github.com/hubd/hubd/hub/internal/testclient"
)

// Raw JSON from outside (the HTTP API, a plugin's decision, another node)
// that is not valid UTF-8 is refused: sent on, it would go out in
// WebSocket text frames, which clients drop the connection over.
func TestRawArgsRefusesInvalidUTF8(t *testing.T) {
	for _, in := range []string{
		"[\"\xff\"]",
		"[\"a\xe2\x82\"]",                // a character cut short
		"[{\"k\xc0\xaf\":1}]",            // an overlong encoding, in a key
		"[1,\"\xed\xa0\x80\"]",           // an encoded surrogate half
		"[\"ok\",{\"deep\":[\"\x87\"]}]", // a lone continuation byte, nested
	} {
		_, err := hub.RawArgs(json.RawMessage(in), nil)
		if !errors.Is(err, hub.ErrInvalidUTF8) {
			t.Errorf("RawArgs(%q) = %v, want ErrInvalidUTF8", in, err)
		}
	}
	// Escapes are text: a lone surrogate escape is valid JSON and stays.
	for _, in := range []string{`["\ud800"]`, `["é😀"]`, `["\u00ff"]`} {
		a, err := hub.RawArgs(json.RawMessage(in), nil)
		if err != nil || string(a.JSON()) != in {
			t.Errorf("RawArgs(%s) = %s, %v", in, a.JSON(), err)
		}
	}
}

// NewArgs repairs Go strings, as encoding/json does, but refuses raw JSON
// it would copy unchecked.
func TestNewArgsRefusesInvalidUTF8RawJSON(t *testing.T) {
	type withRaw struct {
		R json.RawMessage `json:"r"`
	}
	for name, v := range map[string]any{
		"raw":           json.RawMessage("\"\xff\""),
		"raw in a map":  map[string]any{"a": json.RawMessage("\"\xff\"")},
		"raw in a list": []any{1, json.RawMessage("\"\xff\"")},
		"raw field":     withRaw{R: json.RawMessage("\"\xff\"")},
	} {
		if _, err := hub.NewArgs(v); !errors.Is(err, hub.ErrInvalidUTF8) {
			t.Errorf("%s: NewArgs = %v, want ErrInvalidUTF8", name, err)
		}
	}
	a, err := hub.NewArgs("a\xffb", map[string]any{"k\xff": "v"})
	if err != nil || !utf8.Valid(a.JSON()) {
		t.Errorf("NewArgs of strings: %q, %v", a.JSON(), err)
	}
}

// A client's packet that is not valid UTF-8 closes the sender's connection
// and reaches nobody, over either transport; the recipients stay connected
// and get what comes next.
func TestInvalidUTF8FromAClientIsNotRelayed(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	srv.OnConnection(func(s *hub.Socket) {
		s.On("say", func(ev *hub.Event) { _ = s.Broadcast().EmitArgs("said", ev.Args) })
	})
	recipient := hubDial(t, url)
	hubConnect(t, recipient, "/", nil)

	ws := hubDial(t, url)
	hubConnect(t, ws, "/", nil)
	if err := ws.SendText("42[\"say\",\"\xff\"]"); err != nil {
		t.Fatal(err)
	}
	if err := ws.WaitClosed(testWait); err != nil {
		t.Errorf("WebSocket sender: %v", err)
	}

	poll := newPollSession(t, url)
	poll.connect()
	resp, err := poll.hc.Post(poll.url+"&sid="+poll.sid, "text/plain;charset=UTF-8", strings.NewReader("42[\"say\",\"a\xe2\x82\"]"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("polling sender: POST answered %d, want 400", resp.StatusCode)
	}

	good := hubDial(t, url)
	hubConnect(t, good, "/", nil)
	if err := good.Emit("/", "say", "fine"); err != nil {
		t.Fatal(err)
	}
	p := nextEvent(t, recipient, "/")
	if p.Event != "said" || p.Str(0) != "fine" {
		t.Errorf("recipient got %s first, want said fine", p.Text)
	}
	select {
	case <-recipient.Done():
		t.Errorf("recipient disconnected: %v", recipient.Err())
	default:
	}
}

// Data attached to a socket or to a refusal may come from a plugin as raw
// JSON; what reaches clients and API callers is valid UTF-8.
func TestAttachedDataGoesOutAsValidUTF8(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	srv.Of("/locked").Use(func(*hub.Socket) error {
		return &hub.ConnectError{Message: "no\xff", Data: json.RawMessage("{\"why\":\"\xff\"}")}
	})
	srv.Use(func(s *hub.Socket) error {
		s.SetData(json.RawMessage("{\"user\":\"a\xe2\x82\"}"))
		return nil
	})
	c := hubDial(t, url)
	_, err := c.Connect("/locked", nil)
	var refused *testclient.ConnectRefused
	if !errors.As(err, &refused) {
		t.Fatalf("connect /locked: %v", err)
	}
	if !utf8.Valid(refused.Payload) || !json.Valid(refused.Payload) || !strings.Contains(string(refused.Payload), "\ufffd") {
		t.Errorf("connect_error payload %q", refused.Payload)
	}
	hubConnect(t, c, "/", nil)
	sockets, err := srv.FetchSockets(context.Background())
	if err != nil || len(sockets) != 1 {
		t.Fatalf("FetchSockets: %v, %v", sockets, err)
	}
	if d := sockets[0].Data; !utf8.Valid(d) || !json.Valid(d) {
		t.Errorf("socket data %q", d)
	}
}

// TestCompatInvalidUTF8: the official client stays connected while others
// try to send it invalid UTF-8: a client whose packet the server would
// relay (WebSocket and polling), an HTTP API caller, Go code with raw JSON.
// Each attempt is refused; only a Go string, repaired to U+FFFD, arrives.
func TestCompatInvalidUTF8(t *testing.T) {
	t.Parallel()
	for _, tr := range []compatTransport{compatWebSocket, compatPolling} {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			srv := hub.New(hub.Options{})
			api, err := httpapi.New(srv, httpapi.Config{Key: "k"})
			if err != nil {
				t.Fatal(err)
			}
			mux := http.NewServeMux()
			mux.Handle("/socket.io/", srv)
			mux.Handle("/api/", api)
			url := serveCompatHandler(t, srv, mux)
			srv.OnConnection(func(s *hub.Socket) {
				s.On("relay", func(ev *hub.Event) { _ = s.Broadcast().EmitArgs("relayed", ev.Args) })
				s.On("ping", func(ev *hub.Event) { _ = ev.Ack("pong") })
				s.On("attack", func(ev *hub.Event) {
					go func() { _ = ev.Ack(attackWithInvalidUTF8(url, srv)) }()
				})
			})
			run := runCompatDriver(t, "utf8", url, map[string]any{"transports": tr.transports})
			got := run.one(t, "utf8")
			compatWant(t, "attacks", got["results"], map[string]any{
				"websocketSenderClosed": true,
				"pollingSenderStatus":   400,
				"apiStatus":             400,
				"rawArgs":               "refused",
				"emitRawJSON":           "refused",
			})
			compatWant(t, "client: repaired string", got["repaired"], "a\ufffdb")
			compatWant(t, "client: events received", got["events"], []any{"repaired"})
			compatWant(t, "client: ack after the attacks", got["pong"], "pong")
			compatWant(t, "client: still connected", got["connected"], true)
			compatWant(t, "client: transport", got["transport"], tr.final)
		})
	}
}

// attackWithInvalidUTF8 tries every way to make the server send \xff to
// the sockets of "/", then sends a Go string with \xff, which is repaired.
func attackWithInvalidUTF8(url string, srv *hub.Server) map[string]any {
	res := map[string]any{}
	relay := "42[\"relay\",\"\xff\"]"

	if c, err := testclient.Dial(url, ioPath); err != nil {
		res["websocketSenderClosed"] = err.Error()
	} else {
		defer c.Close()
		_, err := c.Connect("/", nil)
		if err == nil {
			err = c.SendText(relay)
		}
		if err == nil {
			err = c.WaitClosed(testWait)
		}
		res["websocketSenderClosed"] = err == nil
	}

	res["pollingSenderStatus"] = pollAndPost(url, relay)

	req, _ := http.NewRequest(http.MethodPost, url+"/api/emit", strings.NewReader("{\"event\":\"relayed\",\"args\":[\"\xff\"]}"))
	req.Header.Set("Authorization", "Bearer k")
	if resp, err := http.DefaultClient.Do(req); err != nil {
		res["apiStatus"] = err.Error()
	} else {
		resp.Body.Close()
		res["apiStatus"] = resp.StatusCode
	}

	refused := func(err error) string {
		if errors.Is(err, hub.ErrInvalidUTF8) {
			return "refused"
		}
		return fmt.Sprint(err)
	}
	_, err := hub.RawArgs(json.RawMessage("[\"\xff\"]"), nil)
	res["rawArgs"] = refused(err)
	res["emitRawJSON"] = refused(srv.Emit("relayed", json.RawMessage("\"\xff\"")))
	_ = srv.Emit("repaired", "a\xffb")
	return res
}

// pollAndPost opens a polling session, joins "/", posts packet and
// returns the status of that last POST.
func pollAndPost(url, packet string) any {
	base := url + ioPath + "?EIO=4&transport=polling"
	resp, err := http.Get(base)
	if err != nil {
		return err.Error()
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var open struct{ Sid string }
	if len(body) < 2 || json.Unmarshal(body[1:], &open) != nil {
		return fmt.Sprintf("handshake %q", body)
	}
	var status int
	for _, b := range []string{"40", packet} {
		resp, err := http.Post(base+"&sid="+open.Sid, "text/plain;charset=UTF-8", strings.NewReader(b))
		if err != nil {
			return err.Error()
		}
		resp.Body.Close()
		status = resp.StatusCode
	}
	return status
}
