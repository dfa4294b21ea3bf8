package hub_test

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/hubd/hubd/hub"
)

// Catch-all listeners run first, then the socket's middlewares, then the
// event's listeners: On adds one (as Node's socket.on), and every listener
// of the event runs, in the order they were added.
func TestEventListenerOrder(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	var rec strLog
	srv.OnConnection(func(s *hub.Socket) {
		s.Use(func(ev *hub.Event) error { rec.add("mw-1 " + ev.Name); return nil })
		s.OnAny(func(ev *hub.Event) { rec.add("any-1 " + ev.Name) })
		s.On("ev", func(*hub.Event) { rec.add("on-1") })
		s.On("ev", func(ev *hub.Event) { rec.add("on " + string(ev.Args.JSON())) })
		s.Use(func(*hub.Event) error { rec.add("mw-2"); return nil })
		s.OnAny(func(*hub.Event) { rec.add("any-2") })
	})
	c := hubDial(t, url)
	hubConnect(t, c, "/", nil)
	if err := c.Emit("/", "ev", 1, "a"); err != nil {
		t.Fatal(err)
	}
	want := []string{"any-1 ev", "any-2", "mw-1 ev", "mw-2", "on-1", `on [1,"a"]`}
	if got := rec.waitLen(t, len(want)); !slices.Equal(got, want) {
		t.Errorf("order = %q\nwant    %q", got, want)
	}
	// An event nobody listens to still goes through the catch-alls and
	// middlewares.
	rec.reset()
	_ = c.Emit("/", "other")
	want = []string{"any-1 other", "any-2", "mw-1 other", "mw-2"}
	if got := rec.waitLen(t, len(want)); !slices.Equal(got, want) {
		t.Errorf("order = %q\nwant    %q", got, want)
	}
}

// A middleware error stops the event and reaches OnError; ErrDrop stops
// it silently.
func TestEventMiddlewareErrors(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	var rec strLog
	errBlocked := errors.New("blocked")
	srv.OnConnection(func(s *hub.Socket) {
		s.Use(func(ev *hub.Event) error {
			switch ev.Name {
			case "blocked":
				return errBlocked
			case "dropped":
				return hub.ErrDrop
			case "wrapped":
				return &wrappedErr{hub.ErrDrop}
			}
			return nil
		})
		s.Use(func(ev *hub.Event) error { rec.add("mw-2 " + ev.Name); return nil })
		s.OnError(func(err error) {
			if !errors.Is(err, errBlocked) {
				t.Errorf("OnError got %v", err)
			}
			rec.add("error " + err.Error())
		})
		for _, name := range []string{"blocked", "dropped", "wrapped", "next"} {
			s.On(name, func(*hub.Event) { rec.add("handler " + name) })
		}
	})
	c := hubDial(t, url)
	hubConnect(t, c, "/", nil)
	for _, ev := range []string{"blocked", "dropped", "wrapped", "next"} {
		_ = c.Emit("/", ev)
	}
	// Events of one client are handled in order, so "next" comes last.
	want := []string{"error blocked", "mw-2 next", "handler next"}
	if got := rec.waitLen(t, len(want)); !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

// A middleware may rewrite the event: the later middlewares and the
// listener of the new name see the change, as in the reference server
// (where the listener is chosen from the packet after the middlewares ran).
func TestEventMiddlewareRename(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	var rec strLog
	srv.OnConnection(func(s *hub.Socket) {
		s.Use(func(ev *hub.Event) error {
			if ev.Name == "old" {
				ev.Name = "new"
				ev.Args, _ = hub.NewArgs("rewritten")
			}
			return nil
		})
		s.Use(func(ev *hub.Event) error { rec.add("mw-2 " + ev.Name); return nil })
		s.On("old", func(ev *hub.Event) { rec.add("old-handler " + ev.Name) })
		s.On("new", func(ev *hub.Event) { rec.add("new-handler " + string(ev.Args.JSON())) })
		s.On("next", func(ev *hub.Event) { rec.add("next") })
	})
	c := hubDial(t, url)
	hubConnect(t, c, "/", nil)
	_ = c.Emit("/", "old", "original")
	_ = c.Emit("/", "next")
	want := []string{"mw-2 new", `new-handler ["rewritten"]`, "mw-2 next", "next"}
	if got := rec.waitLen(t, len(want)); !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

// ev.Ack answers once: the second call is ErrAcked; an event sent
// without an ack id answers ErrNoAck.
func TestEventAck(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	results := make(chan []any, 4)
	srv.OnConnection(func(s *hub.Socket) {
		s.On("ask", func(ev *hub.Event) {
			before := ev.Acked()
			err1 := ev.Ack("a", 2, map[string]any{"k": []any{true}})
			err2 := ev.Ack("again")
			results <- []any{ev.WantsAck(), before, ev.Acked(), err1, err2}
		})
		s.On("bin", func(ev *hub.Event) { _ = ev.Ack("file", []byte{0xca, 0xfe}) })
		s.On("empty", func(ev *hub.Event) { _ = ev.Ack() })
		s.On("tell", func(ev *hub.Event) {
			results <- []any{ev.WantsAck(), ev.Ack("x")}
		})
	})
	c := hubDial(t, url)
	hubConnect(t, c, "/", nil)

	p, err := c.EmitWithAck("/", "ask")
	if err != nil {
		t.Fatal(err)
	}
	if p.Text != `430["a",2,{"k":[true]}]` {
		t.Errorf("ack = %s, want 430[\"a\",2,{\"k\":[true]}]", p.Text)
	}
	r := <-results
	if r[0] != true || r[1] != false || r[2] != true || r[3] != nil || !errors.Is(r[4].(error), hub.ErrAcked) {
		t.Errorf("WantsAck, Acked before/after, first and second Ack = %v", r)
	}

	p, err = c.EmitWithAck("/", "bin")
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	if p.Text != `461-1["file",{"_placeholder":true,"num":0}]` || p.Arg(1, &b) != nil || !bytes.Equal(b, []byte{0xca, 0xfe}) {
		t.Errorf("binary ack = %s %v", p.Text, p.Attachments)
	}
	if p, err = c.EmitWithAck("/", "empty"); err != nil || p.Text != `432[]` {
		t.Errorf("empty ack = %v, %v", p, err)
	}

	_ = c.Emit("/", "tell")
	r = <-results
	if r[0] != false || !errors.Is(r[1].(error), hub.ErrNoAck) {
		t.Errorf("WantsAck, Ack without an ack id = %v", r)
	}
	// Acks in another namespace carry it.
	srv.Of("/chat").OnConnection(func(s *hub.Socket) {
		s.On("ask", func(ev *hub.Event) { _ = ev.Ack("chat") })
	})
	hubConnect(t, c, "/chat", nil)
	if p, err = c.EmitWithAck("/chat", "ask"); err != nil || p.Text != `43/chat,3["chat"]` {
		t.Errorf("ack in /chat = %v, %v", p, err)
	}
}

// Events from the client reach the listener with their arguments as sent,
// binary included; numeric event names are kept in their JSON form.
func TestEventArguments(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	type got struct {
		name string
		json string
		atts [][]byte
	}
	ch := make(chan got, 4)
	srv.OnConnection(func(s *hub.Socket) {
		s.OnAny(func(ev *hub.Event) { ch <- got{ev.Name, string(ev.Args.JSON()), ev.Args.Attachments()} })
	})
	c := hubDial(t, url)
	hubConnect(t, c, "/", nil)

	_ = c.SendText(`42["raw", {"b":1, "a":[1.50,"\u00e9<"]} ,null]`)
	g := <-ch
	if g.name != "raw" || g.json != `[{"b":1, "a":[1.50,"\u00e9<"]} ,null]` {
		t.Errorf("raw event: %q %s", g.name, g.json)
	}
	_ = c.Emit("/", "up", "name", []byte{1, 2, 3}, map[string]any{"thumb": []byte{4}})
	g = <-ch
	if g.name != "up" || g.json != `["name",{"_placeholder":true,"num":0},{"thumb":{"_placeholder":true,"num":1}}]` ||
		!slices.EqualFunc(g.atts, [][]byte{{1, 2, 3}, {4}}, bytes.Equal) {
		t.Errorf("binary event: %q %s %v", g.name, g.json, g.atts)
	}
	_ = c.SendText(`42[7,"seven"]`)
	if g = <-ch; g.name != "7" || g.json != `["seven"]` {
		t.Errorf("numeric event: %q %s", g.name, g.json)
	}
	_ = c.SendText(`42["esc\"aped\n"]`)
	if g = <-ch; g.name != "esc\"aped\n" || g.json != `[]` {
		t.Errorf("escaped name: %q %s", g.name, g.json)
	}
}

// Numeric names reach On with their JSON text.
func TestNumericEventName(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	srv.OnConnection(func(s *hub.Socket) {
		s.On("1", func(ev *hub.Event) {
			var a string
			_ = ev.Args.Bind(&a)
			_ = ev.Ack("one", a)
		})
	})
	c := hubDial(t, url)
	hubConnect(t, c, "/", nil)
	_ = c.SendText(`420[1,"x"]`)
	p, err := c.WaitAck("/", 0, testWait)
	if err != nil || p.Text != `430["one","x"]` {
		t.Errorf("ack = %v, %v", p, err)
	}
}

// The server refuses to emit the reserved names, everywhere.
func TestEmitReservedNames(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	sockets := make(chan *hub.Socket, 1)
	srv.OnConnection(func(s *hub.Socket) { sockets <- s })
	c := hubDial(t, url)
	hubConnect(t, c, "/", nil)
	s := <-sockets
	args, _ := hub.NewArgs(1)
	remote, err := srv.FetchSockets(t.Context())
	if err != nil || len(remote) != 1 {
		t.Fatalf("FetchSockets = %v, %v", remote, err)
	}
	for _, name := range []string{"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"} {
		for what, err := range map[string]error{
			"Socket.Emit":          s.Emit(name, 1),
			"Socket.Emit with ack": s.Emit(name, hub.AckFunc(func(hub.Args, error) { t.Error("ack called") })),
			"Socket.Timeout.Emit":  s.Timeout(testWait).Emit(name),
			"Socket.Broadcast":     s.Broadcast().Emit(name),
			"Server.Emit":          srv.Emit(name),
			"Namespace.To.Emit":    srv.Of("/").To("r").Emit(name),
			"EmitArgs":             srv.To(s.ID()).EmitArgs(name, args),
			"RemoteSocket.Emit":    remote[0].Emit(name),
		} {
			if !errors.Is(err, hub.ErrReserved) {
				t.Errorf("%s(%q) = %v, want ErrReserved", what, name, err)
			}
		}
		if _, err := s.EmitWithAck(t.Context(), name); !errors.Is(err, hub.ErrReserved) {
			t.Errorf("EmitWithAck(%q) = %v", name, err)
		}
		if _, err := srv.EmitWithAck(t.Context(), name); !errors.Is(err, hub.ErrReserved) {
			t.Errorf("Server.EmitWithAck(%q) = %v", name, err)
		}
	}
	// Nothing went out: the next event is the one sent now.
	_ = s.Emit("connection")
	if p := nextEvent(t, c, "/"); p.Text != `42["connection"]` {
		t.Errorf("got %s", p.Text)
	}
	// Server-side emit has its own reserved names.
	for _, name := range []string{"connect", "connection", "new_namespace"} {
		if err := srv.ServerSideEmit(name); !errors.Is(err, hub.ErrReservedServerEvent) {
			t.Errorf("ServerSideEmit(%q) = %v", name, err)
		}
	}
}

// Events emitted by the server reach the client as JSON.stringify would
// write them, binary as attachments.
func TestServerEmitEncoding(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	srv.Of("/chat")
	sockets := make(chan *hub.Socket, 2)
	srv.OnConnection(func(s *hub.Socket) { sockets <- s })
	srv.Of("/chat").OnConnection(func(s *hub.Socket) { sockets <- s })
	c := hubDial(t, url)
	hubConnect(t, c, "/", nil)
	hubConnect(t, c, "/chat", nil)
	s, chat := <-sockets, <-sockets

	_ = s.Emit("hi", "<b>\"x\"</b>", 1, nil, []any{true, "\u2028"})
	if p := nextEvent(t, c, "/"); p.Text != `42["hi","<b>\"x\"</b>",1,null,[true,"`+"\u2028"+`"]]` {
		t.Errorf("got %s", p.Text)
	}
	_ = chat.Emit("file", map[string]any{"data": []byte{9}, "name": "f"}, []byte{8})
	p := nextEvent(t, c, "/chat")
	if p.Text != `452-/chat,["file",{"data":{"_placeholder":true,"num":0},"name":"f"},{"_placeholder":true,"num":1}]` ||
		!slices.EqualFunc(p.Attachments, [][]byte{{9}, {8}}, bytes.Equal) {
		t.Errorf("got %s %v", p.Text, p.Attachments)
	}
	_ = s.Emit("nothing")
	if p := nextEvent(t, c, "/"); p.Text != `42["nothing"]` {
		t.Errorf("got %s", p.Text)
	}
	if err := s.Emit("bad", make(chan int)); err == nil {
		t.Error("Emit with an unencodable argument: no error")
	}
	_ = s.Compress(false).Emit("flags")
	_ = s.Emitter().Volatile().Compress(true).Timeout(0).Emit("flags2")
	for _, want := range []string{`42["flags"]`} {
		if p := nextEvent(t, c, "/"); p.Text != want {
			t.Errorf("got %s, want %s", p.Text, want)
		}
	}
}
