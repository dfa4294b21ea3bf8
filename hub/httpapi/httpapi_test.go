package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/httpapi"
	"github.com/hubd/hubd/hub/internal/testclient"
)

const (
	key  = "s3cret-key"
	wait = 20 * time.Second // bounds waits for events; none waits it out
)

// world is a hub and its API on one loopback HTTP server.
type world struct {
	t   *testing.T
	srv *hub.Server
	url string
}

func newWorld(t *testing.T, cfg httpapi.Config) *world {
	t.Helper()
	srv := hub.New(hub.Options{})
	srv.Of("/chat")
	if cfg.Key == "" {
		cfg.Key = key
	}
	api, err := httpapi.New(srv, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = httpapi.DefaultPrefix
	}
	mux.Handle(prefix, api)
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		ts.Close()
	})
	return &world{t: t, srv: srv, url: ts.URL}
}

// peer is a client connected to one namespace.
type peer struct {
	t   *testing.T
	c   *testclient.Client
	nsp string
	id  string
}

func (w *world) dial(nsp string, rooms ...string) *peer {
	w.t.Helper()
	c, err := testclient.Dial(w.url, "/socket.io/")
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { c.Close() })
	id, err := c.Connect(nsp, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	if len(rooms) > 0 {
		if err := w.srv.Of(nsp).In(id).SocketsJoin(rooms...); err != nil {
			w.t.Fatal(err)
		}
	}
	return &peer{t: w.t, c: c, nsp: nsp, id: id}
}

// got returns the events p receives before the mark the server sends
// after what is under test; one connection keeps the order, so what did
// not come before the mark will not come.
func (p *peer) got() []string {
	p.t.Helper()
	var out []string
	for {
		pkt, err := p.c.NextEvent(p.nsp, wait)
		if err != nil {
			p.t.Fatalf("waiting for the mark: %v", err)
		}
		if pkt.Event == "mark" {
			return out
		}
		out = append(out, pkt.Text)
	}
}

// call sends a request to the API with the key and returns the status and
// the body.
func (w *world) call(method, path, body string) (int, string, http.Header) {
	w.t.Helper()
	return w.do(method, path, strings.NewReader(body), "Bearer "+key)
}

func (w *world) do(method, path string, body io.Reader, auth string) (int, string, http.Header) {
	w.t.Helper()
	req, err := http.NewRequest(method, w.url+path, body)
	if err != nil {
		w.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		w.t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); method != http.MethodHead && ct != "application/json; charset=utf-8" {
		w.t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	return resp.StatusCode, strings.TrimSuffix(string(b), "\n"), resp.Header
}

// Every error: its status, its body, its headers.
func TestErrors(t *testing.T) {
	w := newWorld(t, httpapi.Config{})
	long := `{"event":"x","args":["` + strings.Repeat("a", httpapi.DefaultMaxBody) + `"]}`
	tests := []struct {
		name   string
		method string
		path   string
		auth   string // "-" sends no Authorization header
		body   io.Reader
		status int
		want   string
		header map[string]string
	}{
		// 401
		{"no key", "POST", "/api/emit", "-", nil, 401,
			`{"ok":false,"error":"missing API key: send the header Authorization: Bearer <key>"}`,
			map[string]string{"WWW-Authenticate": `Bearer realm="hubd"`}},
		{"wrong key", "POST", "/api/emit", "Bearer nope", nil, 401, `{"ok":false,"error":"wrong API key"}`,
			map[string]string{"WWW-Authenticate": `Bearer realm="hubd", error="invalid_token"`}},
		{"key as prefix", "GET", "/api/rooms", "Bearer " + key + "x", nil, 401, `{"ok":false,"error":"wrong API key"}`, nil},
		{"key too short", "GET", "/api/rooms", "Bearer " + key[:4], nil, 401, `{"ok":false,"error":"wrong API key"}`, nil},
		{"basic scheme", "GET", "/api/rooms", "Basic " + key, nil, 401,
			`{"ok":false,"error":"missing API key: send the header Authorization: Bearer <key>"}`, nil},
		{"empty bearer", "GET", "/api/rooms", "Bearer ", nil, 401,
			`{"ok":false,"error":"missing API key: send the header Authorization: Bearer <key>"}`, nil},
		{"key before path", "GET", "/api/nope", "-", nil, 401,
			`{"ok":false,"error":"missing API key: send the header Authorization: Bearer <key>"}`, nil},
		// 404
		{"unknown endpoint", "GET", "/api/nope", "", nil, 404,
			`{"ok":false,"error":"no endpoint /api/nope: use /api/emit, rooms, sockets or disconnect"}`, nil},
		{"prefix alone", "GET", "/api/", "", nil, 404,
			`{"ok":false,"error":"no endpoint /api/: use /api/emit, rooms, sockets or disconnect"}`, nil},
		{"emit to an unknown namespace", "POST", "/api/emit", "", body(`{"namespace":"/nope","event":"x"}`), 404,
			`{"ok":false,"error":"unknown namespace \"/nope\""}`, nil},
		{"rooms of an unknown namespace", "GET", "/api/rooms?namespace=/nope", "", nil, 404,
			`{"ok":false,"error":"unknown namespace \"/nope\""}`, nil},
		{"sockets of an unknown namespace", "GET", "/api/sockets?namespace=nope", "", nil, 404,
			`{"ok":false,"error":"unknown namespace \"/nope\""}`, nil},
		{"disconnect in an unknown namespace", "POST", "/api/disconnect", "", body(`{"namespace":"/nope","id":"x"}`), 404,
			`{"ok":false,"error":"unknown namespace \"/nope\""}`, nil},
		{"disconnect an unknown socket", "POST", "/api/disconnect", "", body(`{"id":"AAAAAAAAAAAAAAAAAAAA"}`), 404,
			`{"ok":false,"error":"no socket \"AAAAAAAAAAAAAAAAAAAA\" in namespace \"/\""}`, nil},
		// 405
		{"GET emit", "GET", "/api/emit", "", nil, 405, `{"ok":false,"error":"method GET not allowed: use POST"}`,
			map[string]string{"Allow": "POST"}},
		{"PUT disconnect", "PUT", "/api/disconnect", "", nil, 405, `{"ok":false,"error":"method PUT not allowed: use POST"}`,
			map[string]string{"Allow": "POST"}},
		{"POST rooms", "POST", "/api/rooms", "", nil, 405, `{"ok":false,"error":"method POST not allowed: use GET"}`,
			map[string]string{"Allow": "GET, HEAD"}},
		{"DELETE sockets", "DELETE", "/api/sockets", "", nil, 405, `{"ok":false,"error":"method DELETE not allowed: use GET"}`,
			map[string]string{"Allow": "GET, HEAD"}},
		// 413
		{"body too large", "POST", "/api/emit", "", body(long), 413, `{"ok":false,"error":"body larger than 1048576 bytes"}`, nil},
		{"body too large, no length", "POST", "/api/emit", "", iotest.HalfReader(strings.NewReader(long)), 413,
			`{"ok":false,"error":"body larger than 1048576 bytes"}`, nil},
		// 400
		{"empty body", "POST", "/api/emit", "", nil, 400, `{"ok":false,"error":"bad JSON body: the body is empty: send a JSON object"}`, nil},
		{"bad JSON", "POST", "/api/emit", "", body(`{"event":`), 400,
			`{"ok":false,"error":"bad JSON body: the body ends before its JSON value does"}`, nil},
		{"syntax error", "POST", "/api/emit", "", body(`{"event" "x"}`), 400,
			`{"ok":false,"error":"bad JSON body: invalid character '\"' after object key"}`, nil},
		{"not an object", "POST", "/api/emit", "", body(`["x"]`), 400, `{"ok":false,"error":"bad JSON body: the body must be a JSON object"}`, nil},
		{"two values", "POST", "/api/emit", "", body(`{"event":"x"} {}`), 400,
			`{"ok":false,"error":"bad JSON body: the body holds more than one JSON value"}`, nil},
		{"unknown field", "POST", "/api/emit", "", body(`{"event":"x","room":"r"}`), 400,
			`{"ok":false,"error":"bad JSON body: unknown field \"room\""}`, nil},
		{"missing event", "POST", "/api/emit", "", body(`{"rooms":"r"}`), 400,
			`{"ok":false,"error":"missing event: give the event's name in \"event\""}`, nil},
		{"empty event", "POST", "/api/emit", "", body(`{"event":""}`), 400,
			`{"ok":false,"error":"missing event: give the event's name in \"event\""}`, nil},
		{"event not a string", "POST", "/api/emit", "", body(`{"event":7}`), 400,
			`{"ok":false,"error":"bad JSON body: event: want a JSON string, not number"}`, nil},
		{"reserved event", "POST", "/api/emit", "", body(`{"event":"disconnect"}`), 400,
			`{"ok":false,"error":"event \"disconnect\" is reserved by Socket.IO"}`, nil},
		{"hub: event", "POST", "/api/emit", "", body(`{"event":"hub:join"}`), 400,
			`{"ok":false,"error":"event \"hub:join\" is reserved: the \"hub:\" prefix belongs to hubd's commands"}`, nil},
		{"args an object", "POST", "/api/emit", "", body(`{"event":"x","args":{"a":1}}`), 400,
			`{"ok":false,"error":"args must be a JSON array (without binary placeholders)"}`, nil},
		{"args a string", "POST", "/api/emit", "", body(`{"event":"x","args":"a"}`), 400,
			`{"ok":false,"error":"args must be a JSON array (without binary placeholders)"}`, nil},
		{"args with a placeholder", "POST", "/api/emit", "", body(`{"event":"x","args":[{"_placeholder":true,"num":0}]}`), 400,
			`{"ok":false,"error":"args must be a JSON array (without binary placeholders)"}`, nil},
		{"rooms a number", "POST", "/api/emit", "", body(`{"event":"x","rooms":1}`), 400,
			`{"ok":false,"error":"rooms must be a string or a list of strings"}`, nil},
		{"rooms with a number", "POST", "/api/emit", "", body(`{"event":"x","rooms":["a",1]}`), 400,
			`{"ok":false,"error":"rooms must be a string or a list of strings"}`, nil},
		{"except an object", "POST", "/api/emit", "", body(`{"event":"x","except":{}}`), 400,
			`{"ok":false,"error":"except must be a string or a list of strings"}`, nil},
		{"empty room", "POST", "/api/emit", "", body(`{"event":"x","rooms":["a",""]}`), 400,
			`{"ok":false,"error":"rooms[1] is empty: room names and socket ids are never empty"}`, nil},
		{"empty room string", "POST", "/api/emit", "", body(`{"event":"x","rooms":""}`), 400,
			`{"ok":false,"error":"rooms[0] is empty: room names and socket ids are never empty"}`, nil},
		{"disconnect without id", "POST", "/api/disconnect", "", body(`{"close":true}`), 400,
			`{"ok":false,"error":"missing id: give the socket's id in \"id\""}`, nil},
		{"disconnect with close not a bool", "POST", "/api/disconnect", "", body(`{"id":"x","close":"yes"}`), 400,
			`{"ok":false,"error":"bad JSON body: close: want a JSON boolean, not string"}`, nil},
		{"sockets of an empty room", "GET", "/api/sockets?room=", "", nil, 400,
			`{"ok":false,"error":"room is empty: give a room name or leave the parameter out"}`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			auth := tc.auth
			switch auth {
			case "":
				auth = "Bearer " + key
			case "-":
				auth = ""
			}
			b := tc.body
			if b == nil {
				b = http.NoBody
			}
			status, got, header := w.do(tc.method, tc.path, b, auth)
			if status != tc.status || got != tc.want {
				t.Errorf("%d %s\nwant %d %s", status, got, tc.status, tc.want)
			}
			for k, v := range tc.header {
				if header.Get(k) != v {
					t.Errorf("header %s: %q, want %q", k, header.Get(k), v)
				}
			}
		})
	}
}

func body(s string) io.Reader { return strings.NewReader(s) }

// A smaller MaxBody is honoured; a body within it is fine.
func TestMaxBody(t *testing.T) {
	w := newWorld(t, httpapi.Config{MaxBody: 32})
	if status, got, _ := w.call("POST", "/api/emit", `{"event":"x","args":["123456789"]}`); status != 413 || got != `{"ok":false,"error":"body larger than 32 bytes"}` {
		t.Fatalf("%d %s", status, got)
	}
	if status, got, _ := w.call("POST", "/api/emit", `{"event":"x"}`); status != 200 || got != `{"ok":true}` {
		t.Fatalf("%d %s", status, got)
	}
}

func TestEmit(t *testing.T) {
	w := newWorld(t, httpapi.Config{})
	a := w.dial("/", "r1")
	b := w.dial("/", "r1", "r2")
	c := w.dial("/", "r2")
	d := w.dial("/")
	chat := w.dial("/chat", "r1")
	peers := map[string]*peer{"a": a, "b": b, "c": c, "d": d}
	tests := []struct {
		name string
		body string
		want string // who receives, in order a b c d
	}{
		{"one room", `{"rooms":"r1","event":"ev"}`, "ab"},
		{"one room in a list", `{"rooms":["r2"],"event":"ev"}`, "bc"},
		{"two rooms, each socket once", `{"rooms":["r1","r2"],"event":"ev"}`, "abc"},
		{"except a room", `{"rooms":"r1","except":"r2","event":"ev"}`, "a"},
		{"except a socket id", `{"rooms":["r1","r2"],"except":["` + b.id + `"],"event":"ev"}`, "ac"},
		{"to a socket id", `{"rooms":"` + d.id + `","event":"ev"}`, "d"},
		{"whole namespace", `{"event":"ev"}`, "abcd"},
		{"whole namespace, empty list", `{"rooms":[],"namespace":"/","event":"ev"}`, "abcd"},
		{"whole namespace, null", `{"rooms":null,"event":"ev"}`, "abcd"},
		{"whole namespace except a room", `{"except":"r1","event":"ev"}`, "cd"},
		{"nobody", `{"rooms":"empty","event":"ev"}`, ""},
		{"another namespace", `{"namespace":"/chat","rooms":"r1","event":"ev"}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if status, got, _ := w.call("POST", "/api/emit", tc.body); status != 200 || got != `{"ok":true}` {
				t.Fatalf("%d %s", status, got)
			}
			if err := w.srv.Emit("mark"); err != nil {
				t.Fatal(err)
			}
			var who string
			for _, name := range []string{"a", "b", "c", "d"} {
				switch got := peers[name].got(); {
				case len(got) == 0:
				case len(got) == 1 && got[0] == `42["ev"]`:
					who += name
				default:
					t.Errorf("%s received %q", name, got)
				}
			}
			if who != tc.want {
				t.Errorf("received by %q, want %q", who, tc.want)
			}
		})
	}
	// The /chat client got only the event for its namespace.
	if err := w.srv.Of("/chat").Emit("mark"); err != nil {
		t.Fatal(err)
	}
	if got := chat.got(); !slices.Equal(got, []string{`42/chat,["ev"]`}) {
		t.Fatalf("chat client received %q", got)
	}
}

// Arguments go out as sent; the event hook is not run.
func TestEmitArgs(t *testing.T) {
	w := newWorld(t, httpapi.Config{})
	var hooked atomic.Int32
	w.srv.SetHooks(&hub.Hooks{Event: func(ev *hub.Event) error {
		hooked.Add(1)
		return hub.ErrDrop
	}})
	a := w.dial("/")
	tests := []struct{ args, want string }{
		{``, `42["ev"]`},
		{`,"args":[]`, `42["ev"]`},
		{`,"args":null`, `42["ev"]`},
		{`,"args":[1,"two",{"three":[3]},null,true]`, `42["ev",1,"two",{"three":[3]},null,true]`},
		{`,"args":[ {"sp" : "aced"} , "\u00e9<>&" ]`, `42["ev",{"sp" : "aced"} , "\u00e9<>&"]`},
	}
	for _, tc := range tests {
		if status, got, _ := w.call("POST", "/api/emit", `{"event":"ev"`+tc.args+`}`); status != 200 {
			t.Fatalf("%s: %d %s", tc.args, status, got)
		}
		p, err := a.c.NextEvent("/", wait)
		if err != nil {
			t.Fatal(err)
		}
		if p.Text != tc.want {
			t.Errorf("args %s: received %s, want %s", tc.args, p.Text, tc.want)
		}
	}
	if n := hooked.Load(); n != 0 {
		t.Fatalf("the event hook ran %d times", n)
	}
}

func TestRooms(t *testing.T) {
	w := newWorld(t, httpapi.Config{})
	a := w.dial("/", "r1")
	w.dial("/", "r1", "r2")
	d := w.dial("/")
	// d is also in a's id room: still not a room to list.
	if err := w.srv.In(d.id).SocketsJoin(a.id); err != nil {
		t.Fatal(err)
	}
	w.dial("/chat", "elsewhere")
	status, got, _ := w.call("GET", "/api/rooms", "")
	if status != 200 || got != `{"ok":true,"namespace":"/","rooms":["r1","r2"]}` {
		t.Fatalf("%d %s", status, got)
	}
	status, got, _ = w.call("GET", "/api/rooms?namespace=/chat", "")
	if status != 200 || got != `{"ok":true,"namespace":"/chat","rooms":["elsewhere"]}` {
		t.Fatalf("%d %s", status, got)
	}
	// HEAD answers the same status without a body.
	if status, got, _ := w.do("HEAD", "/api/rooms", nil, "Bearer "+key); status != 200 || got != "" {
		t.Fatalf("HEAD: %d %q", status, got)
	}
	srv2 := newWorld(t, httpapi.Config{})
	if status, got, _ := srv2.call("GET", "/api/rooms", ""); status != 200 || got != `{"ok":true,"namespace":"/","rooms":[]}` {
		t.Fatalf("no rooms: %d %s", status, got)
	}
}

type socketsBody struct {
	OK        bool             `json:"ok"`
	Namespace string           `json:"namespace"`
	Sockets   []httpapi.Socket `json:"sockets"`
}

func TestSockets(t *testing.T) {
	w := newWorld(t, httpapi.Config{})
	a := w.dial("/", "r1")
	b := w.dial("/", "r1", "r2")
	c := w.dial("/", "r2")
	w.srv.Of("/").Socket(b.id).SetData(map[string]any{"user": "bob"})
	ids := func(list []httpapi.Socket) []string {
		out := make([]string, len(list))
		for i, s := range list {
			out[i] = s.ID
		}
		return out
	}
	sorted := func(ids ...string) []string { slices.Sort(ids); return ids }
	tests := []struct {
		query string
		want  []string
	}{
		{"", sorted(a.id, b.id, c.id)},
		{"?namespace=/", sorted(a.id, b.id, c.id)},
		{"?room=r1", sorted(a.id, b.id)},
		{"?namespace=/&room=r2", sorted(b.id, c.id)},
		{"?room=r1&room=r2", sorted(a.id, b.id, c.id)},
		{"?room=none", []string{}},
		{"?room=" + c.id, []string{c.id}},
		{"?namespace=/chat", []string{}},
	}
	for _, tc := range tests {
		status, raw, _ := w.call("GET", "/api/sockets"+tc.query, "")
		var got socketsBody
		if err := json.Unmarshal([]byte(raw), &got); err != nil || status != 200 || !got.OK {
			t.Fatalf("%s: %d %s", tc.query, status, raw)
		}
		if !slices.Equal(ids(got.Sockets), tc.want) {
			t.Errorf("%s: sockets %q, want %q", tc.query, ids(got.Sockets), tc.want)
		}
	}
	// One socket in full.
	_, raw, _ := w.call("GET", "/api/sockets?room="+b.id, "")
	want := `{"ok":true,"namespace":"/","sockets":[{"id":"` + b.id + `","rooms":["r1","r2"],"data":{"user":"bob"}}]}`
	if raw != want {
		t.Fatalf("got  %s\nwant %s", raw, want)
	}
	_, raw, _ = w.call("GET", "/api/sockets?room="+a.id, "")
	want = `{"ok":true,"namespace":"/","sockets":[{"id":"` + a.id + `","rooms":["r1"],"data":{}}]}`
	if raw != want {
		t.Fatalf("got  %s\nwant %s", raw, want)
	}
}

func TestDisconnect(t *testing.T) {
	w := newWorld(t, httpapi.Config{})
	a := w.dial("/")
	if _, err := a.c.Connect("/chat", nil); err != nil {
		t.Fatal(err)
	}
	b := w.dial("/")
	// Without close: a leaves "/" and stays in "/chat".
	if status, got, _ := w.call("POST", "/api/disconnect", `{"namespace":"/","id":"`+a.id+`"}`); status != 200 || got != `{"ok":true}` {
		t.Fatalf("%d %s", status, got)
	}
	p, err := a.c.Wait(wait, func(p *testclient.Packet) bool { return p.Type == testclient.Disconnect })
	if err != nil || p.Nsp != "/" {
		t.Fatalf("a got %v, %v; want a DISCONNECT of /", p, err)
	}
	if w.srv.Of("/").Socket(a.id) != nil {
		t.Fatal("a is still connected to /")
	}
	if w.srv.Of("/chat").Len() != 1 {
		t.Fatal("a left /chat too")
	}
	// Once gone, it is unknown.
	if status, _, _ := w.call("POST", "/api/disconnect", `{"id":"`+a.id+`"}`); status != 404 {
		t.Fatalf("disconnect again: %d", status)
	}
	// With close: the whole connection ends.
	if status, got, _ := w.call("POST", "/api/disconnect", `{"id":"`+b.id+`","close":true}`); status != 200 || got != `{"ok":true}` {
		t.Fatalf("%d %s", status, got)
	}
	if err := b.c.WaitClosed(wait); err != nil {
		t.Fatal(err)
	}
}

// A custom prefix; the scheme's case does not matter.
func TestPrefixAndScheme(t *testing.T) {
	w := newWorld(t, httpapi.Config{Prefix: "/hub/v1/"})
	if status, got, _ := w.do("GET", "/hub/v1/rooms", nil, "bearer "+key); status != 200 || got != `{"ok":true,"namespace":"/","rooms":[]}` {
		t.Fatalf("%d %s", status, got)
	}
}

// The handler answers 404 to a path outside its prefix (mounted without a
// mux, say).
func TestOutsidePrefix(t *testing.T) {
	srv := hub.New(hub.Options{})
	api, err := httpapi.New(srv, httpapi.Config{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/elsewhere/rooms", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	api.ServeHTTP(rec, req)
	if rec.Code != 404 || !strings.Contains(rec.Body.String(), `"no endpoint /elsewhere/rooms`) {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}

func TestValidate(t *testing.T) {
	if err := (httpapi.Config{Key: "k"}).Validate(); err != nil {
		t.Fatalf("minimal config: %v", err)
	}
	err := httpapi.Config{Key: "a b", Prefix: "api", MaxBody: -1, Timeout: -time.Second}.Validate()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{
		"key holds white space",
		`prefix "api" must start and end with /`,
		"max_body is -1",
		"timeout is -1s",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := httpapi.New(hub.New(hub.Options{}), httpapi.Config{}); err == nil || !strings.Contains(err.Error(), "key is empty") {
		t.Fatalf("New without a key: %v", err)
	}
}

// downAdapter is a cluster adapter whose broker is down: local delivery
// works, the other nodes cannot be reached.
type downAdapter struct{ hub.LocalAdapter }

var errDown = fmt.Errorf("test broker down: %w", hub.ErrUnavailable)

func (a downAdapter) Broadcast(p *hub.Packet, o hub.BroadcastOptions) error {
	_ = a.LocalAdapter.Broadcast(p, o)
	return errDown
}

func (a downAdapter) FetchSockets(ctx context.Context, o hub.BroadcastOptions) ([]*hub.RemoteSocket, error) {
	local, _ := a.LocalAdapter.FetchSockets(ctx, o)
	return local, errDown
}

func TestClusterUnavailable(t *testing.T) {
	srv := hub.New(hub.Options{Adapter: func(_ *hub.Namespace, local hub.LocalAdapter) (hub.Adapter, error) {
		return downAdapter{local}, nil
	}})
	api, err := httpapi.New(srv, httpapi.Config{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	mux.Handle(httpapi.DefaultPrefix, api)
	ts := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); ts.Close() })
	w := &world{t: t, srv: srv, url: ts.URL}
	p := w.dial("/", "lobby")

	status, body, _ := w.call("POST", "/api/emit", `{"rooms":"lobby","event":"news","args":[1]}`)
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "this node's clients only") {
		t.Errorf("emit with the other nodes unreachable: %d %s, want 503 saying only this node got it", status, body)
	}
	if _, err := p.c.WaitEvent("/", "news", wait); err != nil {
		t.Errorf("the local client did not get the event: %v", err)
	}
	for _, path := range []string{"/api/rooms", "/api/sockets"} {
		status, body, _ := w.call("GET", path, "")
		if status != http.StatusServiceUnavailable || !strings.Contains(body, "cannot be reached") {
			t.Errorf("GET %s: %d %s, want 503", path, status, body)
		}
	}
}

// A body that is not valid UTF-8 is refused whole, wherever the bad bytes
// are, and nothing is sent: in args they would reach WebSocket clients in
// text frames, which they drop the connection over.
func TestEmitRefusesInvalidUTF8(t *testing.T) {
	w := newWorld(t, httpapi.Config{})
	a := w.dial("/")
	const want = `{"ok":false,"error":"bad JSON body: it is not valid UTF-8: encode the body as UTF-8, and binary data as text (base64, say)"}`
	for _, b := range []string{
		"{\"event\":\"ev\",\"args\":[\"\xff\"]}",
		"{\"event\":\"ev\",\"args\":[{\"k\":\"a\xe2\x82\"}]}",
		"{\"event\":\"ev\xc0\xaf\"}",
		"{\"event\":\"ev\",\"rooms\":\"r\x87\"}",
	} {
		if status, got, _ := w.call("POST", "/api/emit", b); status != 400 || got != want {
			t.Errorf("%q: %d %s", b, status, got)
		}
	}
	if err := w.srv.Emit("mark"); err != nil {
		t.Fatal(err)
	}
	if got := a.got(); len(got) != 0 {
		t.Errorf("client received %q", got)
	}
	select {
	case <-a.c.Done():
		t.Errorf("client disconnected: %v", a.c.Err())
	default:
	}
}
