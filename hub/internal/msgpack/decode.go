package msgpack

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
	"unicode/utf8"
)

// MaxDepth bounds nesting on decode, so that a hostile message cannot
// exhaust the stack.
const MaxDepth = 64

// Errors of the decoder.
var (
	ErrShort = errors.New("msgpack: truncated input")
	ErrDepth = errors.New("msgpack: nested too deeply")
	// ErrInvalidUTF8 refuses a str that is not UTF-8, as msgpack requires
	// it to be (notepack throws on most such bytes too). Repaired, it
	// would change what a peer sent; kept, it would reach WebSocket
	// clients in text frames, which they drop the connection over.
	ErrInvalidUTF8 = errors.New("msgpack: a string is not valid UTF-8")
	// ErrTooManyBins is returned by AppendJSON past Decoder.MaxBins.
	ErrTooManyBins = errors.New("msgpack: too many binary values")
)

// Decode reads one value that must fill b exactly.
func Decode(b []byte) (any, error) {
	d := NewDecoder(b)
	v, err := d.Value(0)
	if err != nil {
		return nil, err
	}
	if d.i != len(d.b) {
		return nil, fmt.Errorf("msgpack: %d bytes after the value", len(d.b)-d.i)
	}
	return v, nil
}

// Decoder reads msgpack values from a byte slice, one after the other.
type Decoder struct {
	b []byte
	i int
	// MaxBins bounds the binary values AppendJSON turns into attachments
	// (0: no bound but the input's size).
	MaxBins int
}

// NewDecoder returns a decoder reading b.
func NewDecoder(b []byte) Decoder { return Decoder{b: b} }

// Left returns how many bytes are left to read.
func (d *Decoder) Left() int { return len(d.b) - d.i }

// Take reads the next n bytes (which alias the input).
func (d *Decoder) Take(n int) ([]byte, error) {
	if n < 0 || n > len(d.b)-d.i {
		return nil, ErrShort
	}
	p := d.b[d.i : d.i+n]
	d.i += n
	return p, nil
}

// Uint reads a big-endian unsigned integer of n bytes (1, 2, 4 or 8).
func (d *Decoder) Uint(n int) (uint64, error) {
	p, err := d.Take(n)
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

// Peek returns the next byte without reading it.
func (d *Decoder) Peek() (byte, error) {
	if d.i >= len(d.b) {
		return 0, ErrShort
	}
	return d.b[d.i], nil
}

// Value reads the next value as a Go value; depth is its nesting level,
// bounded by MaxDepth.
func (d *Decoder) Value(depth int) (any, error) {
	if depth > MaxDepth {
		return nil, ErrDepth
	}
	p, err := d.Take(1)
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
		n, err := d.Uint(1 << (c - 0xc4))
		if err != nil {
			return nil, err
		}
		bin, err := d.Take(int(n))
		if err != nil {
			return nil, err
		}
		return slices.Clone(bin), nil
	case 0xc7, 0xc8, 0xc9:
		n, err := d.Uint(1 << (c - 0xc7))
		if err != nil {
			return nil, err
		}
		return d.ext(int(n), false)
	case 0xca:
		u, err := d.Uint(4)
		return float64(math.Float32frombits(uint32(u))), err
	case 0xcb:
		u, err := d.Uint(8)
		return math.Float64frombits(u), err
	case 0xcc, 0xcd, 0xce, 0xcf:
		u, err := d.Uint(1 << (c - 0xcc))
		if err != nil {
			return nil, err
		}
		if u > math.MaxInt64 {
			return u, nil
		}
		return int64(u), nil
	case 0xd0:
		u, err := d.Uint(1)
		return int64(int8(u)), err
	case 0xd1:
		u, err := d.Uint(2)
		return int64(int16(u)), err
	case 0xd2:
		u, err := d.Uint(4)
		return int64(int32(u)), err
	case 0xd3:
		u, err := d.Uint(8)
		return int64(u), err
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return d.ext(1<<(c-0xd4), true)
	case 0xd9, 0xda, 0xdb:
		n, err := d.Uint(1 << (c - 0xd9))
		if err != nil {
			return nil, err
		}
		return d.str(int(n))
	case 0xdc, 0xdd:
		n, err := d.Uint(2 << (c - 0xdc))
		if err != nil {
			return nil, err
		}
		return d.arrayOf(int(n), depth)
	case 0xde, 0xdf:
		n, err := d.Uint(2 << (c - 0xde))
		if err != nil {
			return nil, err
		}
		return d.mapOf(int(n), depth)
	}
	return nil, fmt.Errorf("msgpack: unknown type byte 0x%02x", c)
}

func (d *Decoder) str(n int) (string, error) {
	p, err := d.Take(n)
	if err == nil && !utf8.Valid(p) {
		return "", ErrInvalidUTF8
	}
	return string(p), err
}

// ext reads an extension of n data bytes (fixed: a fixext): notepack's
// undefined (type 0, one byte) is nil, its old Date (fixext8 type 0,
// milliseconds) and a timestamp (type -1) become the string
// JSON.stringify gives a Date, an ArrayBuffer (type 0) is binary.
func (d *Decoder) ext(n int, fixed bool) (any, error) {
	t, err := d.Take(1)
	if err != nil {
		return nil, err
	}
	data, err := d.Take(n)
	if err != nil {
		return nil, err
	}
	switch int8(t[0]) {
	case 0:
		switch {
		case fixed && n == 1:
			return nil, nil
		case fixed && n == 8:
			return dateString(time.UnixMilli(int64(binary.BigEndian.Uint64(data)))), nil
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
		return dateString(tm), nil
	}
	return nil, fmt.Errorf("msgpack: unknown extension type %d", int8(t[0]))
}

// dateString is what JSON.stringify writes for a Date.
func dateString(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func (d *Decoder) arrayOf(n, depth int) (any, error) {
	if n > len(d.b)-d.i { // every element takes at least a byte
		return nil, ErrShort
	}
	out := make([]any, n)
	for i := range out {
		v, err := d.Value(depth + 1)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (d *Decoder) mapOf(n, depth int) (any, error) {
	if n > (len(d.b)-d.i)/2 {
		return nil, ErrShort
	}
	out := make(map[string]any, n)
	for range n {
		k, err := d.Value(depth + 1)
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
		v, err := d.Value(depth + 1)
		if err != nil {
			return nil, err
		}
		out[key] = v
	}
	return out, nil
}

// StrBytes reads a string's bytes when a string comes next (ok false and
// nothing read otherwise).
func (d *Decoder) StrBytes() (s []byte, ok bool, err error) {
	if d.i >= len(d.b) {
		return nil, false, ErrShort
	}
	c := d.b[d.i]
	var n uint64
	switch {
	case c&0xe0 == 0xa0:
		d.i++
		n = uint64(c & 0x1f)
	case c >= 0xd9 && c <= 0xdb:
		d.i++
		if n, err = d.Uint(1 << (c - 0xd9)); err != nil {
			return nil, false, err
		}
	default:
		return nil, false, nil
	}
	s, err = d.Take(int(n))
	if err == nil && !utf8.Valid(s) {
		return nil, false, ErrInvalidUTF8
	}
	return s, err == nil, err
}

// ArrayHeader reads the header of an array and returns its length.
func (d *Decoder) ArrayHeader() (int, error) {
	p, err := d.Take(1)
	if err != nil {
		return 0, err
	}
	switch c := p[0]; {
	case c&0xf0 == 0x90:
		return int(c & 0x0f), nil
	case c == 0xdc || c == 0xdd:
		n, err := d.Uint(2 << (c - 0xdc))
		return int(n), err
	}
	return 0, errors.New("msgpack: not an array")
}

// MapHeader reads the header of a map and returns its number of entries.
func (d *Decoder) MapHeader() (int, error) {
	p, err := d.Take(1)
	if err != nil {
		return 0, err
	}
	switch c := p[0]; {
	case c&0xf0 == 0x80:
		return int(c & 0x0f), nil
	case c == 0xde || c == 0xdf:
		n, err := d.Uint(2 << (c - 0xde))
		return int(n), err
	}
	return 0, errors.New("msgpack: not a map")
}

// Unread steps back n bytes, to read again what was just read.
func (d *Decoder) Unread(n int) { d.i = max(0, d.i-n) }

// Skip reads the next value without keeping it; depth is its nesting
// level, bounded by MaxDepth. Strings are not checked for UTF-8.
func (d *Decoder) Skip(depth int) error {
	if depth > MaxDepth {
		return ErrDepth
	}
	p, err := d.Take(1)
	if err != nil {
		return err
	}
	c := p[0]
	var n uint64 // bytes to skip
	items := 0   // values to skip after them
	switch {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
	case c&0xf0 == 0x80:
		items = 2 * int(c&0x0f)
	case c&0xf0 == 0x90:
		items = int(c & 0x0f)
	case c&0xe0 == 0xa0:
		n = uint64(c & 0x1f)
	case c >= 0xc4 && c <= 0xc6:
		n, err = d.Uint(1 << (c - 0xc4))
	case c >= 0xc7 && c <= 0xc9:
		n, err = d.Uint(1 << (c - 0xc7))
		n++ // the type
	case c == 0xca:
		n = 4
	case c == 0xcb:
		n = 8
	case c >= 0xcc && c <= 0xcf:
		n = 1 << (c - 0xcc)
	case c >= 0xd0 && c <= 0xd3:
		n = 1 << (c - 0xd0)
	case c >= 0xd4 && c <= 0xd8:
		n = 1 + 1<<(c-0xd4)
	case c >= 0xd9 && c <= 0xdb:
		n, err = d.Uint(1 << (c - 0xd9))
	case c == 0xdc || c == 0xdd:
		var u uint64
		u, err = d.Uint(2 << (c - 0xdc))
		items = int(min(u, uint64(len(d.b)+1)))
	case c == 0xde || c == 0xdf:
		var u uint64
		u, err = d.Uint(2 << (c - 0xde))
		items = int(min(2*u, uint64(len(d.b)+1)))
	default:
		return fmt.Errorf("msgpack: unknown type byte 0x%02x", c)
	}
	if err != nil {
		return err
	}
	if n > uint64(len(d.b)-d.i) || items > len(d.b)-d.i {
		return ErrShort
	}
	d.i += int(n)
	for range items {
		if err := d.Skip(depth + 1); err != nil {
			return err
		}
	}
	return nil
}
