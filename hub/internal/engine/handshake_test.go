package engine

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{20}$`)

func TestNewID(t *testing.T) {
	t.Parallel()
	seen := make(map[string]bool)
	for i := 0; i < 2000; i++ {
		id := NewID()
		if !idPattern.MatchString(id) {
			t.Fatalf("NewID() = %q: want 20 URL-safe base64 characters", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
	}
}

func TestHandshakePolling(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{PingInterval: 61234 * time.Millisecond, PingTimeout: 45678 * time.Millisecond, MaxPayload: 4321})
	r := e.request("GET", "EIO=4&transport=polling&t=abc", nil)
	if r.status != 200 {
		t.Fatalf("handshake: %d %q", r.status, r.body)
	}
	p := parseOpen(t, r.body)
	want := `0{"sid":"` + p.SID + `","upgrades":["websocket"],"pingInterval":61234,"pingTimeout":45678,"maxPayload":4321}`
	if r.body != want {
		t.Fatalf("open packet %q, want %q", r.body, want)
	}
	if !idPattern.MatchString(p.SID) {
		t.Fatalf("sid %q is not 20 URL-safe characters", p.SID)
	}
	for k, v := range map[string]string{
		"Content-Type":   "text/plain; charset=UTF-8",
		"Cache-Control":  "no-store",
		"Content-Length": fmt.Sprint(len(want)),
	} {
		if got := r.header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	if e.srv.Len() != 1 {
		t.Fatalf("Len() = %d, want 1", e.srv.Len())
	}
}

func TestHandshakeDefaults(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	r := e.request("GET", "EIO=4&transport=polling", nil)
	p := parseOpen(t, r.body)
	if want := `0{"sid":"` + p.SID + `","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`; r.body != want {
		t.Fatalf("open packet %q, want %q", r.body, want)
	}
}

func TestHandshakeUpgradesList(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"default", Config{}, []string{"websocket"}},
		{"upgrades disabled", Config{DisableUpgrades: true}, []string{}},
		{"websocket disabled", Config{DisableWebSocket: true}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.cfg)
			r := e.request("GET", "EIO=4&transport=polling", nil)
			p := parseOpen(t, r.body)
			if fmt.Sprint(p.Upgrades) != fmt.Sprint(tc.want) || p.Upgrades == nil {
				t.Fatalf("upgrades %q, want %q", p.Upgrades, tc.want)
			}
		})
	}
}

func TestHandshakeWebSocket(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{PingInterval: 61234 * time.Millisecond, PingTimeout: 45678 * time.Millisecond, MaxPayload: 4321})
	ws := e.mustDial("EIO=4&transport=websocket")
	mt, data := readWS(t, ws)
	if mt != websocket.TextMessage {
		t.Fatalf("open packet in frame type %d", mt)
	}
	p := parseOpen(t, data)
	want := `0{"sid":"` + p.SID + `","upgrades":[],"pingInterval":61234,"pingTimeout":45678,"maxPayload":4321}`
	if data != want {
		t.Fatalf("open packet %q, want %q", data, want)
	}
	if !idPattern.MatchString(p.SID) {
		t.Fatalf("sid %q is not 20 URL-safe characters", p.SID)
	}
	if got := e.conn(p.SID).Transport(); got != "websocket" {
		t.Fatalf("Transport() = %q", got)
	}
}

func TestHandshakeIDsDiffer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	seen := make(map[string]bool)
	for i := 0; i < 20; i++ {
		sid, _ := e.openPolling()
		ws, wsid, _ := e.openWS()
		ws.Close()
		for _, id := range []string{sid, wsid} {
			if seen[id] {
				t.Fatalf("sid %q handed out twice", id)
			}
			seen[id] = true
		}
	}
}

// TestHandshakeErrors checks the reference server's answers to bad
// requests, including the order in which it checks them.
func TestHandshakeErrors(t *testing.T) {
	t.Parallel()
	refuse := func(r *http.Request) error {
		if r.Header.Get("X-Let-In") == "" {
			return errors.New("no entry")
		}
		return nil
	}
	for _, tc := range []struct {
		name    string
		cfg     Config
		method  string
		query   string
		header  http.Header
		status  int
		code    int
		message string // when not the code's default
	}{
		{name: "no transport", method: "GET", query: "EIO=4", status: 400, code: 0},
		{name: "unknown transport", method: "GET", query: "EIO=4&transport=flash", status: 400, code: 0},
		{name: "unknown transport before method", method: "POST", query: "EIO=4&transport=flash", status: 400, code: 0},
		{name: "unknown transport before EIO", method: "GET", query: "transport=flash", status: 400, code: 0},
		{name: "polling disabled", cfg: Config{DisablePolling: true}, method: "GET", query: "EIO=4&transport=polling", status: 400, code: 0},
		{name: "websocket disabled", cfg: Config{DisableWebSocket: true}, method: "GET", query: "EIO=4&transport=websocket", status: 400, code: 0},
		{name: "no EIO", method: "GET", query: "transport=polling", status: 400, code: 5},
		{name: "EIO 3", method: "GET", query: "EIO=3&transport=polling", status: 400, code: 5},
		{name: "EIO 5", method: "GET", query: "EIO=5&transport=polling", status: 400, code: 5},
		{name: "POST handshake", method: "POST", query: "EIO=4&transport=polling", status: 400, code: 2},
		{name: "PUT handshake", method: "PUT", query: "EIO=4&transport=polling", status: 400, code: 2},
		{name: "method before EIO", method: "POST", query: "transport=polling", status: 400, code: 2},
		{name: "websocket without upgrade", method: "GET", query: "EIO=4&transport=websocket", status: 400, code: 3},
		{name: "websocket without upgrade before EIO", method: "GET", query: "transport=websocket", status: 400, code: 3},
		{name: "unknown sid GET", method: "GET", query: "EIO=4&transport=polling&sid=nope", status: 400, code: 1},
		{name: "unknown sid POST", method: "POST", query: "EIO=4&transport=polling&sid=nope", status: 400, code: 1},
		{name: "unknown sid websocket", method: "GET", query: "EIO=4&transport=websocket&sid=nope", status: 400, code: 1},
		{name: "refused", cfg: Config{AllowRequest: refuse}, method: "GET", query: "EIO=4&transport=polling", status: 403, code: 4, message: "no entry"},
		{name: "refused before EIO", cfg: Config{AllowRequest: refuse}, method: "GET", query: "transport=polling", status: 403, code: 4, message: "no entry"},
		{name: "refused websocket", cfg: Config{AllowRequest: refuse}, method: "GET", query: "EIO=4&transport=websocket",
			header: wsHeaders(), status: 403, code: 4, message: "no entry"},
		{name: "method before AllowRequest", cfg: Config{AllowRequest: refuse}, method: "POST", query: "EIO=4&transport=polling", status: 400, code: 2},
		{name: "allowed", cfg: Config{AllowRequest: refuse}, method: "GET", query: "EIO=4&transport=polling",
			header: http.Header{"X-Let-In": {"1"}}, status: 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.cfg)
			req, err := http.NewRequest(tc.method, e.base+"?"+tc.query, strings.NewReader(""))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.header {
				req.Header[k] = v
			}
			r := e.do(req)
			if tc.status == 200 {
				if r.status != 200 {
					t.Fatalf("got %d %q, want 200", r.status, r.body)
				}
				parseOpen(t, r.body)
				return
			}
			want := errorBody(tc.code)
			if tc.message != "" {
				want = fmt.Sprintf(`{"code":%d,"message":%q}`, tc.code, tc.message)
			}
			if r.status != tc.status || r.body != want {
				t.Fatalf("got %d %q, want %d %q", r.status, r.body, tc.status, want)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type %q", ct)
			}
			if e.srv.Len() != 0 {
				t.Fatalf("a refused request opened a session")
			}
		})
	}
}

// wsHeaders makes a plain request look like a WebSocket upgrade.
func wsHeaders() http.Header {
	return http.Header{
		"Connection":            {"Upgrade"},
		"Upgrade":               {"websocket"},
		"Sec-Websocket-Version": {"13"},
		"Sec-Websocket-Key":     {"dGhlIHNhbXBsZSBub25jZQ=="},
	}
}

// TestRequestsWithSessionErrors covers the checks on requests that name a
// session.
func TestRequestsWithSessionErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{AllowRequest: func(r *http.Request) error {
		if r.Header.Get("X-Let-In") == "" {
			return errors.New("handshakes only")
		}
		return nil
	}})
	req, _ := http.NewRequest("GET", e.base+"?EIO=4&transport=polling", nil)
	req.Header.Set("X-Let-In", "1")
	sid := parseOpen(t, e.do(req).body).SID

	// A plain GET on the websocket transport of a polling session.
	expectError(t, e.request("GET", "EIO=4&transport=websocket&sid="+sid, nil), 400, 3)
	// The session's protocol revision must not change.
	expectError(t, e.request("GET", "transport=polling&sid="+sid, nil), 400, 3)
	expectError(t, e.request("POST", "EIO=3&transport=polling&sid="+sid, strings.NewReader("4x")), 400, 3)
	// Unsupported methods on a live polling session: 500, empty body.
	for _, m := range []string{"PUT", "DELETE", "PATCH", "OPTIONS"} {
		r := e.request(m, "EIO=4&transport=polling&sid="+sid, nil)
		if r.status != 500 || r.body != "" {
			t.Fatalf("%s: %d %q, want 500 and no body", m, r.status, r.body)
		}
	}
	// None of this hurt the session, and AllowRequest was not consulted.
	e.postOK(sid, "4still here")
	if got := e.getBody(sid); got != "4still here" {
		t.Fatalf("echo %q", got)
	}
}

func TestCORSPreflight(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		cors   *CORS
		origin string
		query  string
		want   map[string]string // "" means absent
	}{
		{
			name: "any origin", cors: &CORS{Origins: []string{"*"}}, origin: "https://a.test",
			query: "EIO=4&transport=polling",
			want: map[string]string{
				"Access-Control-Allow-Origin":      "*",
				"Access-Control-Allow-Methods":     "GET,HEAD,PUT,PATCH,POST,DELETE",
				"Access-Control-Allow-Headers":     "x-custom",
				"Access-Control-Allow-Credentials": "",
				"Access-Control-Max-Age":           "",
				"Vary":                             "Access-Control-Request-Headers",
			},
		},
		{
			name: "preflight for any transport", cors: &CORS{Origins: []string{"*"}}, origin: "https://a.test",
			query: "EIO=4&transport=flash",
			want: map[string]string{
				"Access-Control-Allow-Origin":  "*",
				"Access-Control-Allow-Methods": "GET,HEAD,PUT,PATCH,POST,DELETE",
			},
		},
		{
			name: "listed origin", origin: "https://a.test", query: "EIO=4&transport=polling&sid=whatever",
			cors: &CORS{Origins: []string{"https://b.test", "https://a.test"}, Methods: "GET,POST", Headers: "X-A", Credentials: true, MaxAge: 600},
			want: map[string]string{
				"Access-Control-Allow-Origin":      "https://a.test",
				"Access-Control-Allow-Methods":     "GET,POST",
				"Access-Control-Allow-Headers":     "X-A",
				"Access-Control-Allow-Credentials": "true",
				"Access-Control-Max-Age":           "600",
				"Vary":                             "Origin",
			},
		},
		{
			name: "unlisted origin", origin: "https://evil.test", query: "EIO=4&transport=polling",
			cors: &CORS{Origins: []string{"https://a.test"}},
			want: map[string]string{"Access-Control-Allow-Origin": "", "Vary": "Origin, Access-Control-Request-Headers"},
		},
		{
			name: "echoed origin", origin: "https://c.test", query: "EIO=4&transport=polling",
			cors: &CORS{},
			want: map[string]string{"Access-Control-Allow-Origin": "https://c.test"},
		},
		{
			name: "credentials with any origin echo it", origin: "https://c.test", query: "EIO=4&transport=polling",
			cors: &CORS{Origins: []string{"*"}, Credentials: true},
			want: map[string]string{"Access-Control-Allow-Origin": "https://c.test", "Access-Control-Allow-Credentials": "true"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{CORS: tc.cors})
			req, _ := http.NewRequest("OPTIONS", e.base+"?"+tc.query, nil)
			req.Header.Set("Origin", tc.origin)
			req.Header.Set("Access-Control-Request-Method", "POST")
			req.Header.Set("Access-Control-Request-Headers", "x-custom")
			r := e.do(req)
			if r.status != 204 || r.body != "" {
				t.Fatalf("preflight: %d %q, want 204", r.status, r.body)
			}
			for k, v := range tc.want {
				got := strings.Join(r.header.Values(k), ", ")
				if got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestCORSHeaders checks that polling answers, errors included, carry the
// CORS headers, and that without CORS there are none and no preflight.
func TestCORSHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{CORS: &CORS{Origins: []string{"*"}}})
	origin := func(method, query, body string) response {
		req, _ := http.NewRequest(method, e.base+"?"+query, strings.NewReader(body))
		req.Header.Set("Origin", "https://a.test")
		return e.do(req)
	}
	r := origin("GET", "EIO=4&transport=polling", "")
	sid := parseOpen(t, r.body).SID
	for _, r := range []response{
		r,
		origin("POST", "EIO=4&transport=polling&sid="+sid, "4x"),
		origin("GET", "EIO=4&transport=polling&sid="+sid, ""),
		origin("GET", "EIO=4&transport=polling&sid=unknown", ""),
		origin("GET", "EIO=4&transport=flash", ""),
		origin("GET", "EIO=4&transport=websocket", ""),
		origin("POST", "EIO=4&transport=polling", ""),
	} {
		if got := r.header.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("%d %q: Access-Control-Allow-Origin %q, want *", r.status, r.body, got)
		}
	}

	plain := newEnv(t, Config{})
	req, _ := http.NewRequest("OPTIONS", plain.base+"?EIO=4&transport=polling", nil)
	req.Header.Set("Origin", "https://a.test")
	req.Header.Set("Access-Control-Request-Method", "POST")
	r = plain.do(req)
	// Without CORS an OPTIONS handshake is just a bad handshake method.
	expectError(t, r, 400, 2)
	if got := r.header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Fatalf("CORS header without CORS: %q", got)
	}
}
