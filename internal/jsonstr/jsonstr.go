// Package jsonstr writes Go strings and numbers as JSON the way
// JavaScript's JSON.stringify does: strings without HTML escaping, control
// characters escaped and invalid UTF-8 replaced by U+FFFD; numbers in
// JavaScript's shortest form. The hub's packets, the plugin host's
// envelopes, the JavaScript runtime's decisions and the Redis adapter all
// use it.
package jsonstr

import (
	"math"
	"strconv"
	"unsafe"

	"github.com/hubd/hubd/sdk/wire"
)

// Append appends s to dst as a JSON string (wire.AppendString: the one
// escaper the host and the SDKs share).
func Append(dst []byte, s string) []byte { return wire.AppendString(dst, s) }

// AppendBytes appends b, UTF-8 text, to dst as a JSON string.
func AppendBytes(dst, b []byte) []byte {
	return Append(dst, unsafe.String(unsafe.SliceData(b), len(b)))
}

// AppendNumber appends f as JSON.stringify does: plain decimals from 1e-6
// up to 1e21, exponents without leading zeros outside, null for NaN and
// the infinities.
func AppendNumber(dst []byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return append(dst, "null"...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// e-07 → e-7
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}
