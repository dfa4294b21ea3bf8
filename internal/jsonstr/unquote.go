package jsonstr

import (
	"errors"
	"unicode/utf16"
	"unicode/utf8"
)

// Errors of Unquote.
var (
	ErrUnterminated = errors.New("unterminated string")
	ErrControl      = errors.New("control character in a string")
	ErrEscape       = errors.New("invalid escape")
)

// Unquote reads the JSON string at the start of src (from its opening
// quote), appends its text to dst with the escapes resolved, and returns
// dst and the string's length in src, quotes included. A lone surrogate
// half becomes U+FFFD, as encoding/json reads it; bytes that are not
// UTF-8 are copied as they are (callers hold validated text). On an error,
// n is the offset in src where it was found.
func Unquote(dst, src []byte) (out []byte, n int, err error) {
	if len(src) == 0 || src[0] != '"' {
		return dst, 0, ErrUnterminated
	}
	i := 1
	for i < len(src) {
		c := src[i]
		switch {
		case c == '"':
			return dst, i + 1, nil
		case c < 0x20:
			return dst, i, ErrControl
		case c != '\\':
			dst = append(dst, c)
			i++
			continue
		}
		if i+1 >= len(src) {
			break
		}
		e := src[i+1]
		i += 2
		switch e {
		case '"', '\\', '/':
			dst = append(dst, e)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(src[i:])
			if !ok {
				return dst, i, ErrEscape
			}
			i += 4
			if utf16.IsSurrogate(r) {
				// A pair makes one character; a lone half is U+FFFD and
				// what follows it is read on its own.
				pair := false
				if r < 0xdc00 && i+1 < len(src) && src[i] == '\\' && src[i+1] == 'u' {
					if r2, ok := hex4(src[i+2:]); ok && r2 >= 0xdc00 && r2 <= 0xdfff {
						r, pair = utf16.DecodeRune(r, r2), true
						i += 6
					}
				}
				if !pair {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
		default:
			return dst, i - 1, ErrEscape
		}
	}
	return dst, len(src), ErrUnterminated
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
