package msgpack

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(s)
	}
	return b
}

// JSON with placeholders goes to msgpack with bin values in place and
// comes back the same.
func TestJSONRoundTrip(t *testing.T) {
	atts := [][]byte{{1, 2, 3}, {}}
	for _, src := range []string{
		`[]`, `[1,-1,1.5,"x",true,false,null]`,
		`[{"a":{"_placeholder":true,"num":0}},[{"_placeholder":true,"num":1}],"é\u0000\n"]`,
		`[{"_placeholder":true,"num":2},{"_placeholder":false,"num":0},{"num":0,"_placeholder":true,"x":1}]`,
		`[` + strings.Repeat(`[`, 100) + strings.Repeat(`]`, 100) + `]`,
	} {
		mp, n, err := AppendJSONList(nil, []byte(src), atts, 0, false)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		var list []byte
		if src != `[`+strings.Repeat(`[`, 100)+strings.Repeat(`]`, 100)+`]` {
			d := NewDecoder(mp)
			var got [][]byte
			for i := range n {
				if i > 0 {
					list = append(list, ',')
				}
				if list, err = d.AppendJSON(list, &got, 1); err != nil {
					t.Fatalf("%s: back: %v", src, err)
				}
			}
			var a, b any
			json.Unmarshal([]byte(src), &a)
			json.Unmarshal(append(append([]byte("["), list...), ']'), &b)
			aj, _ := json.Marshal(a)
			bj, _ := json.Marshal(b)
			if !bytes.Equal(aj, bj) {
				t.Errorf("%s came back as [%s]", src, list)
			}
			for _, g := range got {
				if !bytes.Equal(g, atts[0]) && !bytes.Equal(g, atts[1]) {
					t.Errorf("%s: attachment %x", src, g)
				}
			}
		}
		// A bare list is the same values.
		inner := strings.TrimSuffix(strings.TrimPrefix(src, "["), "]")
		mp2, n2, err := AppendJSONList(nil, []byte(inner), atts, 0, true)
		if err != nil || n2 != n || !bytes.Equal(mp, mp2) {
			t.Errorf("%s as a bare list: %x %d %v, want %x %d", src, mp2, n2, err, mp, n)
		}
	}
	// With a bound, nesting past it is refused; without, it is written.
	deep := []byte(strings.Repeat(`[`, MaxDepth+2) + strings.Repeat(`]`, MaxDepth+2))
	if _, err := AppendJSON(nil, deep, nil, MaxDepth); !errors.Is(err, ErrDepth) {
		t.Errorf("deep JSON with a bound: %v", err)
	}
	if _, err := AppendJSON(nil, deep, nil, 0); err != nil {
		t.Errorf("deep JSON without a bound: %v", err)
	}
}

func TestAppendJSONBoundsBins(t *testing.T) {
	d := NewDecoder(unhex("93 c40101 c40102 c40103"))
	d.MaxBins = 2
	var atts [][]byte
	if _, err := d.AppendJSON(nil, &atts, 0); !errors.Is(err, ErrTooManyBins) {
		t.Fatalf("three bins with a bound of two: %v", err)
	}
}

func TestDecodeDates(t *testing.T) {
	for _, tc := range []struct{ hex, want string }{
		{"d700 0000000000000000", "1970-01-01T00:00:00.000Z"},         // notepack 2's Date
		{"d700 0000018bcfe56800", "2023-11-14T22:13:20.000Z"},         // ms 1700000000000
		{"d6ff 6553f100", "2023-11-14T22:13:20.000Z"},                 // timestamp 32
		{"c708 00 0000018bcfe56800", "\x00\x00\x01\x8b\xcf\xe5h\x00"}, // an ArrayBuffer of 8 bytes
	} {
		v, err := Decode(unhex(tc.hex))
		got, _ := v.(string)
		if b, ok := v.([]byte); ok {
			got = string(b)
		}
		if err != nil || got != tc.want {
			t.Errorf("%s = %#v, %v; want %q", tc.hex, v, err, tc.want)
		}
	}
}

// FuzzSkip checks that Skip passes over exactly what Value reads, and
// fails where it fails (but for strings that are not UTF-8, which Skip
// does not check).
func FuzzSkip(f *testing.F) {
	for _, s := range []string{
		"c0", "93 01 a161 c40101", "82 a161 01 a162 92 c3 c2", "dc0002 cb3ff8000000000000 d0ff",
		"c70200 0102", "d40000", "d700 0000000000000000", "dbffffffff", "ddffffffff 01", "c1",
		strings.Repeat("91", 70) + "c0",
	} {
		f.Add(unhex(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		a, b := NewDecoder(in), NewDecoder(in)
		_, verr := a.Value(0)
		serr := b.Skip(0)
		if errors.Is(verr, ErrInvalidUTF8) {
			return
		}
		if (verr == nil) != (serr == nil) {
			// Value refuses extensions it does not know and odd
			// timestamps, which Skip passes over.
			if serr == nil {
				if msg := verr.Error(); strings.Contains(msg, "extension") || strings.Contains(msg, "timestamp") || strings.Contains(msg, "map key") {
					return
				}
			}
			t.Fatalf("%x: Value %v, Skip %v", in, verr, serr)
		}
		if verr == nil && a.Left() != b.Left() {
			t.Fatalf("%x: Value left %d bytes, Skip %d", in, a.Left(), b.Left())
		}
	})
}
