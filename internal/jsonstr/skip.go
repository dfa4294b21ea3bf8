package jsonstr

import (
	"encoding/binary"
	"math/bits"
)

// SkipString returns the index just past the JSON string whose opening
// quote is b[i], and whether the string holds escapes; -1 when it does not
// end. It finds the string's end only: what is inside is for its decoder
// to check. It looks at eight bytes at a time, which the scanners of the
// plugin host use to step over long strings (payloads, tokens) quickly.
func SkipString(b []byte, i int) (int, bool) {
	esc := false
	j := i + 1
	for {
		j = nextQuoteOrBackslash(b, j)
		if j >= len(b) {
			return -1, esc
		}
		if b[j] == '"' {
			return j + 1, esc
		}
		esc = true
		j += 2
	}
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// nextQuoteOrBackslash returns the index of the first '"' or '\\' in b
// from j on, or len(b) (or more, past a backslash that ends b).
func nextQuoteOrBackslash(b []byte, j int) int {
	for j+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[j:])
		q := x ^ ('"' * ones)
		s := x ^ ('\\' * ones)
		// A zero byte in q or s is a match; the lowest flagged byte is exact.
		if m := ((q - ones) &^ q & highs) | ((s - ones) &^ s & highs); m != 0 {
			return j + bits.TrailingZeros64(m)>>3
		}
		j += 8
	}
	for j < len(b) && b[j] != '"' && b[j] != '\\' {
		j++
	}
	return j
}
