package hub_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hubd/hubd/hub"
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
