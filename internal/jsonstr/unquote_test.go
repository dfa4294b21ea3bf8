package jsonstr

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestUnquoteAsEncodingJSON(t *testing.T) {
	for _, s := range []string{`""`, `"plain"`, `"a\"b\\c\/d\b\f\n\r\t"`, `"\u00e9\u20AC"`, `"\ud83d\ude00"`,
		`"\ud800"`, `"\udc00\udc00"`, `"\ud800\u0041"`, `"\ud800\ud800\udc00"`, `"é😀"`} {
		got, n, err := Unquote(nil, []byte(s+"tail"))
		if err != nil || n != len(s) {
			t.Errorf("Unquote(%s) = %q, %d, %v", s, got, n, err)
			continue
		}
		var want string
		_ = json.Unmarshal([]byte(s), &want)
		if string(got) != want {
			t.Errorf("Unquote(%s) = %q, want %q", s, got, want)
		}
	}
	for _, s := range []string{`"abc`, `"a\`, "\"a\x01\"", `"\x"`, `"\u12"`, `"\u12g4"`, `x`} {
		if _, _, err := Unquote(nil, []byte(s)); err == nil {
			t.Errorf("Unquote(%q) took it", s)
		}
	}
}

func FuzzUnquote(f *testing.F) {
	f.Add([]byte(`"a\u00e9\ud83d\ude00\n"`))
	f.Add([]byte(`"\ud800\u0000"`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !utf8.Valid(b) {
			return // Unquote copies invalid bytes; encoding/json replaces them
		}
		got, n, err := Unquote(nil, b)
		var want string
		jerr := json.Unmarshal(b, &want)
		if err == nil && n == len(b) {
			if jerr != nil || string(got) != want {
				t.Fatalf("%q: Unquote %q, encoding/json %q (%v)", b, got, want, jerr)
			}
		} else if jerr == nil {
			t.Fatalf("%q: encoding/json takes it (%q), Unquote fails at %d: %v", b, want, n, err)
		}
	})
}
