package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hubd/hubd/hub"
)

// nextMsg reads the next Socket.IO message of c, answering pings.
func nextMsg(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("reading: %v", err)
		}
		if string(msg) == "2" {
			_ = c.WriteMessage(websocket.TextMessage, []byte("3"))
			continue
		}
		return string(msg)
	}
}

// send writes a raw Socket.IO message.
func send(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatalf("writing %s: %v", msg, err)
	}
}

// emitAck sends event ack id on c and returns the messages c received
// before the ack, and the ack.
func emitAck(t *testing.T, c *websocket.Conn, id, payload string) (before []string, ack string) {
	t.Helper()
	send(t, c, "42"+id+payload)
	for {
		m := nextMsg(t, c)
		if strings.HasPrefix(m, "43"+id+"[") {
			return before, m
		}
		before = append(before, m)
	}
}

// reloadWith writes cfg to file, sends hubd SIGHUP and waits for the
// reload's log line want, the n-th of its kind.
func reloadWith(t *testing.T, d *daemon, file, cfg, want string, n int) {
	t.Helper()
	writeFileAt(t, file, cfg)
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(d.stderr.String(), want) < n {
		if time.Now().After(deadline) {
			t.Fatalf("no %q (#%d) logged:\n%s", want, n, d.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func writeFileAt(t *testing.T, path, content string) {
	t.Helper()
	dir, name := path[:strings.LastIndexByte(path, '/')], path[strings.LastIndexByte(path, '/')+1:]
	writeFile(t, dir, name, content)
}

// apiEmit posts an emit to the whole main namespace with key.
func apiEmit(t *testing.T, addr, key, event string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+addr+"/api/emit", strings.NewReader(`{"event":"`+event+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	return res.StatusCode
}

// TestSIGHUPReloadsConfig: a SIGHUP re-reads the config file. The API key
// and a namespace's echo and route change for the clients already
// connected; a change of listen address is logged as needing a restart;
// an invalid file is refused, every problem logged, and hubd keeps running
// with the config in force and every client.
func TestSIGHUPReloadsConfig(t *testing.T) {
	file := writeFile(t, t.TempDir(), "hubd.json", `{
		"listen": "127.0.0.1:0",
		"namespaces": [{"name": "/"}],
		"api": {"key": "old-key"}
	}`)
	d := start(t, "-config", file)

	// a and b in the room lobby, c in no room.
	conns := map[string]*websocket.Conn{}
	for _, name := range []string{"a", "b", "c"} {
		c, ans := sioConnect(t, d.addr, "")
		if !strings.HasPrefix(ans, `40{"sid"`) {
			t.Fatalf("connect %s: %s", name, ans)
		}
		conns[name] = c
	}
	a, b, c := conns["a"], conns["b"], conns["c"]
	for _, x := range []*websocket.Conn{a, b} {
		if _, ack := emitAck(t, x, "1", `["hub:join","lobby"]`); ack != `431[{"ok":true,"rooms":["lobby"]}]` {
			t.Fatalf("join: %s", ack)
		}
	}
	// marker publishes an event to everyone through the API, then checks
	// that c's next message is it (or chat, then it, when c should have got
	// the chat event too).
	marker := func(key string, cGetsChat bool) {
		t.Helper()
		if code := apiEmit(t, d.addr, key, "marker"); code != 200 {
			t.Fatalf("api emit with %s: %d", key, code)
		}
		got := nextMsg(t, c)
		if cGetsChat {
			if !strings.HasPrefix(got, `42["chat"`) {
				t.Fatalf("c (in no room) got %s, want the chat event", got)
			}
			got = nextMsg(t, c)
		}
		if got != `42["marker"]` {
			t.Fatalf("c got %s, want the marker (no chat event)", got)
		}
		for _, x := range []*websocket.Conn{a, b} {
			for m := nextMsg(t, x); m != `42["marker"]`; m = nextMsg(t, x) {
			}
		}
	}

	// As started: no echo, route rooms.
	before, ack := emitAck(t, a, "2", `["chat","one"]`)
	if ack != `432[{"ok":true}]` || len(before) != 0 {
		t.Fatalf("start: ack %s, a got %q before it (want nothing: no echo)", ack, before)
	}
	if m := nextMsg(t, b); m != `42["chat","one"]` {
		t.Fatalf("start: b got %s", m)
	}
	marker("old-key", false)

	// Reload 1: new key, echo on, and a listen address that needs a
	// restart.
	reloadWith(t, d, file, `{
		"listen": "127.0.0.1:1",
		"shutdown_grace": "3s",
		"namespaces": [{"name": "/", "echo": true}],
		"api": {"key": "new-key"},
		"log": {"level": "debug"}
	}`, "SIGHUP: config reloaded", 1)
	if !strings.Contains(d.stderr.String(), `"msg":"SIGHUP: setting needs a restart; keeping the old value","setting":"listen","old":"127.0.0.1:0","new":"127.0.0.1:1"`) {
		t.Errorf("no restart notice for listen:\n%s", d.stderr)
	}
	if !strings.Contains(d.stderr.String(), `"setting":"shutdown_grace","old":"10s","new":"3s"`) {
		t.Errorf("no restart notice for shutdown_grace:\n%s", d.stderr)
	}
	if code := apiEmit(t, d.addr, "old-key", "x"); code != 401 {
		t.Fatalf("old key after reload: %d, want 401", code)
	}
	before, ack = emitAck(t, a, "3", `["chat","two"]`)
	if ack != `433[{"ok":true}]` || len(before) != 1 || before[0] != `42["chat","two"]` {
		t.Fatalf("echo on: ack %s, a got %q before it, want its own event", ack, before)
	}
	if m := nextMsg(t, b); m != `42["chat","two"]` {
		t.Fatalf("echo on: b got %s", m)
	}
	marker("new-key", false)

	// Reload 2: route namespace, no echo: c gets it too, a does not.
	reloadWith(t, d, file, `{"listen": "127.0.0.1:0", "namespaces": [{"name": "/", "route": "namespace"}], "api": {"key": "new-key"}}`,
		"SIGHUP: config reloaded", 2)
	before, ack = emitAck(t, a, "4", `["chat","three"]`)
	if ack != `434[{"ok":true}]` || len(before) != 0 {
		t.Fatalf("route namespace: ack %s, a got %q before it", ack, before)
	}
	if m := nextMsg(t, b); m != `42["chat","three"]` {
		t.Fatalf("route namespace: b got %s", m)
	}
	marker("new-key", true)

	// Reload 3: an invalid file. Every problem is logged; hubd, its
	// clients and the config in force (key, route) stay.
	reloadWith(t, d, file, `{"listen": "", "namespaces": [{"name": "x", "route": "all"}], "socketio": {"max_payload": -1}}`,
		"SIGHUP: invalid config; keeping the one in force", 1)
	for _, p := range []string{`listen: empty`, `name \"x\" must start with /`, `route \"all\"`, `socketio.max_payload -1`} {
		if !strings.Contains(d.stderr.String(), `"msg":"SIGHUP: config problem","problem":"`) || !strings.Contains(d.stderr.String(), p) {
			t.Errorf("problem %s not logged:\n%s", p, d.stderr)
		}
	}
	before, ack = emitAck(t, a, "5", `["chat","four"]`)
	if ack != `435[{"ok":true}]` || len(before) != 0 {
		t.Fatalf("after the invalid file: ack %s, a got %q before it", ack, before)
	}
	if m := nextMsg(t, b); m != `42["chat","four"]` {
		t.Fatalf("after the invalid file: b got %s", m)
	}
	marker("new-key", true)

	// Reload 4: route none.
	reloadWith(t, d, file, `{"listen": "127.0.0.1:0", "namespaces": [{"name": "/", "route": "none"}], "api": {"key": "new-key"}}`,
		"SIGHUP: config reloaded", 3)
	if _, ack = emitAck(t, a, "6", `["chat","five"]`); ack != `436[{"ok":false,"error":"publishing is disabled"}]` {
		t.Fatalf("route none: ack %s", ack)
	}
	marker("new-key", false)

	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := d.wait(t); code != 0 {
		t.Fatalf("exit code %d:\n%s", code, d.stderr)
	}
}

// TestReloadCORSOrigins: once CORS is on, a reload changes the origins a
// browser may use, on polling (Access-Control-Allow-Origin) and WebSocket
// (checkOrigin) alike; emptied, CORS is off and any WebSocket origin is
// let in.
func TestReloadCORSOrigins(t *testing.T) {
	cfg := Defaults()
	cfg.SocketIO.CORSOrigins = []string{"https://a.example"}
	l := newLive(cfg, nil, slog.New(slog.DiscardHandler), new(slog.LevelVar))
	srv := hub.New(l.hubOptions())
	l.srv = srv
	t.Cleanup(func() { _ = srv.Close() })
	h := l.wrapHub(srv)
	allowOrigin := func(origin string) string {
		req := httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=polling", nil)
		req.Header.Set("Origin", origin)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("handshake from %s: %d %s", origin, rec.Code, rec.Body)
		}
		return rec.Header().Get("Access-Control-Allow-Origin")
	}
	wsAllowed := func(origin string) bool {
		req := httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=websocket", nil)
		req.Header.Set("Origin", origin)
		return l.checkOrigin(req)
	}
	check := func(when string, origins map[string]bool) {
		t.Helper()
		for o, ok := range origins {
			if got := allowOrigin(o); (got == o) != ok || (!ok && got != "") {
				t.Errorf("%s: polling from %s: Access-Control-Allow-Origin %q, allowed %v", when, o, got, ok)
			}
		}
	}
	check("at start", map[string]bool{"https://a.example": true, "https://b.example": false})
	if !wsAllowed("https://a.example") || wsAllowed("https://b.example") {
		t.Errorf("at start: websocket origins not checked")
	}

	next := cfg
	next.SocketIO.CORSOrigins = []string{"https://b.example"}
	l.apply(context.Background(), next)
	check("after reload", map[string]bool{"https://a.example": false, "https://b.example": true})
	if wsAllowed("https://a.example") || !wsAllowed("https://b.example") {
		t.Errorf("after reload: websocket origins not changed")
	}

	next.SocketIO.CORSOrigins = nil
	l.apply(context.Background(), next)
	check("CORS off", map[string]bool{"https://a.example": false, "https://b.example": false})
	if !wsAllowed("https://c.example") {
		t.Errorf("CORS off: a websocket origin refused")
	}
}

// TestCORSOriginPatterns: a cors_origins entry that starts with "^" allows
// the origins it matches, on polling and WebSocket alike, and the exposed
// headers reach a polling answer.
func TestCORSOriginPatterns(t *testing.T) {
	cfg := Defaults()
	cfg.SocketIO.CORSOrigins = []string{"https://a.example", `^https://[a-z]+\.chat\.example$`}
	cfg.SocketIO.CORSExposedHeaders = []string{"X-Request-Id"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	l := newLive(cfg, nil, slog.New(slog.DiscardHandler), new(slog.LevelVar))
	srv := hub.New(l.hubOptions())
	l.srv = srv
	t.Cleanup(func() { _ = srv.Close() })
	h := l.wrapHub(srv)
	for origin, ok := range map[string]bool{
		"https://a.example": true, "https://eu.chat.example": true,
		"https://eu.chat.example.evil": false, "https://b.example": false,
	} {
		req := httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=polling", nil)
		req.Header.Set("Origin", origin)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		got := rec.Header().Get("Access-Control-Allow-Origin")
		if (got == origin) != ok || (!ok && got != "") {
			t.Errorf("polling from %s: Access-Control-Allow-Origin %q, allowed %v", origin, got, ok)
		}
		if e := rec.Header().Get("Access-Control-Expose-Headers"); e != "X-Request-Id" {
			t.Errorf("polling from %s: Access-Control-Expose-Headers %q", origin, e)
		}
		ws := httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=websocket", nil)
		ws.Header.Set("Origin", origin)
		if l.checkOrigin(ws) != ok {
			t.Errorf("websocket from %s: allowed %v, want %v", origin, !ok, ok)
		}
	}

	bad := Defaults()
	bad.SocketIO.CORSOrigins = []string{"^https://(unclosed"}
	bad.SocketIO.CORSExposedHeaders = []string{"X-A, X-B"}
	wantProblems(t, "bad CORS", bad.Validate(), []string{`socketio.cors_origins[0] "^https://(unclosed": not a regular expression`,
		"socketio.cors_exposed_headers[0]"})
}

// TestSIGHUPSwitchesPluginDir: a reload that names another plugin
// directory puts its plugins in force for the next event; one whose
// plugins do not load keeps those in force; none turns plugins off. The
// client stays connected throughout.
func TestSIGHUPSwitchesPluginDir(t *testing.T) {
	base := t.TempDir()
	dirs := map[string]string{}
	for name, src := range map[string]string{"one": pingPluginJS(1), "two": pingPluginJS(2), "broken": `hubd.on("event", (env) => {`} {
		dirs[name] = base + "/" + name
		writeJSPlugin(t, dirs[name], "p", src)
	}
	conf := func(dir string) string {
		if dir == "" {
			return `{"listen": "127.0.0.1:0"}`
		}
		return `{"listen": "127.0.0.1:0", "plugins": {"dir": "` + dir + `"}}`
	}
	file := writeFile(t, base, "hubd.json", conf(dirs["one"]))
	d := start(t, "-config", file)
	c, ans := sioConnect(t, d.addr, "")
	if !strings.HasPrefix(ans, `40{"sid"`) {
		t.Fatalf("connect: %s", ans)
	}
	ping := func(id, want string) {
		t.Helper()
		if _, ack := emitAck(t, c, id, `["ping"]`); ack != "43"+id+want {
			t.Fatalf("ping: ack %s, want %s", ack, "43"+id+want)
		}
	}
	ping("1", `[{"v":1}]`)

	reloadWith(t, d, file, conf(dirs["two"]), "SIGHUP: config reloaded", 1)
	ping("2", `[{"v":2}]`)

	reloadWith(t, d, file, conf(dirs["broken"]), "SIGHUP: plugin directory not switched; the plugins in force stay", 1)
	ping("3", `[{"v":2}]`)

	reloadWith(t, d, file, conf(""), "SIGHUP: plugins off", 1)
	ping("4", `[{"ok":true}]`) // relayed: no plugin answers it now
}
