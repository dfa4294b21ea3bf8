package engine

import (
	"errors"
	"net/http"
	"reflect"
	"sync"
	"testing"

	"github.com/gorilla/websocket"
)

// errorLog records what OnConnectionError is told.
type errorLog struct {
	mu  sync.Mutex
	got []ConnectionError
}

func (l *errorLog) add(e ConnectionError) {
	l.mu.Lock()
	l.got = append(l.got, e)
	l.mu.Unlock()
}

// take returns what was recorded since the last call.
func (l *errorLog) take() []ConnectionError {
	l.mu.Lock()
	defer l.mu.Unlock()
	got := l.got
	l.got = nil
	return got
}

// TestConnectionError: every refusal is reported with the reference's code
// (0 to 5, engine.io's Server.errors), message and context, before the
// answer, which is unchanged.
func TestConnectionError(t *testing.T) {
	t.Parallel()
	var log errorLog
	e := newEnv(t, Config{
		OnConnectionError: log.add,
		AllowRequest: func(r *http.Request) error {
			if r.Header.Get("X-Refuse") != "" {
				return errors.New("not you")
			}
			return nil
		},
	})
	sid, _ := e.openPolling()
	_, wsSID, _ := e.openWS()
	cases := []struct {
		name    string
		method  string
		query   string
		header  http.Header
		status  int
		code    int
		message string // the body's; "" for the code's
		context map[string]any
	}{
		{"unknown transport", "GET", "EIO=4&transport=carrier-pigeon", nil, 400, 0, "",
			map[string]any{"transport": "carrier-pigeon"}},
		{"unknown sid", "GET", "EIO=4&transport=polling&sid=nope", nil, 400, 1, "",
			map[string]any{"sid": "nope"}},
		{"bad handshake method", "PUT", "EIO=4&transport=polling", nil, 400, 2, "",
			map[string]any{"method": "PUT"}},
		{"websocket without upgrade", "GET", "EIO=4&transport=websocket", nil, 400, 3, "",
			map[string]any{"name": "TRANSPORT_HANDSHAKE_ERROR"}},
		{"polling on a websocket session", "GET", "EIO=4&transport=polling&sid=" + wsSID, nil, 400, 3, "",
			map[string]any{"name": "TRANSPORT_MISMATCH", "transport": "polling", "previousTransport": "websocket"}},
		{"protocol mismatch", "GET", "EIO=3&transport=polling&sid=" + sid, nil, 400, 3, "",
			map[string]any{"name": "PROTOCOL_MISMATCH"}},
		{"refused by AllowRequest", "GET", "EIO=4&transport=polling", http.Header{"X-Refuse": {"1"}}, 403, 4, "not you",
			map[string]any{"message": "not you"}},
		{"unsupported version", "GET", "EIO=3&transport=polling", nil, 400, 5, "",
			map[string]any{"protocol": 3}},
	}
	for _, c := range cases {
		req, err := http.NewRequest(c.method, e.base+"?"+c.query, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range c.header {
			req.Header[k] = v
		}
		r := e.do(req)
		msg := c.message
		if msg == "" {
			msg = errorMessages[c.code]
		}
		body := `{"code":` + string(rune('0'+c.code)) + `,"message":"` + msg + `"}`
		if r.status != c.status || r.body != body {
			t.Errorf("%s: answered %d %q, want %d %q", c.name, r.status, r.body, c.status, body)
		}
		got := log.take()
		if len(got) != 1 {
			t.Errorf("%s: %d connection errors reported, want 1", c.name, len(got))
			continue
		}
		ev := got[0]
		if ev.Code != c.code || ev.Message != errorMessages[c.code] || !reflect.DeepEqual(ev.Context, c.context) {
			t.Errorf("%s: reported code %d %q %v, want %d %q %v", c.name, ev.Code, ev.Message, ev.Context, c.code, errorMessages[c.code], c.context)
		}
		if ev.Request == nil || ev.Request.URL.RawQuery != c.query {
			t.Errorf("%s: reported request %v, want the refused one", c.name, ev.Request)
		}
	}

	// A WebSocket refused by CheckOrigin and a handshake during a
	// shutdown are reported too.
	e2 := newEnv(t, Config{OnConnectionError: log.add, CheckOrigin: func(r *http.Request) bool { return false }})
	_, res, err := websocket.DefaultDialer.Dial(e2.ws+"?EIO=4&transport=websocket", http.Header{"Origin": {"https://evil.example"}})
	if err == nil {
		t.Fatal("WebSocket accepted against CheckOrigin")
	}
	res.Body.Close()
	got := log.take()
	want := map[string]any{"name": "INVALID_ORIGIN", "origin": "https://evil.example"}
	if len(got) != 1 || got[0].Code != 3 || !reflect.DeepEqual(got[0].Context, want) {
		t.Fatalf("origin refusal reported as %+v, want code 3 %v", got, want)
	}
	e2.srv.Drain("server shutting down")
	expectShuttingDown(t, e2.request("GET", "EIO=4&transport=polling", nil))
	got = log.take()
	want = map[string]any{"name": "SERVER_SHUTTING_DOWN", "message": "Server shutting down"}
	if len(got) != 1 || got[0].Code != 4 || got[0].Message != "Forbidden" || !reflect.DeepEqual(got[0].Context, want) {
		t.Fatalf("shutdown refusal reported as %+v, want code 4 %v", got, want)
	}
}

// TestHeaderHooks: InitialHeaders adds to the response that opens a
// session and Headers to every response of a session, WebSocket 101s
// included, after InitialHeaders, as the reference's initial_headers and
// headers events; error answers get neither.
func TestHeaderHooks(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var sawInitial []string // X-Initial as Headers saw it, per response
	e := newEnv(t, Config{
		InitialHeaders: func(h http.Header, r *http.Request) { h.Set("X-Initial", "yes") },
		Headers: func(h http.Header, r *http.Request) {
			mu.Lock()
			sawInitial = append(sawInitial, h.Get("X-Initial"))
			mu.Unlock()
			h.Set("X-Every", "yes")
			h.Set("X-Bad", "a\r\nInjected: 1")
		},
	})
	check := func(what string, h http.Header, initial bool) {
		t.Helper()
		if h.Get("X-Every") != "yes" {
			t.Errorf("%s: no X-Every header: %v", what, h)
		}
		if got := h.Get("X-Initial") == "yes"; got != initial {
			t.Errorf("%s: X-Initial present %v, want %v", what, got, initial)
		}
		if h.Get("Injected") != "" {
			t.Errorf("%s: a header value split the response: %v", what, h)
		}
	}

	r := e.request("GET", "EIO=4&transport=polling", nil)
	check("polling handshake", r.header, true)
	sid := parseOpen(t, r.body).SID
	if r := e.post(sid, "4x"); r.status != 200 {
		t.Fatalf("POST: %d", r.status)
	} else {
		check("POST", r.header, false)
	}
	r = e.get(sid)
	check("GET", r.header, false)
	if r := e.get("nope"); r.header.Get("X-Every") != "" {
		t.Errorf("an error answer went through Headers: %v", r.header)
	}

	ws, res, err := websocket.DefaultDialer.Dial(e.ws+"?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	check("WebSocket handshake", res.Header, true)
	readWS(t, ws) // the open packet: the 101 was well formed

	up, res, err := websocket.DefaultDialer.Dial(e.ws+"?EIO=4&transport=websocket&sid="+sid, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	check("upgrade", res.Header, false)

	// Headers ran after InitialHeaders on the two handshakes only.
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"yes", "", "", "yes", ""}; !reflect.DeepEqual(sawInitial, want) {
		t.Errorf("X-Initial as Headers saw it on the handshake, POST, GET, WebSocket handshake, upgrade: %q, want %q", sawInitial, want)
	}
}
