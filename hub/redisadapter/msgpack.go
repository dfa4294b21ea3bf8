package redisadapter

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
	"unicode/utf8"
)

// The Node adapter encodes broadcasts with notepack.io. This file writes
// and reads the same msgpack: maps with string keys, integers in their
// smallest form, other numbers as float64, Buffers as bin, ArrayBuffers as
// ext 0, undefined as fixext1 0 and Dates as the timestamp ext -1.
//
// Values travel as Go values: nil, bool, int64, uint64, float64, string,
// []byte, []any and map[string]any.

// maxDepth bounds nesting on decode, so that a hostile message cannot
// exhaust the stack.
const maxDepth = 64

var errShort = errors.New("msgpack: truncated input")

// errInvalidUTF8 refuses a str that is not UTF-8, as msgpack requires it
// to be (notepack throws on most such bytes too). Repaired, it would change
// what a peer sent; kept, it would reach WebSocket clients in text frames,
// which they drop the connection over. The whole message is dropped; so is
// a JSON message that is not UTF-8 (errNotUTF8JSON).
var (
	errInvalidUTF8 = errors.New("msgpack: a string is not valid UTF-8")
	errNotUTF8JSON = errors.New("redisadapter: a JSON message is not valid UTF-8")
)

// rawMsgpack is a value already in msgpack, written as it is.
type rawMsgpack []byte

// appendValue appends the msgpack form of v.
func appendValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case rawMsgpack:
		return append(b, x...), nil
	case json.RawMessage: // a JSON value, written in its msgpack form
		t := jsonToMsgpack{src: x}
		return t.value(b, 0)
	case nil:
		return append(b, 0xc0), nil
	case bool:
		if x {
			return append(b, 0xc3), nil
		}
		return append(b, 0xc2), nil
	case string:
		return appendString(b, x), nil
	case []byte:
		return appendBin(b, x), nil
	case int:
		return appendInt(b, int64(x)), nil
	case int64:
		return appendInt(b, x), nil
	case uint64:
		if x <= math.MaxInt64 {
			return appendInt(b, int64(x)), nil
		}
		b = append(b, 0xcf)
		return binary.BigEndian.AppendUint64(b, x), nil
	case float64:
		return appendNumber(b, x), nil
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return appendInt(b, i), nil
		}
		f, err := x.Float64()
		if err != nil {
			return b, fmt.Errorf("msgpack: number %q: %w", x, err)
		}
		return appendNumber(b, f), nil
	case []any:
		b = appendArrayHeader(b, len(x))
		for _, e := range x {
			var err error
			if b, err = appendValue(b, e); err != nil {
				return b, err
			}
		}
		return b, nil
	case []string:
		b = appendArrayHeader(b, len(x))
		for _, e := range x {
			b = appendString(b, e)
		}
		return b, nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = appendMapHeader(b, len(x))
		for _, k := range keys {
			b = appendString(b, k)
			var err error
			if b, err = appendValue(b, x[k]); err != nil {
				return b, err
			}
		}
		return b, nil
	}
	return b, fmt.Errorf("msgpack: cannot encode %T", v)
}

// appendNumber writes a JavaScript number as notepack does: integers in
// their smallest form, anything else as float64.
func appendNumber(b []byte, f float64) []byte {
	if f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 {
		return appendInt(b, int64(f))
	}
	b = append(b, 0xcb)
	return binary.BigEndian.AppendUint64(b, math.Float64bits(f))
}

func appendInt(b []byte, i int64) []byte {
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

// appendString writes a msgpack str from a string or UTF-8 bytes.
func appendString[S string | []byte](b []byte, s S) []byte {
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

func appendBin(b, p []byte) []byte {
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

func appendArrayHeader(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x90|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xdc), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdd), uint32(n))
}

func appendMapHeader(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x80|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xde), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdf), uint32(n))
}

// decodeMsgpack reads one value that must fill b exactly.
func decodeMsgpack(b []byte) (any, error) {
	d := decoder{b: b}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if d.i != len(d.b) {
		return nil, fmt.Errorf("msgpack: %d bytes after the value", len(d.b)-d.i)
	}
	return v, nil
}

type decoder struct {
	b []byte
	i int
}

func (d *decoder) take(n int) ([]byte, error) {
	if n < 0 || n > len(d.b)-d.i {
		return nil, errShort
	}
	p := d.b[d.i : d.i+n]
	d.i += n
	return p, nil
}

func (d *decoder) uint(n int) (uint64, error) {
	p, err := d.take(n)
	if err != nil {
		return 0, err
	}
	switch n {
	case 1:
		return uint64(p[0]), nil
	case 2:
		return uint64(binary.BigEndian.Uint16(p)), nil
	case 4:
		return uint64(binary.BigEndian.Uint32(p)), nil
	}
	return binary.BigEndian.Uint64(p), nil
}

func (d *decoder) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, errors.New("msgpack: nested too deeply")
	}
	p, err := d.take(1)
	if err != nil {
		return nil, err
	}
	c := p[0]
	switch {
	case c <= 0x7f:
		return int64(c), nil
	case c >= 0xe0:
		return int64(int8(c)), nil
	case c&0xf0 == 0x80:
		return d.mapOf(int(c&0x0f), depth)
	case c&0xf0 == 0x90:
		return d.arrayOf(int(c&0x0f), depth)
	case c&0xe0 == 0xa0:
		return d.str(int(c & 0x1f))
	}
	switch c {
	case 0xc0:
		return nil, nil
	case 0xc2:
		return false, nil
	case 0xc3:
		return true, nil
	case 0xc4, 0xc5, 0xc6:
		n, err := d.uint(1 << (c - 0xc4))
		if err != nil {
			return nil, err
		}
		bin, err := d.take(int(n))
		if err != nil {
			return nil, err
		}
		return slices.Clone(bin), nil
	case 0xc7, 0xc8, 0xc9:
		n, err := d.uint(1 << (c - 0xc7))
		if err != nil {
			return nil, err
		}
		return d.ext(int(n))
	case 0xca:
		u, err := d.uint(4)
		return float64(math.Float32frombits(uint32(u))), err
	case 0xcb:
		u, err := d.uint(8)
		return math.Float64frombits(u), err
	case 0xcc, 0xcd, 0xce, 0xcf:
		u, err := d.uint(1 << (c - 0xcc))
		if err != nil {
			return nil, err
		}
		if u > math.MaxInt64 {
			return u, nil
		}
		return int64(u), nil
	case 0xd0:
		u, err := d.uint(1)
		return int64(int8(u)), err
	case 0xd1:
		u, err := d.uint(2)
		return int64(int16(u)), err
	case 0xd2:
		u, err := d.uint(4)
		return int64(int32(u)), err
	case 0xd3:
		u, err := d.uint(8)
		return int64(u), err
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return d.ext(1 << (c - 0xd4))
	case 0xd9, 0xda, 0xdb:
		n, err := d.uint(1 << (c - 0xd9))
		if err != nil {
			return nil, err
		}
		return d.str(int(n))
	case 0xdc, 0xdd:
		n, err := d.uint(2 << (c - 0xdc))
		if err != nil {
			return nil, err
		}
		return d.arrayOf(int(n), depth)
	case 0xde, 0xdf:
		n, err := d.uint(2 << (c - 0xde))
		if err != nil {
			return nil, err
		}
		return d.mapOf(int(n), depth)
	}
	return nil, fmt.Errorf("msgpack: unknown type byte 0x%02x", c)
}

func (d *decoder) str(n int) (string, error) {
	p, err := d.take(n)
	if err == nil && !utf8.Valid(p) {
		return "", errInvalidUTF8
	}
	return string(p), err
}

// ext reads an extension of n data bytes: notepack's undefined (type 0,
// one byte) is nil, an ArrayBuffer (type 0) is binary, a timestamp (type
// -1) becomes the string JSON.stringify gives a Date.
func (d *decoder) ext(n int) (any, error) {
	t, err := d.take(1)
	if err != nil {
		return nil, err
	}
	data, err := d.take(n)
	if err != nil {
		return nil, err
	}
	switch int8(t[0]) {
	case 0:
		if n == 1 {
			return nil, nil
		}
		return slices.Clone(data), nil
	case -1:
		var tm time.Time
		switch n {
		case 4:
			tm = time.Unix(int64(binary.BigEndian.Uint32(data)), 0)
		case 8:
			u := binary.BigEndian.Uint64(data)
			tm = time.Unix(int64(u&(1<<34-1)), int64(u>>34))
		case 12:
			tm = time.Unix(int64(binary.BigEndian.Uint64(data[4:])), int64(binary.BigEndian.Uint32(data)))
		default:
			return nil, fmt.Errorf("msgpack: timestamp of %d bytes", n)
		}
		return tm.UTC().Format("2006-01-02T15:04:05.000Z"), nil
	}
	return nil, fmt.Errorf("msgpack: unknown extension type %d", int8(t[0]))
}

func (d *decoder) arrayOf(n, depth int) (any, error) {
	if n > len(d.b)-d.i { // every element takes at least a byte
		return nil, errShort
	}
	out := make([]any, n)
	for i := range out {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (d *decoder) mapOf(n, depth int) (any, error) {
	if n > (len(d.b)-d.i)/2 {
		return nil, errShort
	}
	out := make(map[string]any, n)
	for range n {
		k, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		var key string
		switch x := k.(type) {
		case string:
			key = x
		case int64:
			key = fmt.Sprint(x) // JavaScript object keys are strings
		default:
			return nil, fmt.Errorf("msgpack: map key of type %T", k)
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out[key] = v
	}
	return out, nil
}
