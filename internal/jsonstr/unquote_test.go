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

// FuzzUnquote checks Unquote against encoding/json. Unquote reads the
// string at the start of its input and reports its length, so what
// follows the closing quote (a trailing space, say) is not its business:
// the comparison is on the n bytes it read.
func FuzzUnquote(f *testing.F) {
	f.Add([]byte(`"a\u00e9\ud83d\ude00\n"`))
	f.Add([]byte(`"\ud800\u0000"`))
	f.Add([]byte(`"a" `))
	f.Add([]byte(`"a"tail`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !utf8.Valid(b) {
			return // Unquote copies invalid bytes; encoding/json replaces them
		}
		got, n, err := Unquote(nil, b)
		var whole string
		wholeErr := json.Unmarshal(b, &whole)
		if err != nil {
			if len(b) > 0 && b[0] == '"' && wholeErr == nil {
				t.Fatalf("%q: encoding/json takes it (%q), Unquote fails at %d: %v", b, whole, n, err)
			}
			return
		}
		if n < 2 || n > len(b) || b[0] != '"' || b[n-1] != '"' {
			t.Fatalf("%q: Unquote read %d bytes, not a quoted string", b, n)
		}
		var want string
		if jerr := json.Unmarshal(b[:n], &want); jerr != nil || string(got) != want {
			t.Fatalf("%q: Unquote %q from %q, encoding/json %q (%v)", b, got, b[:n], want, jerr)
		}
		if wholeErr == nil && whole != want {
			t.Fatalf("%q: encoding/json reads the whole input as %q, Unquote its first %d bytes as %q", b, whole, n, got)
		}
	})
}
