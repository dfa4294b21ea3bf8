package jsonstr

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// SkipString returns the index just past the JSON string whose opening
// quote is b[i], and whether the string holds escapes; -1 when it does not
// end. It finds the string's end only: what is inside is for its decoder
// to check. The plugin host's scanners step over every string of an
// envelope with it: short ones (keys, names) and those with escapes are
// read eight bytes at a time; past 16 plain bytes (payloads, tokens) it
// looks for the closing quote with bytes.IndexByte, several times faster
// on long strings.
func SkipString(b []byte, i int) (int, bool) {
	j := i + 1
	lim := j + 16
	if lim > len(b) {
		return skipFrom(b, j, false)
	}
	if k := nextQuoteOrBackslash(b[:lim], j); k < lim {
		if b[k] == '"' {
			return k + 1, false
		}
		return skipFrom(b, k+2, true)
	}
	// A long string: b[i+1:lim] holds no quote or backslash. A quote is
	// escaped when an odd number of backslashes precede it.
	for j = lim; ; {
		q := bytes.IndexByte(b[j:], '"')
		if q < 0 {
			return -1, bytes.IndexByte(b[lim:], '\\') >= 0
		}
		q += j
		k := q
		for k > lim && b[k-1] == '\\' {
			k--
		}
		if (q-k)%2 == 0 {
			return q + 1, bytes.IndexByte(b[lim:q], '\\') >= 0
		}
		j = q + 1
	}
}

// skipFrom is SkipString from b[j], inside the string, eight bytes at a
// time; esc says whether an escape came before j.
func skipFrom(b []byte, j int, esc bool) (int, bool) {
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
