// Package msgpack reads and writes the MessagePack that Socket.IO's Node
// packages exchange: notepack.io's, which the Redis adapter and
// socket.io-msgpack-parser use. It writes maps with string keys, integers
// in their smallest form, other numbers as float64 and binary values as
// bin; it reads what notepack writes besides: ArrayBuffers (ext 0),
// undefined (fixext1 0, read as nil) and Dates (notepack 2's fixext8 0 and
// the timestamp ext -1, read as the string JSON.stringify gives a Date).
//
// Values travel as Go values (nil, bool, int64, uint64, float64, string,
// []byte, []any and map[string]any) or are converted straight between
// msgpack and the hub's JSON with binary placeholders (json.go), which is
// the per-message work of a msgpack parser or adapter.
//
// The decoder takes hostile input: every length is checked against the
// bytes left before anything is allocated for it, nesting is bounded, and
// a string that is not UTF-8 is refused.
package msgpack

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
)

// Raw is a value already in msgpack, written as it is.
type Raw []byte

// AppendValue appends the msgpack form of v: nil, bool, string, []byte,
// int, int64, uint64, float64, json.Number, []any, []string,
// map[string]any (keys in sorted order), Raw, or json.RawMessage (a JSON
// value, written in its msgpack form).
func AppendValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case Raw:
		return append(b, x...), nil
	case json.RawMessage:
		return AppendJSON(b, x, nil, MaxDepth)
	case nil:
		return append(b, 0xc0), nil
	case bool:
		if x {
			return append(b, 0xc3), nil
		}
		return append(b, 0xc2), nil
	case string:
		return AppendString(b, x), nil
	case []byte:
		return AppendBin(b, x), nil
	case int:
		return AppendInt(b, int64(x)), nil
	case int64:
		return AppendInt(b, x), nil
	case uint64:
		if x <= math.MaxInt64 {
			return AppendInt(b, int64(x)), nil
		}
		b = append(b, 0xcf)
		return binary.BigEndian.AppendUint64(b, x), nil
	case float64:
		return AppendNumber(b, x), nil
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return AppendInt(b, i), nil
		}
		f, err := x.Float64()
		if err != nil {
			return b, fmt.Errorf("msgpack: number %q: %w", x, err)
		}
		return AppendNumber(b, f), nil
	case []any:
		b = AppendArrayHeader(b, len(x))
		for _, e := range x {
			var err error
			if b, err = AppendValue(b, e); err != nil {
				return b, err
			}
		}
		return b, nil
	case []string:
		b = AppendArrayHeader(b, len(x))
		for _, e := range x {
			b = AppendString(b, e)
		}
		return b, nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = AppendMapHeader(b, len(x))
		for _, k := range keys {
			b = AppendString(b, k)
			var err error
			if b, err = AppendValue(b, x[k]); err != nil {
				return b, err
			}
		}
		return b, nil
	}
	return b, fmt.Errorf("msgpack: cannot encode %T", v)
}

// AppendNumber writes a JavaScript number as notepack does: integers in
// their smallest form, anything else as float64.
func AppendNumber(b []byte, f float64) []byte {
	if f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 {
		return AppendInt(b, int64(f))
	}
	b = append(b, 0xcb)
	return binary.BigEndian.AppendUint64(b, math.Float64bits(f))
}

// AppendInt writes i in its smallest form.
func AppendInt(b []byte, i int64) []byte {
	switch {
	case i >= 0 && i < 128:
		return append(b, byte(i))
	case i < 0 && i >= -32:
		return append(b, byte(i))
	case i >= 0 && i <= math.MaxUint8:
		return append(b, 0xcc, byte(i))
	case i >= 0 && i <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(i))
	case i >= 0 && i <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(i))
	case i >= 0:
		return binary.BigEndian.AppendUint64(append(b, 0xcf), uint64(i))
	case i >= math.MinInt8:
		return append(b, 0xd0, byte(i))
	case i >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(b, 0xd1), uint16(i))
	case i >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(i))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(i))
}

// AppendString writes a msgpack str from a string or UTF-8 bytes.
func AppendString[S string | []byte](b []byte, s S) []byte {
	n := len(s)
	switch {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n <= math.MaxUint8:
		b = append(b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
	return append(b, s...)
}

// AppendBin writes p as a bin (a Buffer in Node).
func AppendBin(b, p []byte) []byte {
	n := len(p)
	switch {
	case n <= math.MaxUint8:
		b = append(b, 0xc4, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, 0xc5), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xc6), uint32(n))
	}
	return append(b, p...)
}

// AppendArrayHeader writes the header of an array of n elements.
func AppendArrayHeader(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x90|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xdc), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdd), uint32(n))
}

// AppendMapHeader writes the header of a map of n entries.
func AppendMapHeader(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x80|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xde), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdf), uint32(n))
}
