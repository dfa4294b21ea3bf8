package hub_test

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/hubd/hubd/hub"
)

func mustArgs(t *testing.T, values ...any) hub.Args {
	t.Helper()
	a, err := hub.NewArgs(values...)
	if err != nil {
		t.Fatalf("NewArgs(%#v): %v", values, err)
	}
	return a
}

// Strings come out as JSON.stringify writes them: the short escapes, \u00xx
// (lower-case hex) for the other control characters, nothing else escaped
// (no HTML escaping, no escaping of U+2028/U+2029, DEL or non-ASCII).
func TestNewArgsStringsLikeJSONStringify(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", `""`},
		{"plain", `"plain"`},
		{`a"b\c/`, `"a\"b\\c/"`},
		{"\n\r\t\b\f", `"\n\r\t\b\f"`},
		{"\x00\x01\x0b\x1f", `"\u0000\u0001\u000b\u001f"`},
		{"\x7f", "\"\x7f\""},
		{"<script>&amp;</script>", `"<script>&amp;</script>"`},
		{"é€😀", `"é€😀"`},
		{"\u2028\u2029", "\"\u2028\u2029\""},
		{"mixed \"<\n>\" é", `"mixed \"<\n>\" é"`},
		// Invalid UTF-8 cannot come from JavaScript; like encoding/json,
		// each bad byte becomes U+FFFD.
		{"a\xffb", `"a\ufffdb"`},
	}
	for _, c := range cases {
		a := mustArgs(t, c.in)
		if got := string(a.JSON()); got != "["+c.want+"]" {
			t.Errorf("NewArgs(%q).JSON() = %s, want [%s]", c.in, got, c.want)
		}
		var back string
		if err := a.Bind(&back); err != nil || (back != c.in && !strings.Contains(c.in, "\xff")) {
			t.Errorf("Bind(%q) = %q, %v", c.in, back, err)
		}
	}
	// Map keys and strings inside []any get the same treatment, and
	// values marshalled by encoding/json are not HTML-escaped either.
	a := mustArgs(t,
		map[string]any{"z<": "&", "a\"": []any{"\u2028", "\t"}},
		struct {
			S string `json:"s"`
		}{"<a&b>"},
	)
	want := `[{"a\"":["` + "\u2028" + `","\t"],"z<":"&"},{"s":"<a&b>"}]`
	if got := string(a.JSON()); got != want {
		t.Errorf("JSON() = %s, want %s", got, want)
	}
}

func TestNewArgsScalars(t *testing.T) {
	cases := []struct {
		in   any
		want string
	}{
		{nil, "null"},
		{true, "true"},
		{false, "false"},
		{0, "0"},
		{42, "42"},
		{int64(-7), "-7"},
		{int32(math.MinInt32), "-2147483648"},
		{uint64(math.MaxUint64), "18446744073709551615"},
		{uint8(200), "200"},
		{uint(7), "7"},
		{float32(0.5), "0.5"},
		{1.5, "1.5"},
		{0.1, "0.1"},
		{-3.25, "-3.25"},
		{1e21, "1e+21"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{5e-324, "5e-324"},
		{math.NaN(), "null"},
		{math.Inf(1), "null"},
		{math.Inf(-1), "null"},
		{[]any{}, "[]"},
		{map[string]any{}, "{}"},
		{[]int{1, 2}, "[1,2]"},
		{[]string{"x"}, `["x"]`},
	}
	for _, c := range cases {
		if got := string(mustArgs(t, c.in).JSON()); got != "["+c.want+"]" {
			t.Errorf("NewArgs(%#v).JSON() = %s, want [%s]", c.in, got, c.want)
		}
	}
}

// float64 values must print as JSON.stringify (and encoding/json) print
// them: plain decimal notation between 1e-6 and 1e21, and exponents
// without a leading zero. Values decoded from JSON into any are float64,
// so relayed timestamps and counters go through this ioPath.
func TestNewArgsFloat64LikeJSONStringify(t *testing.T) {
	cases := []struct {
		in   float64
		want string
	}{
		{1e6, "1000000"},
		{123456789, "123456789"},
		{1719999999999, "1719999999999"},
		{1e20, "100000000000000000000"},
		{0.000001, "0.000001"},
		{0.00001, "0.00001"},
		{1e-7, "1e-7"},
		{-2.5e-8, "-2.5e-8"},
		{1.5e300, "1.5e+300"},
	}
	for _, c := range cases {
		got := string(mustArgs(t, c.in).JSON())
		if got != "["+c.want+"]" {
			std, _ := json.Marshal(c.in)
			t.Errorf("NewArgs(float64(%v)).JSON() = %s, want [%s] (JSON.stringify; encoding/json gives %s)", c.in, got, c.want, std)
		}
	}
}

// []byte values become placeholders numbered depth first: arrays in
// order, map keys in sorted order.
func TestNewArgsBinaryPlaceholders(t *testing.T) {
	a := mustArgs(t,
		"photo",
		[]any{[]byte{1}, map[string]any{"b": []byte{2}, "a": []any{[]byte{3}, "x"}}},
		[]byte{4},
	)
	const ph = `{"_placeholder":true,"num":%}`
	p := func(n string) string { return strings.Replace(ph, "%", n, 1) }
	want := `["photo",[` + p("0") + `,{"a":[` + p("1") + `,"x"],"b":` + p("2") + `}],` + p("3") + `]`
	if got := string(a.JSON()); got != want {
		t.Errorf("JSON() =\n %s\nwant\n %s", got, want)
	}
	wantAtts := [][]byte{{1}, {3}, {2}, {4}}
	if !reflect.DeepEqual(a.Attachments(), wantAtts) {
		t.Errorf("Attachments() = %v, want %v", a.Attachments(), wantAtts)
	}
	if a.Len() != 3 {
		t.Errorf("Len() = %d, want 3", a.Len())
	}
	// []byte inside a struct is encoding/json's business: base64, no
	// attachment.
	b := mustArgs(t, struct{ B []byte }{[]byte{1}})
	if got := string(b.JSON()); got != `[{"B":"AQ=="}]` || len(b.Attachments()) != 0 {
		t.Errorf("struct with []byte: %s, %d attachments", got, len(b.Attachments()))
	}
}

func TestNewArgsRawMessage(t *testing.T) {
	raw := json.RawMessage(`{"z":1, "a" : [1,2],"h":"<&>"}`)
	a := mustArgs(t, "x", raw, []any{json.RawMessage(`[ true ]`)})
	want := `["x",{"z":1, "a" : [1,2],"h":"<&>"},[[ true ]]]`
	if got := string(a.JSON()); got != want {
		t.Errorf("JSON() = %s, want %s (RawMessage kept byte for byte)", got, want)
	}
	if got := string(a.At(1)); got != string(raw) {
		t.Errorf("At(1) = %s, want %s", got, raw)
	}
	for _, bad := range []json.RawMessage{json.RawMessage(`{"a":`), json.RawMessage(`[1]x`), json.RawMessage(`nope`)} {
		if _, err := hub.NewArgs("x", bad); err == nil {
			t.Errorf("NewArgs with invalid RawMessage %q: no error", bad)
		}
		if _, err := hub.NewArgs([]any{bad}); err == nil {
			t.Errorf("NewArgs with nested invalid RawMessage %q: no error", bad)
		}
	}
	if _, err := hub.NewArgs(make(chan int)); err == nil {
		t.Error("NewArgs(chan): no error")
	}
	if _, err := hub.NewArgs(map[string]any{"f": func() {}}); err == nil {
		t.Error("NewArgs(map with func): no error")
	}
}

func TestNewArgsEmptyAndIdentity(t *testing.T) {
	var zero hub.Args
	for _, a := range []hub.Args{zero, mustArgs(t)} {
		if a.Len() != 0 || string(a.JSON()) != "[]" || a.At(0) != nil || len(a.Attachments()) != 0 {
			t.Errorf("empty args: Len %d JSON %s At(0) %q", a.Len(), a.JSON(), a.At(0))
		}
		vals, err := a.Values()
		if err != nil || len(vals) != 0 {
			t.Errorf("empty args: Values() = %v, %v", vals, err)
		}
		if err := a.Bind(new(string)); err != nil {
			t.Errorf("empty args: Bind: %v", err)
		}
	}
	a := mustArgs(t, "a", []byte{7})
	b := mustArgs(t, a)
	if string(b.JSON()) != string(a.JSON()) || !reflect.DeepEqual(b.Attachments(), a.Attachments()) {
		t.Errorf("NewArgs(Args) = %s %v, want %s %v", b.JSON(), b.Attachments(), a.JSON(), a.Attachments())
	}
}

func TestArgsAtLenJSON(t *testing.T) {
	a := mustArgs(t, "a\",b]", []any{1, "x,y"}, map[string]any{"k": "v,]}"}, nil, 2.5)
	want := []string{`"a\",b]"`, `[1,"x,y"]`, `{"k":"v,]}"}`, `null`, `2.5`}
	if a.Len() != len(want) {
		t.Fatalf("Len() = %d, want %d", a.Len(), len(want))
	}
	for i, w := range want {
		if got := string(a.At(i)); got != w {
			t.Errorf("At(%d) = %s, want %s", i, got, w)
		}
	}
	if a.At(len(want)) != nil || a.At(-1) != nil {
		t.Errorf("At out of range: %q %q", a.At(len(want)), a.At(-1))
	}
	if got := string(a.JSON()); got != "["+strings.Join(want, ",")+"]" {
		t.Errorf("JSON() = %s", got)
	}
}

func TestRawArgs(t *testing.T) {
	ph0 := `{"_placeholder":true,"num":0}`
	a, err := hub.RawArgs(json.RawMessage(`[1,"a",`+ph0+`,{"n":[`+ph0+`]}]`), [][]byte{{9, 8}})
	if err != nil {
		t.Fatal(err)
	}
	if a.Len() != 4 || string(a.At(2)) != ph0 {
		t.Errorf("Len %d At(2) %s", a.Len(), a.At(2))
	}
	var n int
	var s string
	var b []byte
	if err := a.Bind(&n, &s, &b); err != nil || n != 1 || s != "a" || !bytes.Equal(b, []byte{9, 8}) {
		t.Errorf("Bind = %d %q %v, %v", n, s, b, err)
	}
	vals, err := a.Values()
	wantVals := []any{1.0, "a", []byte{9, 8}, map[string]any{"n": []any{[]byte{9, 8}}}}
	if err != nil || !reflect.DeepEqual(vals, wantVals) {
		t.Errorf("Values() = %#v, %v; want %#v", vals, err, wantVals)
	}

	// Whitespace around and inside is kept as given, but not counted.
	w, err := hub.RawArgs(json.RawMessage(" [ 1 , \"x\" ]\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if w.Len() != 2 || string(w.At(0)) != "1" || string(w.At(1)) != `"x"` || string(w.JSON()) != `[1 , "x"]` {
		t.Errorf("spaced: Len %d At %s %s JSON %s", w.Len(), w.At(0), w.At(1), w.JSON())
	}
	e, err := hub.RawArgs(json.RawMessage(`[]`), nil)
	if err != nil || e.Len() != 0 || string(e.JSON()) != "[]" {
		t.Errorf("empty: %v %d %s", err, e.Len(), e.JSON())
	}

	bad := []struct {
		in   string
		atts int
	}{
		{``, 0},
		{`{}`, 0},
		{`1`, 0},
		{`"[]"`, 0},
		{`[1,`, 0},
		{`[1]x`, 0},
		{`[`, 0},
		{`[` + ph0 + `]`, 0},
		{`[{"_placeholder":true,"num":1}]`, 1},
		{`[{"_placeholder":true,"num":-1}]`, 1},
		{`[{"_placeholder":true,"num":"0"}]`, 1},
		{`[{"_placeholder":true,"num":0.5}]`, 1},
		{`[{"_placeholder":true}]`, 1},
		{`[{"deep":[{"_placeholder":true,"num":3}]}]`, 2},
	}
	for _, c := range bad {
		if _, err := hub.RawArgs(json.RawMessage(c.in), make([][]byte, c.atts)); err == nil {
			t.Errorf("RawArgs(%s, %d attachments): no error", c.in, c.atts)
		}
	}
}

func TestArgsBind(t *testing.T) {
	a := mustArgs(t, 1, "a", map[string]any{"x": 2}, []byte{5, 6}, "AQI=", true)
	var (
		n    int
		s    string
		obj  struct{ X int }
		bin  []byte
		b64  []byte
		keep = "untouched"
	)
	if err := a.Bind(&n, &s, &obj, &bin, &b64); err != nil {
		t.Fatal(err)
	}
	if n != 1 || s != "a" || obj.X != 2 || !bytes.Equal(bin, []byte{5, 6}) || !bytes.Equal(b64, []byte{1, 2}) {
		t.Errorf("Bind = %d %q %+v %v %v", n, s, obj, bin, b64)
	}
	// nil targets skip an argument; targets past the end stay as they are.
	n, s = 0, ""
	short := mustArgs(t, "skip", 7)
	if err := short.Bind(nil, &n, &keep); err != nil || n != 7 || keep != "untouched" {
		t.Errorf("Bind(nil, &n, &keep) = %d %q, %v", n, keep, err)
	}
	err := mustArgs(t, "x", "not a number").Bind(nil, &n)
	if err == nil || !strings.Contains(err.Error(), "argument 1") {
		t.Errorf("Bind type mismatch: err = %v, want one naming argument 1", err)
	}
	// A *[]byte on a non-placeholder object falls back to encoding/json.
	if err := mustArgs(t, map[string]any{"a": 1}).Bind(&bin); err == nil {
		t.Error("Bind(*[]byte) on an object: no error")
	}
}

func TestArgsValues(t *testing.T) {
	a := mustArgs(t, "a", 1, []any{[]byte{1}, "x"}, map[string]any{"k": []byte{2}}, nil, json.RawMessage(`{"r":[true]}`))
	vals, err := a.Values()
	if err != nil {
		t.Fatal(err)
	}
	want := []any{"a", 1.0, []any{[]byte{1}, "x"}, map[string]any{"k": []byte{2}}, nil, map[string]any{"r": []any{true}}}
	if !reflect.DeepEqual(vals, want) {
		t.Errorf("Values() = %#v\nwant %#v", vals, want)
	}
	// Values are fresh: changing them does not change the Args.
	vals[0] = "changed"
	if string(a.At(0)) != `"a"` {
		t.Errorf("At(0) after changing Values: %s", a.At(0))
	}
}

func TestArgsFrom(t *testing.T) {
	a := mustArgs(t, "room,1", "a", []byte{1}, map[string]any{"k": []byte{2}})
	ph := func(n string) string { return `{"_placeholder":true,"num":` + n + `}` }
	cases := []struct {
		i    int
		want string
	}{
		{-1, `["room,1","a",` + ph("0") + `,{"k":` + ph("1") + `}]`},
		{0, `["room,1","a",` + ph("0") + `,{"k":` + ph("1") + `}]`},
		{1, `["a",` + ph("0") + `,{"k":` + ph("1") + `}]`},
		{3, `[{"k":` + ph("1") + `}]`},
		{4, `[]`},
		{9, `[]`},
	}
	for _, c := range cases {
		f := a.From(c.i)
		if got := string(f.JSON()); got != c.want {
			t.Errorf("From(%d).JSON() = %s, want %s", c.i, got, c.want)
		}
	}
	// Attachments stay whole, so the placeholders still resolve.
	var b []byte
	if err := a.From(2).Bind(&b); err != nil || !bytes.Equal(b, []byte{1}) {
		t.Errorf("From(2).Bind = %v, %v", b, err)
	}
	vals, err := a.From(3).Values()
	if err != nil || !reflect.DeepEqual(vals, []any{map[string]any{"k": []byte{2}}}) {
		t.Errorf("From(3).Values() = %v, %v", vals, err)
	}
	r, err := hub.RawArgs(json.RawMessage(`[ "r" ,  1 ,{"a":[2, 3]} ]`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(r.From(1).JSON()); got != `[1 ,{"a":[2, 3]}]` {
		t.Errorf("RawArgs From(1).JSON() = %s", got)
	}
	if got := r.From(1).Len(); got != 2 {
		t.Errorf("RawArgs From(1).Len() = %d", got)
	}
}
