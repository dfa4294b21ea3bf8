package redisadapter

import (
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
)

// The expected bytes are what notepack.io 3.0.1 (the Node adapter's
// encoder) writes for the same values: `require("notepack.io").encode(v)`.
var notepackVectors = []struct {
	v   any
	hex string
}{
	{int64(0), "00"},
	{int64(127), "7f"},
	{int64(128), "cc80"},
	{int64(255), "ccff"},
	{int64(256), "cd0100"},
	{int64(65536), "ce00010000"},
	{int64(-1), "ff"},
	{int64(-33), "d0df"},
	{int64(-129), "d1ff7f"},
	{int64(1 << 32), "cf0000000100000000"},
	{float64(1.5), "cb3ff8000000000000"},
	{float64(-0.25), "cbbfd0000000000000"},
	{float64(3), "03"}, // a JavaScript number that is an integer
	{"é", "a2c3a9"},
	{strings.Repeat("x", 40), "d928" + strings.Repeat("78", 40)},
	{nil, "c0"},
	{[]byte{9}, "c40109"},
	{map[string]any{"a": []any{int64(1), nil, true}}, "81a1619301c0c3"},
}

func TestMsgpackMatchesNotepack(t *testing.T) {
	for _, tc := range notepackVectors {
		got, err := appendValue(nil, tc.v)
		if err != nil {
			t.Fatalf("%#v: %v", tc.v, err)
		}
		if hex.EncodeToString(got) != tc.hex {
			t.Errorf("encode %#v = %x, want %s", tc.v, got, tc.hex)
		}
		raw, _ := hex.DecodeString(tc.hex)
		back, err := decodeMsgpack(raw)
		if err != nil {
			t.Fatalf("decode %s: %v", tc.hex, err)
		}
		want := tc.v
		if f, ok := want.(float64); ok && f == float64(int64(f)) {
			want = int64(f)
		}
		if !reflect.DeepEqual(back, want) {
			t.Errorf("decode %s = %#v, want %#v", tc.hex, back, want)
		}
	}
}

func TestMsgpackDecodesNodeExtensions(t *testing.T) {
	for _, tc := range []struct {
		hex  string
		want any
	}{
		// new Date(1700000000123), timestamp 64.
		{"d7ff1d5353006553f100", "2023-11-14T22:13:20.123Z"},
		// timestamp 32 and 96.
		{"d6ff6553f100", "2023-11-14T22:13:20.000Z"},
		{"c70cff0754d4c0000000006553f100", "2023-11-14T22:13:20.123Z"},
		// undefined as fixext1 type 0; an ArrayBuffer as ext 0.
		{"d40000", nil},
		{"c7020001ff", []byte{1, 0xff}},
		// Wider forms the decoder must take though notepack does not write them.
		{"ca3fc00000", float64(1.5)},
		{"dc0001c3", []any{true}},
		{"de0001a16101", map[string]any{"a": int64(1)}},
		{"dd00000000", []any{}},
		{"c50003616263", []byte("abc")},
		{"da0001" + "7a", "z"},
	} {
		raw, err := hex.DecodeString(tc.hex)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeMsgpack(raw)
		if err != nil {
			t.Errorf("decode %s: %v", tc.hex, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("decode %s = %#v, want %#v", tc.hex, got, tc.want)
		}
	}
}

func TestMsgpackRejectsMalformed(t *testing.T) {
	for _, h := range []string{
		"",           // nothing
		"c1",         // never used
		"a5616263",   // string shorter than its length
		"92c3",       // array missing an element
		"dd7fffffff", // huge array count
		"df7fffffff", // huge map count
		"81c3c3",     // map key that is not a string
		"c4ff00",     // bin shorter than its length
		"d5050000",   // unknown extension type
		"c0c0",       // bytes after the value
		"cb3ff8",     // truncated float
		"a1ff",       // a string that is not UTF-8
		"a3eda080",   // an encoded surrogate half
		"81a1ff01",   // a map key that is not UTF-8
	} {
		raw, _ := hex.DecodeString(h)
		if v, err := decodeMsgpack(raw); err == nil {
			t.Errorf("decode %q = %#v, want an error", h, v)
		}
	}
	deep := strings.Repeat("91", maxDepth+2) + "c0"
	raw, _ := hex.DecodeString(deep)
	if _, err := decodeMsgpack(raw); err == nil {
		t.Error("decoded a value nested deeper than maxDepth")
	}
}

func FuzzDecodeMsgpack(f *testing.F) {
	for _, tc := range notepackVectors {
		raw, _ := hex.DecodeString(tc.hex)
		f.Add(raw)
	}
	// A broadcast as a Node peer publishes it: [uid, packet, opts].
	msg, _ := appendValue(nil, []any{"abcdef",
		map[string]any{"type": int64(2), "nsp": "/", "data": []any{"ev", []byte{1, 2}, map[string]any{"k": 1.5}}},
		map[string]any{"rooms": []string{"r"}, "except": []string{}, "flags": map[string]any{}}})
	f.Add(msg)
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := decodeMsgpack(b)
		if err != nil {
			return
		}
		// What decodes encodes again, and decodes to the same value.
		again, err := appendValue(nil, v)
		if err != nil {
			t.Fatalf("re-encode %#v: %v", v, err)
		}
		v2, err := decodeMsgpack(again)
		if err != nil {
			t.Fatalf("decode of re-encoded %x: %v", again, err)
		}
		if !reflect.DeepEqual(normalize(v), normalize(v2)) {
			t.Fatalf("round trip changed %#v into %#v", v, v2)
		}
	})
}

// normalize maps values to what a round trip can keep: integral floats
// become integers (notepack writes them so), NaN becomes a marker.
func normalize(v any) any {
	switch x := v.(type) {
	case float64:
		if x != x {
			return "NaN"
		}
		if x == float64(int64(x)) {
			return int64(x)
		}
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = normalize(x[i])
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k := range x {
			out[k] = normalize(x[k])
		}
		return out
	}
	return v
}

func TestFromSelf(t *testing.T) {
	a := &adapter{uid: "abcdef"}
	own, _ := appendValue(nil, []any{"abcdef", map[string]any{}, map[string]any{}})
	other, _ := appendValue(nil, []any{"abcdeg", map[string]any{}, map[string]any{}})
	if !a.fromSelf(own) || a.fromSelf(other) || a.fromSelf(own[:5]) {
		t.Errorf("fromSelf: own %v other %v short %v", a.fromSelf(own), a.fromSelf(other), a.fromSelf(own[:5]))
	}
}
