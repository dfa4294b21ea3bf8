//go:build !wasip1

package hubd

import (
	"reflect"
	"strings"
	"testing"
	"unicode"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/sdk/wire"
)

func TestRaw(t *testing.T) {
	r := Raw(` {"a": [1, "two", {"b": null}], "s": "x\"y\u00e9\ud83d\ude00", "n": -12, "f": 1.5e2, "t": true, "e": {}} `)
	if got := r.Kind(); got != KindObject {
		t.Fatalf("Kind = %c", got)
	}
	if s, ok := r.GetString("s"); !ok || s != "x\"yé😀" {
		t.Errorf("GetString = %q, %v", s, ok)
	}
	a := r.Get("a")
	if a.Len() != 3 || string(a.Index(1)) != `"two"` || !a.Index(2).Get("b").IsNull() || a.Index(3) != nil {
		t.Errorf("array: len %d, [1] %s", a.Len(), a.Index(1))
	}
	if n, ok := r.Get("n").Int(); !ok || n != -12 {
		t.Errorf("Int = %d, %v", n, ok)
	}
	if f, ok := r.Get("f").Float(); !ok || f != 150 {
		t.Errorf("Float = %v, %v", f, ok)
	}
	if _, ok := r.Get("f").Int(); ok {
		t.Error("1.5e2 read as an int")
	}
	if b, ok := r.Get("t").Bool(); !ok || !b {
		t.Error("Bool")
	}
	if r.Get("missing") != nil || r.Get("e").Len() != 0 {
		t.Error("missing / empty")
	}
	var keys []string
	r.Members(func(k string, _ Raw) bool { keys = append(keys, k); return true })
	if strings.Join(keys, ",") != "a,s,n,f,t,e" {
		t.Errorf("Members: %v", keys)
	}
	if got := Raw(`["a", 1, "b\n"]`).Strings(); !reflect.DeepEqual(got, []string{"a", "b\n"}) {
		t.Errorf("Strings = %q", got)
	}
	if s, ok := Raw(`["x\\"]`).IndexStr(0); !ok || s != `x\` {
		t.Errorf("IndexStr = %q", s)
	}
}

func TestBuilders(t *testing.T) {
	cases := map[string]string{
		string(String("a\"b\\c\n\x01é")):              `"a\"b\\c\n\u0001é"`,
		string(Array(Int(1), Null, nil, Bool(false))): `[1,null,null,false]`,
		string(Object(KV("k", Strings("a", "b")))):    `{"k":["a","b"]}`,
		string(Float(0.25)):                           `0.25`,
	}
	for got, want := range cases {
		if got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
}

// envelopeJSON is what the host sends (host.Envelope.AppendJSON).
func envelopeJSON(e host.Envelope) []byte { return e.AppendJSON(nil) }

var sample = host.Envelope{
	Hook:      host.HookEvent,
	Namespace: "/chat",
	Socket:    host.Socket{ID: "id\"1", Rooms: []string{"a", "b"}, Data: wire.Raw(`{"user":"u"}`)},
	Event:     "shout",
	Args:      wire.Raw(`["hi", {"x":1} ,2]`),
	Ack:       true,
	Rooms:     []string{"a"},
}

// withIndex appends the index the SDK builds itself by scanning, as the
// host would write it, so that the indexed path is exercised natively:
// with the arguments located (args), or without, as a host from before
// wire.FieldArg0 writes it.
func withIndex(js []byte, args bool) []byte {
	var e Envelope
	if !e.reset("", js, len(js)) {
		panic("scan failed")
	}
	n := wire.NumKeyFields
	if args {
		n = wire.NumFields
		a := e.Args()
		for i := range wire.IndexedArgs {
			v := a.Index(i)
			if v == nil {
				break
			}
			start := cap(js) - cap(v) // v is a piece of js
			putU32(e.own[:], 8*(wire.FieldArg0+i), uint32(start))
			putU32(e.own[:], 8*(wire.FieldArg0+i)+4, uint32(start+len(v)))
			if v[0] == '"' && strings.IndexByte(string(v), '\\') >= 0 {
				e.esc |= 1 << (wire.FieldArg0 + i)
			}
		}
	}
	out := append([]byte(nil), js...)
	for len(out)%4 != 0 {
		out = append(out, 0)
	}
	var head [12]byte
	putU32(head[:], 0, wire.IndexMagic)
	putU32(head[:], 4, uint32(n))
	putU32(head[:], 8, e.esc)
	out = append(out, head[:]...)
	return append(out, e.own[:8*n]...)
}

func TestEnvelope(t *testing.T) {
	js := envelopeJSON(sample)
	for _, buf := range [][]byte{js, withIndex(js, false), withIndex(js, true)} {
		var e Envelope
		if !e.reset(HookEvent, buf, len(js)) {
			t.Fatal("reset")
		}
		indexed := len(buf) > len(js)
		if indexed && &e.spans[0] == &e.own[0] {
			t.Fatal("the index was not used")
		}
		got := []any{e.Hook(), e.V(), e.Namespace(), e.SocketID(), e.SocketRooms(), string(e.SocketData()),
			e.Event(), string(e.Args()), e.Ack(), e.Rooms(), e.Reason(), e.NumArgs()}
		want := []any{HookEvent, 1, "/chat", "id\"1", []string{"a", "b"}, `{"user":"u"}`,
			"shout", `["hi", {"x":1} ,2]`, true, []string{"a"}, "", 3}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("indexed=%v:\n got  %v\n want %v", indexed, got, want)
		}
		if s, ok := e.ArgString(0); !ok || s != "hi" {
			t.Errorf("ArgString(0) = %q", s)
		}
		if _, ok := e.ArgString(1); ok {
			t.Error("ArgString(1) of an object")
		}
		if got := []string{string(e.Arg(0)), string(e.Arg(1)), string(e.Arg(2)), string(e.Arg(3)), string(e.Arg(7))}; !reflect.DeepEqual(got, []string{`"hi"`, `{"x":1}`, `2`, ``, ``}) {
			t.Errorf("indexed=%v: Arg(0…3, 7) = %q", indexed, got)
		}
		for i, want := range map[int]string{0: `["X", {"x":1} ,2]`, 1: `["hi","X" ,2]`, 4: `["hi",{"x":1},2,null,"X"]`} {
			if got := string(e.ReplaceArg(i, String("X"))); got != want {
				t.Errorf("ReplaceArg(%d) = %s, want %s", i, got, want)
			}
		}
	}
	var e Envelope
	connect := host.Envelope{Hook: host.HookConnect, Namespace: "/", Socket: host.Socket{ID: "s"},
		Handshake: &host.Handshake{Auth: wire.Raw(`{"token":"t"}`), Query: map[string]string{"q": "1"},
			Headers: map[string]string{"user-agent": "ua"}, Address: "::1"}}
	cj := envelopeJSON(connect)
	e.reset(HookConnect, cj, len(cj))
	tok, _ := e.AuthString("token")
	q, _ := e.QueryParam("q")
	ua, _ := e.Header("user-agent")
	if tok != "t" || q != "1" || ua != "ua" || e.Address() != "::1" || e.Event() != "" || e.Args() != nil {
		t.Errorf("connect: %q %q %q %q", tok, q, ua, e.Address())
	}
}

// TestEnvelopeRecovered reads "recovered", through the index and by
// scanning, for a recovered socket's connect and a fresh one.
func TestEnvelopeRecovered(t *testing.T) {
	for _, recovered := range []bool{false, true} {
		env := host.Envelope{Hook: host.HookConnect, Namespace: "/", Socket: host.Socket{ID: "s", Data: wire.Raw(`{"user":"u"}`)},
			Handshake: &host.Handshake{Auth: wire.Raw(`{}`)}, Recovered: recovered}
		js := envelopeJSON(env)
		for _, buf := range [][]byte{js, withIndex(js, false), withIndex(js, true)} {
			var e Envelope
			if !e.reset(HookConnect, buf, len(js)) {
				t.Fatal("reset")
			}
			if e.Recovered() != recovered || string(e.SocketData()) != `{"user":"u"}` || e.Ack() {
				t.Errorf("recovered=%v indexed=%v: Recovered() %v, SocketData %s", recovered, len(buf) > len(js), e.Recovered(), e.SocketData())
			}
		}
	}
}

func TestUpperString(t *testing.T) {
	var e Envelope
	for _, s := range []string{"hello", "", "ABC xyz 123", "héllo wörld", "say \"hi\"\n", "\xff bad", "ǆ ß ﬃ"} {
		want := string(appendString(nil, strings.ToUpper(s)))
		if got := string(e.UpperString(s)); got != want {
			t.Errorf("UpperString(%q) = %s, want %s", s, got, want)
		}
		want = string(appendString(nil, strings.Map(unicode.ToLower, s)))
		if got := string(e.MapString(s, unicode.ToLower)); got != want {
			t.Errorf("MapString(%q) = %s, want %s", s, got, want)
		}
	}
	// Arena values do not overwrite one another.
	a := e.String("first")
	b := e.String("second")
	a = append(a, "!!!!"...)
	if string(b) != `"second"` {
		t.Errorf("an append to one arena value changed the next: %s", b)
	}
}

// TestDecisionJSON: what the SDK writes is what the host reads.
func TestDecisionJSON(t *testing.T) {
	yes := true
	cases := []struct {
		d    Decision
		want host.Decision
	}{
		{Allow(), host.Decision{}},
		{Deny("no \"way\""), host.Decision{Action: host.Deny, Reason: `no "way"`}},
		{DenyWith("x", Object(KV("temporary", Bool(true)))), host.Decision{Action: host.Deny, Reason: "x", Data: wire.Raw(`{"temporary":true}`)}},
		{Drop(), host.Decision{Action: host.Drop}},
		{Disconnect(), host.Decision{Action: host.Disconnect}},
		{ReplyWith(String("pong")), host.Decision{Action: host.Reply, Reply: wire.Raw(`["pong"]`)}},
		{Route("r1", "r2"), host.Decision{Rooms: []string{"r1", "r2"}}},
		{Transform(Raw(`["A"]`)), host.Decision{Args: wire.Raw(`["A"]`)}},
		{Decision{Event: "e", Args: Raw(`[]`), Except: []string{"x"}, ToSender: &yes, SocketData: Raw(`{"a":1}`), Join: []string{"j"}},
			host.Decision{Event: "e", Args: wire.Raw(`[]`), Except: []string{"x"}, ToSender: &yes, SocketData: wire.Raw(`{"a":1}`), Join: []string{"j"}}},
	}
	for _, c := range cases {
		b := c.d.AppendJSON(nil)
		got, err := host.ParseDecision(b)
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !reflect.DeepEqual(*got, c.want) {
			t.Errorf("%s: got %+v, want %+v", b, *got, c.want)
		}
	}
}

func TestDispatch(t *testing.T) {
	defer func() { handlers = [len(wire.HookIDs)]Handler{} }()
	OnEvent(func(e *Envelope) Decision {
		switch e.Event() {
		case "panic":
			panic("boom")
		case "echo":
			return ReplyWith(e.String(e.SocketID()), e.SocketData())
		}
		return Allow()
	})
	if hookMask() != 1<<4 {
		t.Errorf("hookMask = %b", hookMask())
	}
	env := sample
	env.Event = "echo"
	out, err := Dispatch(envelopeJSON(env))
	if err != nil || string(out) != `{"action":"reply","reply":["id\"1",{"user":"u"}]}` {
		t.Fatalf("echo: %s, %v", out, err)
	}
	env.Event = "other"
	if out, err := Dispatch(envelopeJSON(env)); err != nil || len(out) != 0 {
		t.Fatalf("allow: %s, %v", out, err)
	}
	env.Event = "panic"
	if _, err := Dispatch(envelopeJSON(env)); err == nil || err.Error() != "panic: boom" {
		t.Fatalf("panic: %v", err)
	}
	if _, err := Dispatch([]byte(`{"hook":`)); err == nil {
		t.Fatal("a malformed envelope was accepted")
	}
	// A hook without a handler allows.
	if out, err := Dispatch(envelopeJSON(host.Envelope{Hook: host.HookJoin, Socket: host.Socket{ID: "s"}})); err != nil || len(out) != 0 {
		t.Fatalf("join: %s, %v", out, err)
	}
}

func TestConfigAndAttachments(t *testing.T) {
	SetConfig(Raw(`{"a":1}`))
	if string(Config()) != `{"a":1}` {
		t.Errorf("Config = %s", Config())
	}
	defer func() { handlers = [len(wire.HookIDs)]Handler{} }()
	OnEvent(func(e *Envelope) Decision {
		b, ok := Attachment(1)
		_, none := Attachment(2)
		return ReplyWith(e.String(string(b)), Bool(ok), Bool(none))
	})
	out, err := Dispatch(envelopeJSON(sample), []byte("zero"), []byte("one"))
	if err != nil || string(out) != `{"action":"reply","reply":["one",true,false]}` {
		t.Fatalf("%s, %v", out, err)
	}
}
