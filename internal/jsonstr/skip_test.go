package jsonstr

import "testing"

// skipStringNaive is SkipString one byte at a time.
func skipStringNaive(b []byte, i int) (int, bool) {
	esc := false
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '"':
			return j + 1, esc
		case '\\':
			esc = true
			j++
		}
	}
	return -1, esc
}

func TestSkipString(t *testing.T) {
	for _, tc := range []struct {
		in  string
		end int
		esc bool
	}{
		{`""`, 2, false},
		{`"a"`, 3, false},
		{`"abcdefghijklmnop"x`, 18, false},
		{`"abc\"def"`, 10, true},
		{`"abcdefgh\\"`, 12, true},
		{`"abcdefgh\\\"ij"`, 16, true},
		{`"abc`, -1, false},
		{`"abcdefghijk\`, -1, true},
		{`"abcdefghijk\"`, -1, true},
		{`"é—😀"`, len(`"é—😀"`), false},
	} {
		end, esc := SkipString([]byte(tc.in), 0)
		if end != tc.end || esc != tc.esc {
			t.Errorf("SkipString(%q) = %d, %v; want %d, %v", tc.in, end, esc, tc.end, tc.esc)
		}
	}
}

// Past 16 plain bytes the closing quote is searched for at once, with the
// backslashes before it counted: the same ends as byte by byte.
func TestSkipStringLong(t *testing.T) {
	long := `"abcdefghijklmnopqrst`
	for _, rest := range []string{`uvwxyz"`, `\"uvwxyz"`, `\\"uvwxyz"`, `\\\"uv"`, `\n"`, `uvwxyz`, `\"`, `\\`, `\`} {
		b := []byte(long + rest)
		end, esc := SkipString(b, 0)
		wantEnd, wantEsc := skipStringNaive(b, 0)
		if end != wantEnd || (end >= 0 && esc != wantEsc) {
			t.Errorf("SkipString(%q) = %d, %v; want %d, %v", b, end, esc, wantEnd, wantEsc)
		}
	}
}

func FuzzSkipString(f *testing.F) {
	for _, s := range []string{`"a"`, `"a\"b"`, `"abcdefgh\\"rest`, `"unterminated\`, `"12345678901234567"`,
		`"abcdefghijklmnopq\\\"rs"t`, `"abcdefghijklmnopqrst\\"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 || b[0] != '"' {
			return
		}
		end, esc := SkipString(b, 0)
		wantEnd, wantEsc := skipStringNaive(b, 0)
		if end != wantEnd || (end >= 0 && esc != wantEsc) {
			t.Fatalf("SkipString(%q) = %d, %v; want %d, %v", b, end, esc, wantEnd, wantEsc)
		}
	})
}
