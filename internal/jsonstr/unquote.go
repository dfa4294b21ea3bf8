package jsonstr

import (
	"errors"

	"github.com/hubd/hubd/sdk/wire"
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
		next := 0
		if dst, next = wire.AppendEscape(dst, src, i); next < 0 {
			if src[i+1] == 'u' {
				return dst, i + 2, ErrEscape // at the hex digits
			}
			return dst, i + 1, ErrEscape // at the escape's letter
		}
		i = next
	}
	return dst, len(src), ErrUnterminated
}
