package hub_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/testclient"
)

var idRE = regexp.MustCompile(`^[A-Za-z0-9_-]{20}$`)

// The CONNECT reply is exactly {"sid":<id>}: a fresh 20-character id, not
// the Engine.IO session id, which the server's socket reports as its ID.
func TestConnectReply(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	srv.Of("/chat")
	c := hubDial(t, url)
	if !idRE.MatchString(c.SID()) {
		t.Errorf("engine sid %q is not 20 URL-safe characters", c.SID())
	}
	if err := c.SendText("40"); err != nil {
		t.Fatal(err)
	}
	p := nextAny(t, c)
	if p.Type != testclient.Connect || p.Nsp != "/" {
		t.Fatalf("got %s, want a CONNECT reply", p.Text)
	}
	var reply map[string]any
	if err := json.Unmarshal(p.Data, &reply); err != nil || len(reply) != 1 {
		t.Fatalf("CONNECT reply payload %s: want exactly one key", p.Data)
	}
	sid, _ := reply["sid"].(string)
	if p.Text != `40{"sid":"`+sid+`"}` {
		t.Errorf("CONNECT reply = %s", p.Text)
	}
	if !idRE.MatchString(sid) || sid == c.SID() {
		t.Errorf("socket id %q: want 20 URL-safe characters, not the engine sid %q", sid, c.SID())
	}
	s := hubSocket(t, srv.Of("/"), sid)
	if s.ID() != sid || !s.Connected() || s.Namespace() != srv.Of("/") || s.Transport() != "websocket" {
		t.Errorf("server socket: id %q connected %v transport %q", s.ID(), s.Connected(), s.Transport())
	}

	if err := c.SendText("40/chat,"); err != nil {
		t.Fatal(err)
	}
	p = nextAny(t, c)
	if !strings.HasPrefix(p.Text, `40/chat,{"sid":"`) || len(p.Text) != len(`40/chat,{"sid":"`)+22 {
		t.Errorf("CONNECT reply for /chat = %s", p.Text)
	}
	chatID := p.Text[len(`40/chat,{"sid":"`) : len(p.Text)-2]
	if chatID == sid || chatID == c.SID() {
		t.Errorf("/chat socket id %q reused another id", chatID)
	}
	if srv.Of("/").Len() != 1 || srv.Of("/chat").Len() != 1 {
		t.Errorf("Len: / %d, /chat %d", srv.Of("/").Len(), srv.Of("/chat").Len())
	}
}

// Handshake().Auth is the CONNECT payload as sent, {} when there is none;
// the rest of the handshake comes from the first HTTP request.
func TestHandshakeAuth(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	got := make(chan hub.Handshake, 2)
	srv.OnConnection(func(s *hub.Socket) { got <- s.Handshake() })

	c := hubDialOpts(t, url, testclient.Options{Query: map[string][]string{"room": {"lobby"}}})
	hubConnect(t, c, "/", nil)
	h := <-got
	if string(h.Auth) != "{}" {
		t.Errorf("Auth without payload = %s, want {}", h.Auth)
	}
	if h.Query().Get("room") != "lobby" || h.Query().Get("EIO") != "4" || h.Query().Get("transport") != "websocket" {
		t.Errorf("Query = %v", h.Query())
	}
	if h.Address != "127.0.0.1" || h.Secure || h.XDomain || h.Issued == 0 || h.Time == "" || !strings.HasPrefix(h.URL, ioPath+"?") {
		t.Errorf("handshake = %+v", h)
	}
	if h.Host == "" || h.Headers.Get("Upgrade") != "websocket" {
		t.Errorf("Host %q, Headers = %v", h.Host, h.Headers)
	}
	// JSON: the reference server's socket.handshake shape.
	var j map[string]any
	b, err := json.Marshal(h)
	if err != nil || json.Unmarshal(b, &j) != nil {
		t.Fatalf("marshal handshake: %v", err)
	}
	headers, _ := j["headers"].(map[string]any)
	query, _ := j["query"].(map[string]any)
	if len(j) != 9 || headers["host"] != h.Host || headers["upgrade"] != "websocket" || query["room"] != "lobby" ||
		j["address"] != "127.0.0.1" || j["auth"] == nil || j["url"] != h.URL || j["issued"] != float64(h.Issued) {
		t.Errorf("handshake JSON = %s", b)
	}

	c2 := hubDial(t, url)
	if err := c2.SendText(`40{"token":"a<b", "n": 1}`); err != nil {
		t.Fatal(err)
	}
	h = <-got
	if string(h.Auth) != `{"token":"a<b", "n": 1}` {
		t.Errorf("Auth = %s, want the CONNECT payload byte for byte", h.Auth)
	}
}

// Server middlewares run before the namespace's, which run before the
// connect hook and then the connection listeners.
func TestMiddlewareOrder(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	var rec strLog
	srv.Use(func(s *hub.Socket) error { rec.add("server-1 " + s.Namespace().Name()); return nil })
	chat := srv.Of("/chat")
	chat.Use(func(*hub.Socket) error { rec.add("nsp-1"); return nil })
	srv.Use(func(*hub.Socket) error { rec.add("server-2"); return nil })
	chat.Use(func(s *hub.Socket) error {
		rec.add("nsp-2")
		if !s.Connected() {
			t.Error("socket not connected while its middlewares run")
		}
		return nil
	})
	srv.SetHooks(&hub.Hooks{Connect: func(*hub.Socket) error { rec.add("connect-hook"); return nil }})
	chat.OnConnection(func(*hub.Socket) { rec.add("connection-1") })
	chat.OnConnection(func(*hub.Socket) { rec.add("connection-2") })

	c := hubDial(t, url)
	hubConnect(t, c, "/chat", nil)
	want := []string{"server-1 /chat", "server-2", "nsp-1", "nsp-2", "connect-hook", "connection-1", "connection-2"}
	if got := rec.waitLen(t, len(want)); !slices.Equal(got, want) {
		t.Errorf("order = %q\nwant    %q", got, want)
	}
	// The server's middlewares apply to every namespace, "/" included.
	rec.reset()
	hubConnect(t, c, "/", nil)
	if got := rec.waitLen(t, 3); !slices.Equal(got, []string{"server-1 /", "server-2", "connect-hook"}) {
		t.Errorf("order for / = %q", got)
	}
}

// A middleware's error refuses the socket with CONNECT_ERROR {"message"}
// or {"message","data"}; later middlewares and listeners do not run, and
// the connection stays open for other namespaces.
func TestMiddlewareError(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	var rec strLog
	admin := srv.Of("/admin")
	admin.Use(func(s *hub.Socket) error {
		var auth struct{ Token string }
		_ = json.Unmarshal(s.Handshake().Auth, &auth)
		switch auth.Token {
		case "plain":
			return errors.New(`no "way" <here>`)
		case "data":
			return &hub.ConnectError{Message: "not authorized", Data: map[string]any{"code": 401, "why": []string{"a", "b"}}}
		case "wrapped":
			return wrapErr(&hub.ConnectError{Message: "inner", Data: "d"})
		}
		return nil
	})
	admin.Use(func(*hub.Socket) error { rec.add("second middleware"); return nil })
	admin.OnConnection(func(*hub.Socket) { rec.add("connection") })

	c := hubDial(t, url)
	cases := []struct{ token, want string }{
		{"plain", `44/admin,{"message":"no \"way\" <here>"}`},
		{"data", `44/admin,{"message":"not authorized","data":{"code":401,"why":["a","b"]}}`},
		{"wrapped", `44/admin,{"message":"inner","data":"d"}`},
	}
	for _, tc := range cases {
		_, err := c.Connect("/admin", map[string]string{"token": tc.token})
		var refused *testclient.ConnectRefused
		if !errors.As(err, &refused) {
			t.Fatalf("token %s: err = %v, want a connect_error", tc.token, err)
		}
		// The refusal is the last packet the client got.
		if got := "44/admin," + string(refused.Payload); got != tc.want {
			t.Errorf("token %s: got %s, want %s", tc.token, got, tc.want)
		}
	}
	if admin.Len() != 0 || len(rec.get()) != 0 {
		t.Errorf("after refusals: Len %d, ran %q", admin.Len(), rec.get())
	}
	if rooms, _ := admin.Rooms(t.Context()); len(rooms) != 0 {
		t.Errorf("refused sockets left rooms %q", rooms)
	}
	// Same connection: a good token now connects.
	id := hubConnect(t, c, "/admin", map[string]string{"token": "ok"})
	if got := rec.waitLen(t, 2); !slices.Equal(got, []string{"second middleware", "connection"}) {
		t.Errorf("ran %q", got)
	}
	hubSocket(t, admin, id)
}

func wrapErr(err error) error { return &wrappedErr{err} }

type wrappedErr struct{ err error }

func (w *wrappedErr) Error() string { return "wrapped: " + w.err.Error() }
func (w *wrappedErr) Unwrap() error { return w.err }

// An unknown namespace gets `44/x,{"message":"Invalid namespace"}` and the
// connection stays open.
func TestUnknownNamespace(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	c := hubDial(t, url)
	if err := c.SendText("40/x,"); err != nil {
		t.Fatal(err)
	}
	if p := nextAny(t, c); p.Text != `44/x,{"message":"Invalid namespace"}` {
		t.Errorf("got %s", p.Text)
	}
	// Without the comma, and with auth: same answer.
	if err := c.SendText(`40/y`); err != nil {
		t.Fatal(err)
	}
	if p := nextAny(t, c); p.Text != `44/y,{"message":"Invalid namespace"}` {
		t.Errorf("got %s", p.Text)
	}
	if _, err := c.Connect("/z", map[string]int{"a": 1}); err == nil {
		t.Error("connect to /z succeeded")
	}
	id := hubConnect(t, c, "/", nil)
	hubSocket(t, srv.Of("/"), id)
	for _, n := range srv.Namespaces() {
		if n.Name() != "/" {
			t.Errorf("namespace %s was created", n.Name())
		}
	}
}

// Dynamic namespaces: children are made on demand, inherit the parent's
// middlewares and connection listeners (after the server's, before their
// own), and an existing namespace wins over a matcher.
func TestDynamicNamespaces(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	var rec strLog
	srv.Use(func(s *hub.Socket) error { rec.add("server " + s.Namespace().Name()); return nil })
	parent := srv.OfPattern(regexp.MustCompile(`^/dyn-\d+$`))
	parent.Use(func(s *hub.Socket) error { rec.add("parent-mw " + s.Namespace().Name()); return nil })
	parent.OnConnection(func(s *hub.Socket) {
		rec.add("parent-conn " + s.Namespace().Name())
		_ = s.Emit("welcome", s.Namespace().Name())
	})
	static := srv.Of("/dyn-2")
	static.OnConnection(func(*hub.Socket) { rec.add("static-conn") })

	c := hubDial(t, url)
	hubConnect(t, c, "/dyn-1", nil)
	want := []string{"server /dyn-1", "parent-mw /dyn-1", "parent-conn /dyn-1"}
	if got := rec.waitLen(t, 3); !slices.Equal(got, want) {
		t.Errorf("ran %q, want %q", got, want)
	}
	if p := nextEvent(t, c, "/dyn-1"); p.Event != "welcome" || p.Str(0) != "/dyn-1" {
		t.Errorf("got %s", p.Text)
	}
	children := parent.Children()
	if len(children) != 1 || children[0].Name() != "/dyn-1" || srv.Of("/dyn-1") != children[0] {
		t.Errorf("Children() = %v", children)
	}
	// A child's own middleware runs after the parent's.
	children[0].Use(func(*hub.Socket) error { rec.add("child-mw"); return nil })
	rec.reset()
	c2 := hubDial(t, url)
	hubConnect(t, c2, "/dyn-1", nil)
	if p := nextEvent(t, c2, "/dyn-1"); p.Event != "welcome" {
		t.Errorf("got %s", p.Text)
	}
	if got := rec.waitLen(t, 4); !slices.Equal(got, []string{"server /dyn-1", "parent-mw /dyn-1", "child-mw", "parent-conn /dyn-1"}) {
		t.Errorf("second socket ran %q", got)
	}
	// The static namespace wins: no parent middleware or listener.
	rec.reset()
	hubConnect(t, c, "/dyn-2", nil)
	if got := rec.waitLen(t, 2); !slices.Equal(got, []string{"server /dyn-2", "static-conn"}) {
		t.Errorf("static namespace ran %q", got)
	}
	if _, err := c.Connect("/dyn-x", nil); err == nil || err.Error() != `connect_error: {"message":"Invalid namespace"}` {
		t.Errorf("/dyn-x: %v", err)
	}

	// ParentNamespace.Emit reaches every child's sockets.
	if err := parent.Emit("all", 1); err != nil {
		t.Fatal(err)
	}
	for _, cl := range []*testclient.Client{c, c2} {
		if p := nextEvent(t, cl, "/dyn-1"); p.Text != `42/dyn-1,["all",1]` {
			t.Errorf("parent emit: got %s", p.Text)
		}
	}

	// OfFunc sees the auth; matchers are tried in order.
	fn := srv.OfFunc(func(name string, auth json.RawMessage) bool {
		var a struct{ OK bool }
		_ = json.Unmarshal(auth, &a)
		return strings.HasPrefix(name, "/fn-") && a.OK
	})
	fn.OnConnection(func(s *hub.Socket) { rec.add("fn-conn " + s.Namespace().Name()) })
	if _, err := c.Connect("/fn-a", map[string]bool{"ok": false}); err == nil {
		t.Error("OfFunc accepted auth ok=false")
	}
	rec.reset()
	hubConnect(t, c, "/fn-a", map[string]bool{"ok": true})
	if got := rec.waitLen(t, 2); !slices.Equal(got, []string{"server /fn-a", "fn-conn /fn-a"}) {
		t.Errorf("OfFunc child ran %q", got)
	}
}

// CleanupEmptyChildNamespaces drops a child when its last socket leaves;
// without it the child stays.
func TestCleanupEmptyChildNamespaces(t *testing.T) {
	for _, cleanup := range []bool{false, true} {
		srv, url := hubServer(t, hub.Options{CleanupEmptyChildNamespaces: cleanup})
		parent := srv.OfPattern(regexp.MustCompile(`^/room-`))
		c := hubDial(t, url)
		id1 := hubConnect(t, c, "/room-a", nil)
		c2 := hubDial(t, url)
		hubConnect(t, c2, "/room-a", nil)
		child := parent.Children()[0]
		hubSocket(t, child, id1)
		if err := c.Disconnect("/room-a"); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, func() bool { return child.Len() == 1 }, "one socket left")
		if len(parent.Children()) != 1 {
			t.Fatalf("cleanup=%v: child dropped while a socket remains", cleanup)
		}
		c2.Close()
		waitUntil(t, func() bool { return child.Len() == 0 }, "no socket left")
		has := func() bool {
			for _, n := range srv.Namespaces() {
				if n.Name() == "/room-a" {
					return true
				}
			}
			return false
		}
		if cleanup {
			waitUntil(t, func() bool { return !has() && len(parent.Children()) == 0 }, "child dropped")
			// A new client gets a new child.
			hubConnect(t, c, "/room-a", nil)
			if ch := parent.Children(); len(ch) != 1 || ch[0] == child {
				t.Errorf("after cleanup: children %v", ch)
			}
		} else if !has() || len(parent.Children()) != 1 {
			t.Errorf("without cleanup the child was dropped")
		}
	}
}

// ConnectTimeout closes a connection that joins no namespace in time,
// including one whose only attempt was refused; a connected one stays.
func TestConnectTimeout(t *testing.T) {
	// Long enough that joined connects in time on a loaded machine.
	const timeout = 2 * time.Second
	srv, url := hubServer(t, hub.Options{ConnectTimeout: timeout})
	srv.Of("/locked").Use(func(*hub.Socket) error { return errors.New("no") })
	srv.OnConnection(func(s *hub.Socket) {
		s.On("ping", func(ev *hub.Event) { _ = ev.Ack("pong") })
	})
	idle := hubDial(t, url)
	refused := hubDial(t, url)
	if _, err := refused.Connect("/locked", nil); err == nil {
		t.Fatal("connected to /locked")
	}
	joined := hubDial(t, url)
	hubConnect(t, joined, "/", nil)

	for name, c := range map[string]*testclient.Client{"idle": idle, "refused": refused} {
		if err := c.WaitClosed(testWait); err != nil {
			t.Errorf("%s connection: %v", name, err)
		}
	}
	// late's timer starts after joined connected: once the server closed
	// late, joined's timer, had it not been stopped, would have fired too.
	late := hubDial(t, url)
	if err := late.WaitClosed(testWait); err != nil {
		t.Errorf("late connection: %v", err)
	}
	if p, err := joined.EmitWithAck("/", "ping"); err != nil || p.Str(0) != "pong" {
		t.Errorf("joined connection after the timeout: %v", err)
	}
	waitUntil(t, func() bool { return srv.Connections() == 1 }, "one connection left (have %d)", srv.Connections())
}

// A child is not dropped while a socket is still connecting to it: a
// client whose middlewares are running when the child's last socket
// leaves must end up in the child the server knows, reachable by the
// parent's broadcasts and by later clients.
func TestCleanupSpareChildWithConnectingSocket(t *testing.T) {
	srv, url := hubServer(t, hub.Options{CleanupEmptyChildNamespaces: true})
	parent := srv.OfPattern(regexp.MustCompile(`^/game-`))
	entered, proceed := make(chan struct{}), make(chan struct{})
	parent.Use(func(s *hub.Socket) error {
		var auth struct{ Slow bool }
		_ = json.Unmarshal(s.Handshake().Auth, &auth)
		if auth.Slow {
			close(entered)
			<-proceed
		}
		return nil
	})
	first := hubDial(t, url)
	hubConnect(t, first, "/game-1", nil)
	child := parent.Children()[0]

	second := hubDial(t, url)
	connected := make(chan error, 1)
	go func() {
		_, err := second.Connect("/game-1", map[string]bool{"slow": true})
		connected <- err
	}()
	<-entered
	// The first socket leaves while the second is in its middleware.
	_ = first.Disconnect("/game-1")
	waitUntil(t, func() bool { return child.Len() == 0 }, "first socket gone")
	close(proceed)
	if err := <-connected; err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return child.Len() == 1 }, "second socket added")

	registered := false
	for _, n := range srv.Namespaces() {
		if n == child {
			registered = true
		}
	}
	if !registered || len(parent.Children()) != 1 || parent.Children()[0] != child {
		t.Errorf("the second socket's namespace was dropped: registered %v, children %d", registered, len(parent.Children()))
	}
	// Both clients must share the namespace.
	third := hubDial(t, url)
	hubConnect(t, third, "/game-1", nil)
	if err := parent.Emit("to-all"); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*testclient.Client{"second": second, "third": third} {
		if p, err := c.NextEvent("/game-1", testWait); err != nil || p.Event != "to-all" {
			t.Errorf("%s client: parent.Emit did not arrive (%v)", name, err)
		}
	}
}

// A polling session that joins no namespace ends at ConnectTimeout, not
// once a poll carries its close packet (which a client that never polls
// never sends): afterwards its sid is unknown to POST and GET alike, as
// the reference answers for a session that is gone.
func TestConnectTimeoutEndsAnIdlePollingSession(t *testing.T) {
	srv, url := hubServer(t, hub.Options{ConnectTimeout: 50 * time.Millisecond, PingInterval: time.Hour, PingTimeout: time.Hour})
	p := newPollSession(t, url)
	waitUntil(t, func() bool { return srv.Connections() == 0 }, "the session closed")
	for _, method := range []string{http.MethodPost, http.MethodGet} {
		req, _ := http.NewRequest(method, p.url+"&sid="+p.sid, strings.NewReader("40"))
		resp, err := p.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || string(body) != `{"code":1,"message":"Session ID unknown"}` {
			t.Errorf("%s after the timeout: %d %s", method, resp.StatusCode, body)
		}
	}
}
