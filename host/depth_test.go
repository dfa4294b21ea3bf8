package host

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hubd/hubd/sdk/wire"
)

func nest(depth int, inner string) string {
	return strings.Repeat("[", depth) + inner + strings.Repeat("]", depth)
}

func TestNestedDeeper(t *testing.T) {
	long := strings.Repeat("x", 200) // past the length shortcut
	cases := []struct {
		json string
		max  int
		want bool
	}{
		{`[]`, 1, false},
		{`[[]]`, 1, true},
		{nest(64, ""), 64, false},
		{nest(65, ""), 64, true},
		{`[{"a":[{"b":[]}]}]`, 5, false},
		{`[{"a":[{"b":[]}]}]`, 4, true},
		// Brackets inside strings do not nest, escaped quotes do not end them.
		{`["` + strings.Repeat("[", 300) + `"]`, 1, false},
		{`["\"` + strings.Repeat("[", 300) + `"]`, 1, false},
		{`["\\",` + nest(3, "") + `,"` + long + `"]`, 3, true},
		{`["\\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",[[` + long + `]]]`, 3, false},
		// Siblings do not add up.
		{strings.Repeat(`[[[]]],`, 100) + "0", 3, false},
		// Malformed input is not this scan's business, and does not panic.
		{`["` + long, 1, false},
		{strings.Repeat("]", 300), 1, false},
	}
	for _, c := range cases {
		if got := nestedDeeper([]byte(c.json), c.max); got != c.want {
			t.Errorf("nestedDeeper(%.40q…, %d) = %v, want %v", c.json, c.max, got, c.want)
		}
	}
}

// depthOf is a reference: the nesting of valid JSON, from its tokens.
func depthOf(b []byte) (int, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	depth, deepest := 0, 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return deepest, err.Error() == "EOF"
		}
		switch tok {
		case json.Delim('['), json.Delim('{'):
			depth++
			deepest = max(deepest, depth)
		case json.Delim(']'), json.Delim('}'):
			depth--
		}
	}
}

func FuzzNestedDeeper(f *testing.F) {
	for _, s := range []string{`[]`, nest(70, `"a\"]"`), `[{"a":"\\"},[[["]"]]]]`, `{"k":[1,{"x":[]}]}`} {
		f.Add([]byte(s), uint8(2))
	}
	f.Fuzz(func(t *testing.T, b []byte, m uint8) {
		max := int(m)
		got := nestedDeeper(b, max) // must not panic on anything
		if !json.Valid(b) {
			return
		}
		depth, ok := depthOf(b)
		if !ok {
			return
		}
		if want := depth > max; got != want {
			t.Fatalf("nestedDeeper(%q, %d) = %v, depth %d", b, max, got, depth)
		}
	})
}

func TestCheckRefusesDeepAndInvalidUTF8(t *testing.T) {
	deep := wire.Raw(nest(MaxJSONDepth+1, ""))
	bad := wire.Raw("[\"\xff\"]")
	for _, d := range []Decision{
		{Args: deep}, {Reply: deep}, {Data: wire.Raw(`{"a":` + nest(MaxJSONDepth, "") + `}`)}, {SocketData: deep},
		{Args: bad}, {Reply: bad}, {Data: bad}, {SocketData: bad},
	} {
		if err := CheckDecision(&d); !errors.Is(err, ErrGarbage) {
			t.Errorf("%+v: %v, want garbage", d, err)
		}
	}
	ok := Decision{Args: wire.Raw(nest(MaxJSONDepth, `"é"`))}
	if err := CheckDecision(&ok); err != nil {
		t.Errorf("args at the bound: %v", err)
	}
	if _, err := ParseDecision([]byte("{\"args\":[\"\xff\"]}")); !errors.Is(err, ErrGarbage) {
		t.Errorf("ParseDecision kept invalid UTF-8: %v", err)
	}
}

// FuzzParseDecision: the host core's parser, which the process runtime
// uses and the Wasm runtime falls back on, never panics, and what it
// accepts passes CheckDecision with args and reply that are JSON arrays
// of valid UTF-8.
func FuzzParseDecision(f *testing.F) {
	for _, s := range []string{
		``, `null`, `{}`, `{"action":"deny","reason":"no","data":{"code":1}}`,
		`{"action":"reply","reply":[1,"x"]}`, `{"args":["a",{"b":null}],"event":"e","rooms":["r"],"except":["x"],"to_sender":false}`,
		`{"socket_data":{"user":"ann"},"join":["a","b"]}`, `{"action":"explode"}`, `{"args":{}}`, `{"reason":"` + strings.Repeat("x", 300) + `"}`,
		"{\"args\":[\"\xe2\x82\"]}", `{"args":` + nest(70, "") + `}`, `{"args":["\ud800"]}`, `[]`, `{"action":"allow","args":[],"reply":[]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseDecision(b)
		if err != nil {
			if !errors.Is(err, ErrGarbage) {
				t.Fatalf("error %v does not wrap ErrGarbage", err)
			}
			return
		}
		checkAccepted(t, d)
	})
}

// checkAccepted asserts what every accepted decision must be.
func checkAccepted(t *testing.T, d *Decision) {
	t.Helper()
	if err := CheckDecision(d); err != nil {
		t.Fatalf("accepted %+v fails CheckDecision: %v", d, err)
	}
	for name, raw := range map[string]wire.Raw{"args": d.Args, "reply": d.Reply, "data": d.Data, "socket_data": d.SocketData} {
		if raw == nil {
			continue
		}
		if !json.Valid(raw) || !utf8.Valid(raw) {
			t.Fatalf("%s %q is not valid JSON in UTF-8", name, raw)
		}
	}
	for _, raw := range []wire.Raw{d.Args, d.Reply} {
		if raw != nil && bytes.TrimSpace(raw)[0] != '[' {
			t.Fatalf("args or reply %q is not an array", raw)
		}
	}
}

func TestStrikesAreBounded(t *testing.T) {
	var s strikes
	now := time.Now()
	for i := range maxStruckSockets + 100 {
		first := s.fail(fmt.Sprint("s", i), now, 1)
		if !first {
			t.Fatalf("socket %d: first failure not reported first", i)
		}
	}
	if n := s.len(); n != maxStruckSockets {
		t.Fatalf("%d sockets kept, want the bound %d", n, maxStruckSockets)
	}
	// Entries of sockets that stopped failing long ago make room.
	later := now.Add(breakerMaxBackoff + time.Second)
	s.fail("fresh", later, 1)
	if n := s.len(); n != 1 {
		t.Fatalf("%d sockets kept after a sweep, want the fresh one", n)
	}
	if _, struck := s.held("fresh", later); !struck {
		t.Fatal("the fresh socket was not kept")
	}
	s.forget("fresh")
	if s.len() != 0 {
		t.Fatal("forget kept the socket")
	}
}

func TestStrikesHoldASocket(t *testing.T) {
	var s strikes
	now := time.Now()
	if !s.fail("a", now, 1) {
		t.Fatal("first failure")
	}
	for range breakerThreshold - 2 {
		if s.fail("a", now, 1) {
			t.Fatal("a later failure reported as the first")
		}
	}
	if held, _ := s.held("a", now); held {
		t.Fatal("held before the threshold")
	}
	s.fail("a", now, 1)
	if held, _ := s.held("a", now); !held {
		t.Fatal("not held at the threshold")
	}
	if held, _ := s.held("b", now); held {
		t.Fatal("another socket held")
	}
	if held, struck := s.held("a", now.Add(breakerMinBackoff)); held || !struck {
		t.Fatal("still held after the backoff, or forgotten")
	}
	s.fail("a", now.Add(breakerMinBackoff), 1)
	if held, _ := s.held("a", now.Add(2*breakerMinBackoff)); !held {
		t.Fatal("a failure after the backoff did not double it")
	}
}

// BenchmarkNestedDeeper is the depth scan alone, per byte of arguments.
func BenchmarkNestedDeeper(b *testing.B) {
	for _, c := range []struct{ name, json string }{
		{"structured-64KiB", `[` + strings.Repeat(`[1,{"a":["b",[2]]}],`, 64<<10/20) + `0]`},
		{"text-64KiB", `["` + strings.Repeat("lorem ipsum ", 64<<10/12) + `"]`},
		{"objects-1KiB", `[` + strings.Repeat(`{"k":[1,2,"abcdefgh"]},`, 40) + `0]`},
	} {
		b.Run(c.name, func(b *testing.B) {
			in := []byte(c.json)
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				if nestedDeeper(in, MaxJSONDepth) {
					b.Fatal("deep")
				}
			}
		})
	}
}
