package wire_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hubd/hubd/internal/schematest"
	"github.com/hubd/hubd/sdk/wire"
)

// escapeCases are strings with every kind of byte the escaper treats
// apart.
var escapeCases = []string{
	"", "plain", "quote \" backslash \\ slash /", "\b\f\n\r\t\x00\x01\x1f\x7f",
	"invalid \xff\xfe utf-8", "truncated \xe2\x82", "é ü 日本 🎉", "\u2028\u2029", "\ufffd",
	"<script>&amp;</script>", "\xed\xa0\x80 surrogate bytes",
}

// TestAppendString: the escaper writes JSON that encoding/json reads back
// as the string, invalid bytes as U+FFFD, and writes the characters
// JSON.stringify leaves alone as they are.
func TestAppendString(t *testing.T) {
	for _, s := range escapeCases {
		b := wire.AppendString([]byte("x"), s)[1:]
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("AppendString(%q) = %s: %v", s, b, err)
		}
		if want := string([]rune(s)); got != want { // []rune: one U+FFFD per invalid byte
			t.Errorf("AppendString(%q) = %s, read back as %q", s, b, got)
		}
	}
	for s, want := range map[string]string{
		"\b\f\n\r\t": `"\b\f\n\r\t"`, "\x00\x1f": `"\u0000\u001f"`, "\x7f": "\"\x7f\"",
		"<>&": `"<>&"`, "\u2028\u2029": "\"\u2028\u2029\"", "a\xffb": `"a\ufffdb"`, `"\`: `"\"\\"`,
	} {
		if got := string(wire.AppendString(nil, s)); got != want {
			t.Errorf("AppendString(%q) = %s, want %s", s, got, want)
		}
	}
}

// FuzzAppendString: whatever the bytes, the escaper writes one valid JSON
// string that reads back as them, invalid UTF-8 as U+FFFD.
func FuzzAppendString(f *testing.F) {
	for _, s := range escapeCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := wire.AppendString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("AppendString(%q) = %s: %v", s, b, err)
		}
		if want := string([]rune(s)); got != want {
			t.Fatalf("AppendString(%q) = %s, read back as %q", s, b, got)
		}
	})
}

// TestRawAsRawMessage: Raw marshals and unmarshals as encoding/json's
// RawMessage does.
func TestRawAsRawMessage(t *testing.T) {
	type pair struct {
		R wire.Raw        `json:"r"`
		M json.RawMessage `json:"m"`
		O wire.Raw        `json:"o,omitempty"`
	}
	for _, in := range []string{`{"r":{"a":[1, 2]},"m":{"a":[1, 2]}}`, `{"r":null,"m":null}`, `{"r":"s","m":"s","o":[]}`} {
		var p pair
		if err := json.Unmarshal([]byte(in), &p); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p.R, p.M) {
			t.Errorf("%s: Raw read %s, RawMessage %s", in, p.R, p.M)
		}
		out, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		p.R, p.M = nil, nil
		zero, _ := json.Marshal(p)
		var back map[string]json.RawMessage
		if err := json.Unmarshal(out, &back); err != nil || !bytes.Equal(back["r"], back["m"]) {
			t.Errorf("%s: written as %s (%v)", in, out, err)
		}
		if !strings.HasPrefix(string(zero), `{"r":null,"m":null`) {
			t.Errorf("nil Raw written as %s, want null as RawMessage", zero)
		}
	}
	buf := []byte(`{"r":[1]}`)
	var p pair
	if err := json.Unmarshal(buf, &p); err != nil {
		t.Fatal(err)
	}
	buf[5] = '2'
	if string(p.R) != "[1]" {
		t.Errorf("Raw kept the decoder's buffer: %s", p.R)
	}
}

func fullEnvelope() *wire.Envelope {
	return &wire.Envelope{
		Hook: wire.HookConnect, Namespace: "/chat\n", Socket: wire.Socket{ID: "s\"1", Rooms: []string{"a", "é"}, Data: wire.Raw(`{"u":1}`)},
		Handshake: &wire.Handshake{Auth: wire.Raw(`{"token":"t"}`), Query: map[string]string{"b": "2", "a": "1\x01"},
			Headers: map[string]string{"x-z": "<z>", "x-a": "a&b", "cookie": "c=1"}, Address: "::1"},
		Recovered: true, Event: "e\u2028", Args: wire.Raw(`["x",{"y":[1,null]}]`), Ack: true, Rooms: []string{"r"}, Reason: "bye",
	}
}

// TestEnvelopeJSON: AppendJSON writes JSON that encoding/json reads back
// into the same envelope, with the schema's keys, "v" the version and the
// maps' keys sorted; a minimal envelope has the schema's required keys.
func TestEnvelopeJSON(t *testing.T) {
	src := fullEnvelope()
	b := src.AppendJSON(nil)
	var got wire.Envelope
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	want := *src
	want.V = wire.Version
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read back %+v\nwrote      %+v", got, want)
	}
	for _, path := range [][]string{nil, {"socket"}, {"handshake"}} {
		if keys, props := schematest.Keys(t, b, path...), schematest.Props(t, "envelope.schema.json", path...); !slices.Equal(keys, props) {
			t.Errorf("envelope %v: keys %v, the schema has %v", path, keys, props)
		}
	}
	if !bytes.Contains(b, []byte(`"headers":{"cookie":"c=1","x-a":"a&b","x-z":"<z>"}`)) || !bytes.HasPrefix(b, []byte(`{"v":1,"hook":"connect",`)) {
		t.Errorf("envelope written as %s", b)
	}
	// encoding/json writes the same JSON value (it escapes <, > and &
	// more, which reads the same).
	std, err := json.Marshal(&want)
	if err != nil {
		t.Fatal(err)
	}
	if !sameJSON(t, b, std) {
		t.Errorf("AppendJSON %s\nencoding/json %s", b, std)
	}

	min := wire.Envelope{Hook: wire.HookDisconnect, Namespace: "/"}
	b = min.AppendJSON(nil)
	if string(b) != `{"v":1,"hook":"disconnect","ns":"/","socket":{"id":"","rooms":[]}}` {
		t.Errorf("minimal envelope written as %s", b)
	}
	min.Handshake = &wire.Handshake{}
	b = min.AppendJSON(nil)
	if !bytes.Contains(b, []byte(`"handshake":{"auth":{},"query":{},"headers":{},"address":""}`)) {
		t.Errorf("empty handshake written as %s", b)
	}
}

func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

// TestDecisionJSON: AppendJSON writes what encoding/json writes, byte for
// byte, for decisions whose JSON values are compact; encoding/json reads
// it back into the same decision, with exactly the schema's keys when
// every field is set.
func TestDecisionJSON(t *testing.T) {
	f := false
	cases := []wire.Decision{
		{},
		{Action: wire.ActionAllow},
		{Args: wire.Raw(`["x",1]`)},
		{Action: wire.ActionDeny, Reason: "no \"way\"\n", Data: wire.Raw(`{"code":1}`)},
		{Action: wire.ActionReply, Reason: "why", Data: wire.Raw(`1`), Event: "e", Args: wire.Raw(`[]`), Rooms: []string{"r"},
			Except: []string{"x"}, ToSender: &f, Reply: wire.Raw(`["x"]`), SocketData: wire.Raw(`{}`), Join: []string{"j", "k"}},
		{Rooms: []string{}, Join: []string{"é\xff"}},
	}
	for i, d := range cases {
		b := d.AppendJSON(nil)
		std, err := json.Marshal(&d)
		if err != nil {
			t.Fatal(err)
		}
		if i == len(cases)-1 {
			// encoding/json drops an empty list (omitempty), AppendJSON only
			// a nil one; it writes invalid UTF-8 as \ufffd too.
			if !bytes.Equal(b, []byte(`{"rooms":[],"join":["é\ufffd"]}`)) {
				t.Errorf("%+v written as %s", d, b)
			}
			continue
		}
		if !bytes.Equal(b, std) {
			t.Errorf("%+v: AppendJSON %s, encoding/json %s", d, b, std)
		}
		var back wire.Decision
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !reflect.DeepEqual(back, d) {
			t.Errorf("%s read back as %+v, want %+v", b, back, d)
		}
		if d.IsZero() != (i < 2) {
			t.Errorf("%+v: IsZero %v", d, d.IsZero())
		}
	}
	full := cases[4]
	if keys, props := schematest.Keys(t, full.AppendJSON(nil)), schematest.Props(t, "decision.schema.json"); !slices.Equal(keys, props) {
		t.Errorf("decision keys %v, the schema has %v", keys, props)
	}
	if b := (&wire.Decision{Data: wire.Raw{}}).AppendJSON(nil); string(b) != `{"data":null}` {
		t.Errorf("an empty but set Raw written as %s, want null", b)
	}
}

// TestLeafPackage: wire builds for wasip1, with the Go guest SDK, and
// depends on no package of hubd's and none that a TinyGo guest could not
// carry (reflection, encoding/json, fmt).
func TestLeafPackage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds for wasip1")
	}
	env := append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	build := exec.Command("go", "build", "-o", os.DevNull, "../wire", "../wasm/go")
	build.Env = env
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=wasip1 go build: %v\n%s", err, out)
	}
	list := exec.Command("go", "list", "-deps", "../wire")
	list.Env = env
	out, err := list.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch {
		case dep == "reflect" || dep == "fmt" || strings.HasPrefix(dep, "encoding/"),
			strings.HasPrefix(dep, "github.com/") && dep != "github.com/hubd/hubd/sdk/wire":
			t.Errorf("wire depends on %s", dep)
		}
	}
}

// TestAppendRune: a string written rune by rune is the string AppendString
// writes, invalid runes as U+FFFD.
func TestAppendRune(t *testing.T) {
	runes := []rune{-1, 0xd800, 0xdfff, 0x10ffff, 0x110000, 0x1f389, 0xfffd}
	for r := rune(0); r < 0x3000; r++ {
		runes = append(runes, r)
	}
	for _, r := range runes {
		want := string(wire.AppendString(nil, string(r)))
		got := `"` + string(wire.AppendRune(nil, r)) + `"`
		if got != want {
			t.Errorf("AppendRune(%U) = %s, AppendString writes %s", r, got, want)
		}
	}
}

// TestKeyTables: the envelope index's key tables know every key of the
// envelope schema, so a Wasm guest reading through the index finds every
// field the host may send.
func TestKeyTables(t *testing.T) {
	for _, c := range []struct {
		path  []string
		table func([]byte) int
	}{{nil, wire.TopKey}, {[]string{"socket"}, wire.SocketKey}, {[]string{"handshake"}, wire.HandshakeKey}} {
		seen := map[int]string{}
		for _, k := range schematest.Props(t, "envelope.schema.json", c.path...) {
			id := c.table([]byte(k))
			if id < 0 || id >= wire.NumFields {
				t.Errorf("envelope %v key %q: no field id (%d)", c.path, k, id)
			} else if other, dup := seen[id]; dup {
				t.Errorf("envelope %v keys %q and %q share field id %d", c.path, other, k, id)
			}
			seen[id] = k
		}
	}
}

// Unescape reads what encoding/json reads, for the valid JSON string
// contents it is given (the guest SDK calls it on strings with escapes).
func FuzzUnescape(f *testing.F) {
	for _, s := range []string{`a\"b`, `\\`, `\u00e9\n`, `\ud83d\ude00`, `\ud83d`, `\ude00x`, `\ud83d\u0041`, `\b\f\r\t\/`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !utf8.Valid(b) {
			return
		}
		var want string
		if err := json.Unmarshal([]byte(`"`+string(b)+`"`), &want); err != nil {
			return
		}
		if got, ok := wire.Unescape(b); !ok || got != want {
			t.Fatalf("Unescape(%q) = %q, %v; want %q", b, got, ok, want)
		}
	})
}
