package adminui_test

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/adminui"
	"github.com/hubd/hubd/hub/internal/testclient"
	"golang.org/x/crypto/bcrypt"
)

// testWait bounds every wait; nothing is asserted on speed.
const testWait = 20 * time.Second

// server starts srv with the admin UI instrumented; all is closed when the
// test ends.
func server(t *testing.T, hopts hub.Options, opts adminui.Options) (*hub.Server, *adminui.Admin, string) {
	t.Helper()
	srv := hub.New(hopts)
	srv.OnConnection(func(s *hub.Socket) {
		s.On("join", func(ev *hub.Event) {
			var room string
			_ = ev.Args.Bind(&room)
			_ = s.Join(room)
			_ = ev.Ack("ok")
		})
		s.On("echo", func(ev *hub.Event) { _ = s.Namespace().To(s.ID()).EmitArgs("echo", ev.Args) })
	})
	admin, err := adminui.Instrument(srv, opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		_ = admin.Close()
		_ = srv.Close()
		ts.Close()
	})
	return srv, admin, ts.URL
}

func dial(t *testing.T, url string) *testclient.Client {
	t.Helper()
	c, err := testclient.Dial(url, "/socket.io/")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func connect(t *testing.T, c *testclient.Client, nsp string, auth any) string {
	t.Helper()
	id, err := c.Connect(nsp, auth)
	if err != nil {
		t.Fatalf("connect %s: %v", nsp, err)
	}
	return id
}

// event waits for the UI's next event named name.
func event(t *testing.T, ui *testclient.Client, name string) *testclient.Packet {
	t.Helper()
	p, err := ui.WaitEvent("/admin", name, testWait)
	if err != nil {
		t.Fatalf("waiting for %s: %v (inbox: %s)", name, err, inbox(ui))
	}
	return p
}

// eventWhere waits for the UI's next event named name that match accepts.
func eventWhere(t *testing.T, ui *testclient.Client, name string, match func(*testclient.Packet) bool) *testclient.Packet {
	t.Helper()
	p, err := ui.Wait(testWait, func(p *testclient.Packet) bool {
		return p.Nsp == "/admin" && p.Event == name && match(p)
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v (inbox: %s)", name, err, inbox(ui))
	}
	return p
}

func inbox(c *testclient.Client) string {
	var b strings.Builder
	for _, p := range c.Pending() {
		b.WriteString(p.Text)
		b.WriteByte('\n')
	}
	return b.String()
}

type serialized struct {
	ID        string          `json:"id"`
	ClientID  string          `json:"clientId"`
	Transport string          `json:"transport"`
	Nsp       string          `json:"nsp"`
	Data      json.RawMessage `json:"data"`
	Handshake map[string]any  `json:"handshake"`
	Rooms     []string        `json:"rooms"`
}

type stats struct {
	ServerID            string `json:"serverId"`
	Hostname            string `json:"hostname"`
	PID                 int    `json:"pid"`
	Uptime              float64
	ClientsCount        int `json:"clientsCount"`
	PollingClientsCount int `json:"pollingClientsCount"`
	AggregatedEvents    []struct {
		Timestamp int64  `json:"timestamp"`
		Type      string `json:"type"`
		SubType   string `json:"subType"`
		Count     int    `json:"count"`
	} `json:"aggregatedEvents"`
	Namespaces []struct {
		Name         string `json:"name"`
		SocketsCount int    `json:"socketsCount"`
	} `json:"namespaces"`
}

func TestOptionsReportEveryProblem(t *testing.T) {
	_, err := adminui.Instrument(hub.New(hub.Options{}), adminui.Options{Namespace: "/", Mode: "staging"})
	if !errors.Is(err, adminui.ErrOptions) {
		t.Fatalf("err %v, want ErrOptions", err)
	}
	for _, want := range []string{"main namespace", "NoAuth", "staging"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	_, err = adminui.Instrument(hub.New(hub.Options{}), adminui.Options{Auth: &adminui.BasicAuth{Username: "a", PasswordHash: "secret"}})
	if err == nil || !strings.Contains(err.Error(), "bcrypt") {
		t.Fatalf("a password that is no hash: %v", err)
	}
	_, err = adminui.Instrument(hub.New(hub.Options{}), adminui.Options{NoAuth: true, Auth: &adminui.BasicAuth{}})
	if err == nil || !strings.Contains(err.Error(), "both") {
		t.Fatalf("Auth and NoAuth: %v", err)
	}
}

// TestBcryptjsHash: a hash made by bcryptjs, which the Node package's
// users make theirs with ($2a$), lets the right password in.
func TestBcryptjsHash(t *testing.T) {
	const hash = "$2a$10$IHxoUKFVmSvq6QC3pK9yeOKVMHo0yGXh6Os0w8QDsxHOs3ztIlgsq" // bcryptjs.hashSync("changeit", 10)
	_, _, url := server(t, hub.Options{}, adminui.Options{Auth: &adminui.BasicAuth{Username: "admin", PasswordHash: hash}})
	connect(t, dial(t, url), "/admin", map[string]any{"username": "admin", "password": "changeit"})
	if _, err := dial(t, url).Connect("/admin", map[string]any{"username": "admin", "password": "changeit!"}); err == nil {
		t.Fatal("a wrong password got in")
	}
}

func TestBasicAuth(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	_, _, url := server(t, hub.Options{}, adminui.Options{
		Auth: &adminui.BasicAuth{Username: "admin", PasswordHash: string(hash)},
	})
	for _, auth := range []any{
		nil,
		map[string]any{"username": "admin", "password": "wrong"},
		map[string]any{"username": "root", "password": "s3cret"},
		map[string]any{"username": "admin", "password": 5},
		map[string]any{"sessionId": "0123456789abcdef"},
		map[string]any{"sessionId": strings.Repeat("a", 100000)},
	} {
		_, err := dial(t, url).Connect("/admin", auth)
		var refused *testclient.ConnectRefused
		if !errors.As(err, &refused) || refused.Message != "invalid credentials" {
			t.Errorf("auth %v: %v, want invalid credentials", auth, err)
		}
	}

	ui := dial(t, url)
	connect(t, ui, "/admin", map[string]any{"username": "admin", "password": "s3cret"})
	session := event(t, ui, "session").Str(0)
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(session) {
		t.Fatalf("session id %q", session)
	}
	event(t, ui, "config")

	// The session id lets the UI back in without the password, and it
	// gets no new one.
	again := dial(t, url)
	connect(t, again, "/admin", map[string]any{"sessionId": session})
	event(t, again, "config")
	for _, p := range again.Pending() {
		if p.Event == "session" {
			t.Errorf("a UI back with its session got a new one: %s", p.Text)
		}
	}
}

func TestDevelopment(t *testing.T) {
	srv, _, url := server(t, hub.Options{}, adminui.Options{NoAuth: true, ServerID: "node-a", StatsInterval: 50 * time.Millisecond})
	a := dial(t, url)
	idA := connect(t, a, "/", map[string]any{"token": "hidden"})
	if _, err := a.EmitWithAck("/", "join", "lobby"); err != nil {
		t.Fatal(err)
	}

	ui := dial(t, url)
	uiID := connect(t, ui, "/admin", nil)
	var config struct {
		SupportedFeatures []string `json:"supportedFeatures"`
	}
	if err := event(t, ui, "config").Arg(0, &config); err != nil {
		t.Fatal(err)
	}
	want := []string{"EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT", "AGGREGATED_EVENTS", "ALL_EVENTS"}
	if !slices.Equal(config.SupportedFeatures, want) {
		t.Errorf("features %q, want %q", config.SupportedFeatures, want)
	}
	var all []serialized
	if err := event(t, ui, "all_sockets").Arg(0, &all); err != nil {
		t.Fatal(err)
	}
	byID := map[string]serialized{}
	for _, s := range all {
		byID[s.ID] = s
	}
	sa, ok := byID[idA]
	if !ok || sa.Nsp != "/" || !slices.Contains(sa.Rooms, "lobby") || !slices.Contains(sa.Rooms, idA) ||
		sa.Transport != "websocket" || len(sa.ClientID) != 12 || !strings.HasPrefix(a.SID(), sa.ClientID) {
		t.Errorf("socket A listed as %+v", sa)
	}
	if _, ok := sa.Handshake["auth"]; ok || sa.Handshake["address"] == nil || sa.Handshake["headers"] == nil {
		t.Errorf("handshake %v: want the address and headers, not the auth", sa.Handshake)
	}
	if s, ok := byID[uiID]; !ok || s.Nsp != "/admin" {
		t.Errorf("the UI's own socket listed as %+v", s)
	}

	// Statistics, with this node's namespaces and connections.
	st := stats{}
	eventWhere(t, ui, "server_stats", func(p *testclient.Packet) bool {
		st = stats{}
		return p.Arg(0, &st) == nil && st.ClientsCount == 2
	})
	if st.ServerID != "node-a" || st.PID == 0 || st.Hostname == "" || len(st.Namespaces) != 2 {
		t.Errorf("stats %+v", st)
	}

	// Live: a socket connects, joins, sends, is sent to, leaves.
	b := dial(t, url)
	idB := connect(t, b, "/", nil)
	p := eventWhere(t, ui, "socket_connected", func(p *testclient.Packet) bool {
		var s serialized
		return p.Arg(0, &s) == nil && s.ID == idB
	})
	if len(p.Args) != 2 || !strings.HasSuffix(p.Str(1), "Z") {
		t.Errorf("socket_connected %s: want a socket and a date", p.Text)
	}
	if _, err := b.EmitWithAck("/", "join", "kitchen"); err != nil {
		t.Fatal(err)
	}
	eventWhere(t, ui, "room_joined", func(p *testclient.Packet) bool {
		return p.Str(0) == "/" && p.Str(1) == "kitchen" && p.Str(2) == idB
	})
	if err := b.Emit("/", "echo", "hello", []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"event_received", "event_sent"} {
		p := eventWhere(t, ui, kind, func(p *testclient.Packet) bool {
			return p.Str(1) == idB && strings.HasPrefix(string(p.Args[2]), `["echo"`)
		})
		var args []json.RawMessage
		if err := p.Arg(2, &args); err != nil || len(args) != 3 || string(args[0]) != `"echo"` || string(args[1]) != `"hello"` ||
			len(p.Attachments) != 1 || string(p.Attachments[0]) != "\x01\x02\x03" {
			t.Errorf("%s %s (attachments %q): want [echo, hello, <binary>]", kind, p.Text, p.Attachments)
		}
	}
	_ = b.Disconnect("/")
	eventWhere(t, ui, "socket_disconnected", func(p *testclient.Packet) bool {
		return p.Str(0) == "/" && p.Str(1) == idB && p.Str(2) == "client namespace disconnect"
	})
	eventWhere(t, ui, "room_left", func(p *testclient.Packet) bool {
		return p.Str(1) == "kitchen" && p.Str(2) == idB
	})

	// The traffic shows in the aggregated events.
	seen := map[string]bool{}
	eventWhere(t, ui, "server_stats", func(p *testclient.Packet) bool {
		st := stats{}
		_ = p.Arg(0, &st)
		for _, e := range st.AggregatedEvents {
			if e.Count > 0 && e.Timestamp%1000 == 0 {
				seen[e.Type] = true
			}
		}
		return seen["rawConnection"] && seen["packetsIn"] && seen["packetsOut"] && seen["bytesIn"] && seen["bytesOut"]
	})
	_ = srv
}

func TestActions(t *testing.T) {
	srv, _, url := server(t, hub.Options{}, adminui.Options{NoAuth: true})
	a := dial(t, url)
	idA := connect(t, a, "/", nil)
	b := dial(t, url)
	idB := connect(t, b, "/", nil)
	ui := dial(t, url)
	connect(t, ui, "/admin", nil)
	event(t, ui, "all_sockets")
	main := srv.Of("/")
	sa, sb := main.Socket(idA), main.Socket(idB)

	// emit to all, to one socket (its own room), with binary.
	if err := ui.Emit("/admin", "emit", "/", nil, "news", "all", []byte{9}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*testclient.Client{a, b} {
		p, err := c.WaitEvent("/", "news", testWait)
		if err != nil || p.Str(0) != "all" || len(p.Attachments) != 1 {
			t.Fatalf("emit to all: %v %v", p, err)
		}
	}
	_ = ui.Emit("/admin", "emit", "/", idB, "news", "b only")
	if p, err := b.WaitEvent("/", "news", testWait); err != nil || p.Str(0) != "b only" {
		t.Fatalf("emit to B: %v %v", p, err)
	}

	// join and leave, for one socket then for all.
	_ = ui.Emit("/admin", "join", "/", "vip", idA)
	waitFor(t, "A in vip", func() bool { return sa.In("vip") })
	_ = ui.Emit("/admin", "join", "/", "all-hands")
	waitFor(t, "both in all-hands", func() bool { return sa.In("all-hands") && sb.In("all-hands") })
	_ = ui.Emit("/admin", "leave", "/", "all-hands", "vip")
	waitFor(t, "A out of all-hands", func() bool { return !sa.In("all-hands") })
	if !sb.In("all-hands") {
		t.Error("leave for the sockets in vip made B leave too")
	}
	if err := ui.Emit("/admin", "emit", "/", "vip", "news", "vip only"); err != nil {
		t.Fatal(err)
	}
	if p, err := a.WaitEvent("/", "news", testWait); err != nil || p.Str(0) != "vip only" {
		t.Fatalf("emit to vip: %v %v", p, err)
	}

	// Wrong types and unknown namespaces do nothing, the connection stays.
	_ = ui.Emit("/admin", "emit", 5, nil, "news")
	_ = ui.Emit("/admin", "join", "/nowhere", "x")
	_ = ui.Emit("/admin", "_disconnect", "/", "yes")
	if srv.Namespace("/nowhere") != nil {
		t.Error("an action made a namespace")
	}

	// disconnect one socket, then all of them.
	_ = ui.Emit("/admin", "_disconnect", "/", false, idB)
	waitFor(t, "B disconnected", func() bool { return !sb.Connected() })
	if !sa.Connected() {
		t.Error("A disconnected with B")
	}
	_ = ui.Emit("/admin", "_disconnect", "/", true)
	if err := a.WaitClosed(testWait); err != nil {
		t.Fatalf("disconnect with close: %v", err)
	}
}

func TestReadOnly(t *testing.T) {
	srv, _, url := server(t, hub.Options{}, adminui.Options{NoAuth: true, ReadOnly: true, Mode: adminui.Production})
	a := dial(t, url)
	idA := connect(t, a, "/", nil)
	ui := dial(t, url)
	connect(t, ui, "/admin", nil)
	var config struct {
		SupportedFeatures []string `json:"supportedFeatures"`
	}
	if err := event(t, ui, "config").Arg(0, &config); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(config.SupportedFeatures, []string{"AGGREGATED_EVENTS"}) {
		t.Errorf("read-only production features %q", config.SupportedFeatures)
	}
	_ = ui.Emit("/admin", "_disconnect", "/", true)
	_ = ui.Emit("/admin", "emit", "/", nil, "news", "x")
	event(t, ui, "server_stats")
	// The next stats show the socket still there, and it got nothing.
	event(t, ui, "server_stats")
	if s := srv.Of("/").Socket(idA); s == nil || !s.Connected() {
		t.Fatal("a read-only UI disconnected a socket")
	}
	for _, p := range append(a.Pending(), ui.Pending()...) {
		if p.Event == "news" || p.Event == "all_sockets" || p.Event == "socket_connected" {
			t.Errorf("got %s", p.Text)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestDynamicNamespace: a dynamic namespace's child made while a UI
// watches is reported, its sockets and their events included.
func TestDynamicNamespace(t *testing.T) {
	srv, _, url := server(t, hub.Options{}, adminui.Options{NoAuth: true, StatsInterval: 50 * time.Millisecond})
	srv.OfPattern(regexp.MustCompile(`^/team-\d+$`)).OnConnection(func(s *hub.Socket) {
		s.On("hi", func(*hub.Event) {})
	})
	ui := dial(t, url)
	connect(t, ui, "/admin", nil)
	event(t, ui, "all_sockets")
	c := dial(t, url)
	id := connect(t, c, "/team-7", nil)
	eventWhere(t, ui, "socket_connected", func(p *testclient.Packet) bool {
		var s serialized
		return p.Arg(0, &s) == nil && s.ID == id && s.Nsp == "/team-7"
	})
	_ = c.Emit("/team-7", "hi", 1)
	eventWhere(t, ui, "event_received", func(p *testclient.Packet) bool { return p.Str(0) == "/team-7" && p.Str(1) == id })
	eventWhere(t, ui, "server_stats", func(p *testclient.Packet) bool {
		var st stats
		if p.Arg(0, &st) != nil {
			return false
		}
		for _, n := range st.Namespaces {
			if n.Name == "/team-7" && n.SocketsCount == 1 {
				return true
			}
		}
		return false
	})
}
