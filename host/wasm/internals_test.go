package wasm

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/sdk/wire"
)

// loopModule is a hand-written module with one memory and a function that
// loops forever, without global section, and with an export section only
// when withExport (so that instrument must create the sections it needs):
//
//	(module (memory 1) (func (export "spin") (loop (br 0))))
func loopModule(withExport bool) []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	b = append(b, 1, 4, 1, 0x60, 0, 0) // type: () -> ()
	b = append(b, 3, 2, 1, 0)          // function 0: type 0
	b = append(b, 5, 3, 1, 0, 1)       // memory: min 1
	if withExport {
		b = append(b, 7, 8, 1, 4, 's', 'p', 'i', 'n', 0, 0) // export "spin"
	}
	body := []byte{0, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b} // no locals; loop br 0 end; end
	code := append([]byte{1, byte(len(body))}, body...)
	b = append(b, 10, byte(len(code)))
	return append(b, code...)
}

func TestInstrumentCreatesSections(t *testing.T) {
	for _, withExport := range []bool{false, true} {
		out, err := instrument(loopModule(withExport))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		rt := wazero.NewRuntime(ctx)
		defer rt.Close(ctx)
		cm, err := rt.CompileModule(ctx, out)
		if err != nil {
			t.Fatalf("export=%v: the instrumented module does not compile: %v", withExport, err)
		}
		mod, err := rt.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName(""))
		if err != nil {
			t.Fatal(err)
		}
		g, ok := mod.ExportedGlobal(interruptExport).(api.MutableGlobal)
		if !ok {
			t.Fatalf("export=%v: no mutable interrupt global", withExport)
		}
		if !withExport {
			continue
		}
		go func() { time.Sleep(20 * time.Millisecond); g.Set(1) }()
		err = mod.ExportedFunction("spin").CallWithStack(ctx, nil)
		if err == nil || !strings.Contains(err.Error(), "unreachable") {
			t.Fatalf("spin: %v", err)
		}
	}
}

func TestInstrumentRefuses(t *testing.T) {
	noMemory := bytes.Replace(loopModule(false), []byte{5, 3, 1, 0, 1}, nil, 1)
	tail := loopModule(false)
	tail[len(tail)-4] = 0x12 // br -> return_call
	reserved := append(loopModule(false), 7, 18, 1, 14)
	reserved = append(reserved, interruptExport...)
	reserved = append(reserved, 3, 0)
	for name, bin := range map[string][]byte{
		"no memory":     noMemory,
		"tail call":     tail,
		"reserved name": reserved,
		"not wasm":      []byte("hello"),
		"truncated":     loopModule(false)[:20],
	} {
		if _, err := instrument(bin); err == nil {
			t.Errorf("%s: instrumented", name)
		}
	}
}

// TestInstrumentGuests instruments the real guests and checks that every
// loop got its check.
func TestInstrumentGuests(t *testing.T) {
	guests := []string{guestGo, guestFaults}
	if guestCErr == nil {
		guests = append(guests, guestC, guestCTest)
	}
	for _, g := range guests {
		bin, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		out, err := instrument(bin)
		if err != nil {
			t.Fatalf("%s: %v", g, err)
		}
		if len(out) <= len(bin)-(len(bin)/2) {
			t.Fatalf("%s: suspicious size %d -> %d", g, len(bin), len(out))
		}
	}
}

// minimalPlugin is a hand-written hubd_v1 module that allows every call.
// With reserved, it also exports a global under the interrupt's name, which
// the rewriter refuses.
func minimalPlugin(reserved bool) []byte {
	sec := func(id byte, body ...byte) []byte { return append([]byte{id, byte(len(body))}, body...) }
	name := func(s string) []byte { return append([]byte{byte(len(s))}, s...) }
	b := []byte("\x00asm\x01\x00\x00\x00")
	b = append(b, sec(1, 3, 0x60, 0, 0, 0x60, 1, 0x7f, 1, 0x7f, 0x60, 2, 0x7f, 0x7f, 1, 0x7f)...)
	b = append(b, sec(3, 3, 0, 1, 2)...)
	b = append(b, sec(5, 1, 0, 1)...)
	if reserved {
		b = append(b, sec(6, 1, 0x7f, 0, 0x41, 0, 0x0b)...)
	}
	var ex []byte
	n := byte(3)
	ex = append(append(ex, name("hubd_abi_v1")...), 0, 0)
	ex = append(append(ex, name("hubd_buffer")...), 0, 1)
	ex = append(append(ex, name("hubd_handle")...), 0, 2)
	if reserved {
		ex = append(append(ex, name(interruptExport)...), 3, 0)
		n++
	}
	b = append(b, sec(7, append([]byte{n}, ex...)...)...)
	code := []byte{3, 2, 0, 0x0b, 5, 0, 0x41, 0x80, 0x08, 0x0b, 4, 0, 0x41, 0, 0x0b}
	return append(b, sec(10, code...)...)
}

// startLoopPlugin is minimalPlugin with a fourth function that loops
// forever, named as the module's start function.
func startLoopPlugin() []byte {
	sec := func(id byte, body ...byte) []byte { return append([]byte{id, byte(len(body))}, body...) }
	name := func(s string) []byte { return append([]byte{byte(len(s))}, s...) }
	b := []byte("\x00asm\x01\x00\x00\x00")
	b = append(b, sec(1, 3, 0x60, 0, 0, 0x60, 1, 0x7f, 1, 0x7f, 0x60, 2, 0x7f, 0x7f, 1, 0x7f)...)
	b = append(b, sec(3, 4, 0, 1, 2, 0)...)
	b = append(b, sec(5, 1, 0, 1)...)
	var ex []byte
	ex = append(append(ex, name("hubd_abi_v1")...), 0, 0)
	ex = append(append(ex, name("hubd_buffer")...), 0, 1)
	ex = append(append(ex, name("hubd_handle")...), 0, 2)
	b = append(b, sec(7, append([]byte{3}, ex...)...)...)
	b = append(b, sec(8, 3)...)
	code := []byte{4, 2, 0, 0x0b, 5, 0, 0x41, 0x80, 0x08, 0x0b, 4, 0, 0x41, 0, 0x0b,
		7, 0, 0x03, 0x40, 0x0c, 0, 0x0b, 0x0b} // loop br 0 end end
	return append(b, sec(10, code...)...)
}

// A plugin whose module cannot be instrumented falls back to
// WithCloseOnContextDone, and still works.
func TestFallbackTermination(t *testing.T) {
	dir := t.TempDir()
	for _, reserved := range []bool{false, true} {
		path := fmt.Sprintf("%s/min-%v.wasm", dir, reserved)
		if err := os.WriteFile(path, minimalPlugin(reserved), 0o644); err != nil {
			t.Fatal(err)
		}
		p := load(t, path, nil)
		want := Interrupt
		if reserved {
			want = CloseOnDone
		}
		if p.Termination() != want {
			t.Errorf("reserved=%v: termination %v, want %v", reserved, p.Termination(), want)
		}
		d, err := call(p, eventEnv("x", "[]"), time.Second)
		if err != nil || !reflect.DeepEqual(*d, host.Decision{}) {
			t.Fatalf("reserved=%v: %v, %v", reserved, d, err)
		}
	}
}

// envelopes for the index tests: every field, escapes, odd values.
func indexEnvelopes() []host.Envelope {
	hs := &host.Handshake{Auth: wire.Raw(`{"token":"a\"b"}`), Query: map[string]string{"q": "1"}, Headers: map[string]string{"x-a": "b\\c"}, Address: "1.2.3.4"}
	return []host.Envelope{
		benchEnvelope(),
		{Hook: host.HookConnect, Namespace: "/", Socket: host.Socket{ID: "s", Rooms: []string{}}, Handshake: hs},
		{Hook: host.HookConnect, Namespace: "/", Socket: host.Socket{ID: "s"}, Handshake: &host.Handshake{}},
		{Hook: host.HookConnect, Namespace: "/", Socket: host.Socket{ID: "s", Rooms: []string{}, Data: wire.Raw(`{"user":"u"}`)}, Handshake: hs, Recovered: true},
		{Hook: host.HookJoin, Namespace: "/n\"s", Socket: host.Socket{ID: "i\\d", Rooms: []string{"a\"", "b"}, Data: wire.Raw(` {"x" : 1} `)}, Rooms: []string{"r\n"}},
		{Hook: host.HookEvent, Namespace: "/", Socket: host.Socket{ID: "s", Rooms: nil}, Event: "é\u2028", Args: wire.Raw(`[ "x" , {"a":[1,2,"]"]} ]`), Ack: true, Rooms: []string{}},
		{Hook: host.HookDisconnect, Namespace: "/", Socket: host.Socket{ID: "s"}, Reason: "transport \"close\""},
		{Hook: host.HookEvent, Namespace: "/", Socket: host.Socket{ID: "s", Rooms: []string{}}, Event: "e",
			Args: wire.Raw(`["a\\\"b",-1.5e3, [ ] ,{"k":"v}"},"fifth",6]`)},
		{Hook: host.HookEvent, Namespace: "/", Socket: host.Socket{ID: "s", Rooms: []string{}}, Event: "e", Args: wire.Raw(` [ ] `)},
		// Invalid UTF-8 is written as an escape (\ufffd).
		{Hook: host.HookConnect, Namespace: "/\xff", Socket: host.Socket{ID: "s\xfe", Rooms: []string{"\xff"}},
			Handshake: &host.Handshake{Address: "a\xc3"}},
		{Hook: host.HookEvent, Namespace: "/", Socket: host.Socket{ID: "s"}, Event: "\xff", Args: wire.Raw(`[1]`)},
	}
}

// readIndex decodes the index that follows the JSON.
func readIndex(t *testing.T, buf []byte, n int) (spans [wire.NumFields][2]uint32, esc uint32) {
	off := (n + 3) &^ 3
	if binary.LittleEndian.Uint32(buf[off:]) != wire.IndexMagic || binary.LittleEndian.Uint32(buf[off+4:]) != wire.NumFields {
		t.Fatalf("bad index header")
	}
	esc = binary.LittleEndian.Uint32(buf[off+8:])
	for i := range spans {
		spans[i][0] = binary.LittleEndian.Uint32(buf[off+12+8*i:])
		spans[i][1] = binary.LittleEndian.Uint32(buf[off+16+8*i:])
	}
	return spans, esc
}

// TestIndex checks the index against the JSON it follows.
func TestIndex(t *testing.T) {
	paths := [wire.NumFields][]string{
		wire.FieldV: {"v"}, wire.FieldHook: {"hook"}, wire.FieldNs: {"ns"}, wire.FieldSocket: {"socket"},
		wire.FieldSocketID: {"socket", "id"}, wire.FieldSocketRooms: {"socket", "rooms"}, wire.FieldSocketData: {"socket", "data"},
		wire.FieldHandshake: {"handshake"}, wire.FieldAuth: {"handshake", "auth"}, wire.FieldQuery: {"handshake", "query"},
		wire.FieldHeaders: {"handshake", "headers"}, wire.FieldAddress: {"handshake", "address"}, wire.FieldEvent: {"event"},
		wire.FieldArgs: {"args"}, wire.FieldAck: {"ack"}, wire.FieldRooms: {"rooms"}, wire.FieldReason: {"reason"},
		wire.FieldRecovered: {"recovered"},
		wire.FieldArg0:      {"args", "#0"}, wire.FieldArg1: {"args", "#1"}, wire.FieldArg2: {"args", "#2"}, wire.FieldArg3: {"args", "#3"},
	}
	for k, env := range indexEnvelopes() {
		buf, n := appendJSONIndexed(nil, &env)
		js := buf[:n]
		if want := env.AppendJSON(nil); !bytes.Equal(js, want) {
			t.Fatalf("envelope %d: JSON %s, AppendJSON wrote %s", k, js, want)
		}
		spans, esc := readIndex(t, buf, n)
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(js, &doc); err != nil {
			t.Fatal(err)
		}
		for f, path := range paths {
			want := lookup(doc, path)
			got := js[spans[f][0]:spans[f][1]]
			if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
				t.Errorf("envelope %d field %v: got %q, want %q", k, path, got, want)
			}
			hasEsc := len(want) > 0 && want[0] == '"' && bytes.IndexByte(want, '\\') >= 0
			if (esc&(1<<f) != 0) != hasEsc {
				t.Errorf("envelope %d field %v: escape bit %v", k, path, !hasEsc)
			}
		}
	}
}

func lookup(doc map[string]json.RawMessage, path []string) json.RawMessage {
	v := doc[path[0]]
	if len(path) == 1 || v == nil {
		return v
	}
	if i, err := strconv.Atoi(strings.TrimPrefix(path[1], "#")); err == nil {
		var elems []json.RawMessage
		if json.Unmarshal(v, &elems) != nil || i >= len(elems) {
			return nil
		}
		return elems[i]
	}
	var sub map[string]json.RawMessage
	if json.Unmarshal(v, &sub) != nil {
		return nil
	}
	return sub[path[1]]
}

// TestParseDecision compares the fast decoder with host.ParseDecision.
func TestParseDecision(t *testing.T) {
	inputs := []string{
		``, `null`, `{}`, ` { } `, `{"action":"allow"}`, `{"action":"deny","reason":"no"}`,
		`{"action":"drop"}`, `{"action":"reply"}`, `{"action":"reply","reply":["pong",1,{"a":null}]}`,
		`{"action":"disconnect"}`, `{"action":"explode"}`, `{"action":"deny","reason":"` + strings.Repeat("x", 300) + `"}`,
		`{"args":["HELLO", {"ts":1} , 2]}`, `{"args":{"a":1}}`, `{"reply":"x"}`, `{"rooms":["a","b"],"except":["c"],"to_sender":true}`,
		`{"rooms":[]}`, `{"rooms":[""]}`, `{"rooms":null}`, `{"join":["x"],"socket_data":{"user":"u"}}`,
		`{"data":{"temporary":true},"action":"deny","reason":"r"}`, `{"Action":"deny"}`, `{"action":"deny","extra":1}`,
		`{"event":"renamed","args":[]}`, `{"reason":"esc\"aped"}`, `{"action":"deny",}`, `{"action":"deny"} x`,
		`{"args":[1,2,]}`, `{"args":[01]}`, `{"args":[1e5,-0.5,true,false,null]}`, `{"args":["\u00e9\ud83d\ude00"]}`,
		`{"args":["\x01"]}`, "{\"args\":[\"\xff\"]}", `{"to_sender":1}`, `{"action":"allow","action":"deny"}`,
		`{"rooms":["a"],"rooms":["b"]}`, `[]`, `"x"`, `{"args":["a"]`, `{"data":nul}`, `{"args":[{"a":"\q"}]}`,
	}
	for _, in := range inputs {
		compareDecision(t, []byte(in))
	}
}

func compareDecision(t *testing.T, in []byte) {
	t.Helper()
	got, gotErr := parseDecision(in)
	want, wantErr := host.ParseDecision(in)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("%q: err %v, host %v", in, gotErr, wantErr)
	}
	if gotErr != nil {
		if !errors.Is(gotErr, host.ErrGarbage) {
			t.Fatalf("%q: err %v is not ErrGarbage", in, gotErr)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got  %#v\n host %#v", in, got, want)
	}
}

// TestParseDecisionRandom builds decisions from random pieces.
func TestParseDecisionRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	values := []string{`"x"`, `""`, `"a\"b"`, `1`, `-2.5e3`, `true`, `null`, `[]`, `["r"]`, `["a","b"]`, `{}`, `{"k":[1,{"z":"y"}]}`, `[1,`, `"é"`, `"\u0041"`}
	keys := []string{"action", "reason", "data", "event", "args", "rooms", "except", "to_sender", "reply", "socket_data", "join", "other"}
	actions := []string{`"allow"`, `"deny"`, `"drop"`, `"reply"`, `"disconnect"`, `"nope"`}
	for i := 0; i < 20000; i++ {
		var b strings.Builder
		b.WriteString("{")
		n := r.IntN(4)
		for j := 0; j < n; j++ {
			if j > 0 {
				b.WriteString([]string{",", " , ", ",\n"}[r.IntN(3)])
			}
			k := keys[r.IntN(len(keys))]
			v := values[r.IntN(len(values))]
			if k == "action" {
				v = actions[r.IntN(len(actions))]
			}
			fmt.Fprintf(&b, "%q:%s", k, v)
		}
		b.WriteString("}")
		compareDecision(t, []byte(b.String()))
	}
}

func FuzzParseDecision(f *testing.F) {
	f.Add([]byte(`{"action":"reply","reply":["pong"]}`))
	f.Add([]byte(`{"args":["X",{"a":1}],"rooms":["r"]}`))
	f.Fuzz(func(t *testing.T, in []byte) { compareDecision(t, in) })
}
