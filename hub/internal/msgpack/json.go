package msgpack

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/hubd/hubd/internal/jsonstr"
)

// The hub keeps arguments as raw JSON whose binary values are placeholders
// ({"_placeholder":true,"num":i}) for a list of attachments; msgpack
// carries them as bin values in place. The functions here convert one into
// the other directly, without building Go values.

// AppendJSON appends the msgpack form of the JSON value src; placeholder
// objects become the bin of the attachment they point at. Nesting deeper
// than limit is refused (limit <= 0: no bound, for JSON known to be
// valid, as hub.Args always is).
func AppendJSON(dst, src []byte, atts [][]byte, limit int) ([]byte, error) {
	t := fromJSON{src: src, atts: atts, limit: limit}
	return t.value(dst, 0)
}

// AppendJSONList appends the msgpack forms of the values of a JSON array
// (src holds "[", the values and "]") or, with bare set, of a
// comma-separated list of values without brackets; it returns how many
// values it wrote, for the caller's array header.
func AppendJSONList(dst, src []byte, atts [][]byte, limit int, bare bool) ([]byte, int, error) {
	t := fromJSON{src: src, atts: atts, limit: limit}
	t.skipSpace()
	if bare {
		return t.bareList(dst)
	}
	if !t.eat('[') {
		return dst, 0, errors.New("msgpack: JSON arguments are not an array")
	}
	return t.elements(dst, 0)
}

// fromJSON reads JSON from src and writes msgpack.
type fromJSON struct {
	src   []byte
	i     int
	atts  [][]byte
	limit int
	buf   []byte // scratch for unescaped strings
}

func (t *fromJSON) errorf(want string) error {
	return fmt.Errorf("msgpack: malformed JSON: want %s at offset %d", want, t.i)
}

func (t *fromJSON) skipSpace() {
	for t.i < len(t.src) {
		switch t.src[t.i] {
		case ' ', '\t', '\n', '\r':
			t.i++
		default:
			return
		}
	}
}

func (t *fromJSON) eat(c byte) bool {
	if t.i < len(t.src) && t.src[t.i] == c {
		t.i++
		return true
	}
	return false
}

func (t *fromJSON) value(dst []byte, depth int) ([]byte, error) {
	if t.limit > 0 && depth > t.limit {
		return dst, ErrDepth
	}
	t.skipSpace()
	if t.i >= len(t.src) {
		return dst, t.errorf("a value")
	}
	switch c := t.src[t.i]; {
	case c == '{':
		return t.object(dst, depth)
	case c == '[':
		t.i++
		start := len(dst)
		dst = append(dst, 0xdd, 0, 0, 0, 0) // array 32, its length patched below
		dst, n, err := t.elements(dst, depth+1)
		if err != nil {
			return dst, err
		}
		binary.BigEndian.PutUint32(dst[start+1:], uint32(n))
		return dst, nil
	case c == '"':
		s, err := t.str()
		if err != nil {
			return dst, err
		}
		return AppendString(dst, s), nil
	case c == 't' && bytes.HasPrefix(t.src[t.i:], []byte("true")):
		t.i += 4
		return append(dst, 0xc3), nil
	case c == 'f' && bytes.HasPrefix(t.src[t.i:], []byte("false")):
		t.i += 5
		return append(dst, 0xc2), nil
	case c == 'n' && bytes.HasPrefix(t.src[t.i:], []byte("null")):
		t.i += 4
		return append(dst, 0xc0), nil
	case c == '-' || c >= '0' && c <= '9':
		return t.number(dst)
	}
	return dst, t.errorf("a value")
}

// elements writes the values of a JSON array whose '[' was read, up to and
// including its ']', and returns how many there were.
func (t *fromJSON) elements(dst []byte, depth int) ([]byte, int, error) {
	n := 0
	t.skipSpace()
	if t.eat(']') {
		return dst, 0, nil
	}
	for {
		var err error
		if dst, err = t.value(dst, depth); err != nil {
			return dst, n, err
		}
		n++
		t.skipSpace()
		if t.eat(']') {
			return dst, n, nil
		}
		if !t.eat(',') {
			return dst, n, t.errorf("',' or ']'")
		}
	}
}

// bareList writes comma-separated values up to the end of the input.
func (t *fromJSON) bareList(dst []byte) ([]byte, int, error) {
	n := 0
	for t.i < len(t.src) {
		var err error
		if dst, err = t.value(dst, 1); err != nil {
			return dst, n, err
		}
		n++
		t.skipSpace()
		if t.i < len(t.src) && !t.eat(',') {
			return dst, n, t.errorf("','")
		}
	}
	return dst, n, nil
}

// object writes a JSON object as a map, or as bin when it is a binary
// placeholder {"_placeholder": true, "num": n}.
func (t *fromJSON) object(dst []byte, depth int) ([]byte, error) {
	t.i++ // '{'
	start := len(dst)
	dst = append(dst, 0xdf, 0, 0, 0, 0)
	n := 0
	placeholder, num := false, -1
	t.skipSpace()
	if !t.eat('}') {
		for {
			t.skipSpace()
			if t.i >= len(t.src) || t.src[t.i] != '"' {
				return dst, t.errorf("an object key")
			}
			key, err := t.str()
			if err != nil {
				return dst, err
			}
			dst = AppendString(dst, key)
			t.skipSpace()
			if !t.eat(':') {
				return dst, t.errorf("':'")
			}
			t.skipSpace()
			vstart := len(dst)
			if dst, err = t.value(dst, depth+1); err != nil {
				return dst, err
			}
			switch string(key) {
			case "_placeholder":
				placeholder = len(dst) == vstart+1 && dst[vstart] == 0xc3
			case "num":
				if v, ok := smallInt(dst[vstart:]); ok {
					num = v
				}
			}
			n++
			t.skipSpace()
			if t.eat('}') {
				break
			}
			if !t.eat(',') {
				return dst, t.errorf("',' or '}'")
			}
		}
	}
	if n == 2 && placeholder && num >= 0 && num < len(t.atts) {
		return AppendBin(dst[:start], t.atts[num]), nil
	}
	binary.BigEndian.PutUint32(dst[start+1:], uint32(n))
	return dst, nil
}

// smallInt reads a non-negative msgpack integer that fills b.
func smallInt(b []byte) (int, bool) {
	switch {
	case len(b) == 1 && b[0] <= 0x7f:
		return int(b[0]), true
	case len(b) == 2 && b[0] == 0xcc:
		return int(b[1]), true
	case len(b) == 3 && b[0] == 0xcd:
		return int(binary.BigEndian.Uint16(b[1:])), true
	}
	return 0, false
}

// str reads a JSON string and returns its UTF-8 bytes (valid until the
// next call).
func (t *fromJSON) str() ([]byte, error) {
	t.i++ // '"'
	start := t.i
	for t.i < len(t.src) {
		switch t.src[t.i] {
		case '"':
			s := t.src[start:t.i]
			t.i++
			return s, nil
		case '\\':
			return t.escaped(start)
		}
		t.i++
	}
	return nil, t.errorf("'\"'")
}

// escaped finishes a string that has escapes; start is just after its
// opening quote.
func (t *fromJSON) escaped(start int) ([]byte, error) {
	buf, n, err := jsonstr.Unquote(t.buf[:0], t.src[start-1:])
	t.i = start - 1 + n
	if err != nil {
		return nil, fmt.Errorf("msgpack: malformed JSON: %w at offset %d", err, t.i)
	}
	t.buf = buf
	return buf, nil
}

// number writes a JSON number as notepack writes a JavaScript number.
func (t *fromJSON) number(dst []byte) ([]byte, error) {
	start := t.i
	integer := true
	for t.i < len(t.src) {
		c := t.src[t.i]
		if c == '.' || c == 'e' || c == 'E' {
			integer = false
		} else if c != '-' && c != '+' && (c < '0' || c > '9') {
			break
		}
		t.i++
	}
	tok := string(t.src[start:t.i])
	if integer {
		if v, err := strconv.ParseInt(tok, 10, 64); err == nil && v > -(1<<53) && v < 1<<53 {
			return AppendInt(dst, v), nil
		}
	}
	f, err := strconv.ParseFloat(tok, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return dst, t.errorf("a number")
	}
	return AppendNumber(dst, f), nil
}

// AppendJSON reads the next value and appends it to dst as JSON; bin
// values (and ArrayBuffers) become placeholders for attachments appended
// to *atts, which share the input's bytes. depth is the value's nesting
// level, bounded by MaxDepth.
func (d *Decoder) AppendJSON(dst []byte, atts *[][]byte, depth int) ([]byte, error) {
	if depth > MaxDepth {
		return dst, ErrDepth
	}
	p, err := d.Take(1)
	if err != nil {
		return dst, err
	}
	c := p[0]
	switch {
	case c <= 0x7f:
		return strconv.AppendInt(dst, int64(c), 10), nil
	case c >= 0xe0:
		return strconv.AppendInt(dst, int64(int8(c)), 10), nil
	case c&0xf0 == 0x80:
		return d.mapJSON(dst, atts, int(c&0x0f), depth)
	case c&0xf0 == 0x90:
		return d.arrayJSON(dst, atts, int(c&0x0f), depth)
	case c&0xe0 == 0xa0:
		return d.strJSON(dst, int(c&0x1f))
	}
	switch c {
	case 0xc0:
		return append(dst, "null"...), nil
	case 0xc2:
		return append(dst, "false"...), nil
	case 0xc3:
		return append(dst, "true"...), nil
	case 0xc4, 0xc5, 0xc6:
		n, err := d.Uint(1 << (c - 0xc4))
		if err != nil {
			return dst, err
		}
		b, err := d.Take(int(n))
		if err != nil {
			return dst, err
		}
		return d.placeholder(dst, atts, b)
	case 0xca:
		u, err := d.Uint(4)
		return jsonstr.AppendNumber(dst, float64(math.Float32frombits(uint32(u)))), err
	case 0xcb:
		u, err := d.Uint(8)
		return jsonstr.AppendNumber(dst, math.Float64frombits(u)), err
	case 0xcc, 0xcd, 0xce, 0xcf:
		u, err := d.Uint(1 << (c - 0xcc))
		return strconv.AppendUint(dst, u, 10), err
	case 0xd0:
		u, err := d.Uint(1)
		return strconv.AppendInt(dst, int64(int8(u)), 10), err
	case 0xd1:
		u, err := d.Uint(2)
		return strconv.AppendInt(dst, int64(int16(u)), 10), err
	case 0xd2:
		u, err := d.Uint(4)
		return strconv.AppendInt(dst, int64(int32(u)), 10), err
	case 0xd3:
		u, err := d.Uint(8)
		return strconv.AppendInt(dst, int64(u), 10), err
	case 0xd9, 0xda, 0xdb:
		n, err := d.Uint(1 << (c - 0xd9))
		if err != nil {
			return dst, err
		}
		return d.strJSON(dst, int(n))
	case 0xdc, 0xdd:
		n, err := d.Uint(2 << (c - 0xdc))
		if err != nil {
			return dst, err
		}
		return d.arrayJSON(dst, atts, int(n), depth)
	case 0xde, 0xdf:
		n, err := d.Uint(2 << (c - 0xde))
		if err != nil {
			return dst, err
		}
		return d.mapJSON(dst, atts, int(n), depth)
	}
	// Extensions (and anything else) through the generic reader.
	d.i--
	v, err := d.Value(depth)
	if err != nil {
		return dst, err
	}
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return jsonstr.Append(dst, x), nil
	case []byte:
		return d.placeholder(dst, atts, x)
	}
	return dst, fmt.Errorf("msgpack: unexpected %T", v)
}

func (d *Decoder) strJSON(dst []byte, n int) ([]byte, error) {
	s, err := d.Take(n)
	if err != nil {
		return dst, err
	}
	if !utf8.Valid(s) {
		return dst, ErrInvalidUTF8
	}
	return jsonstr.AppendBytes(dst, s), nil
}

func (d *Decoder) placeholder(dst []byte, atts *[][]byte, b []byte) ([]byte, error) {
	if d.MaxBins > 0 && len(*atts) >= d.MaxBins {
		return dst, ErrTooManyBins
	}
	dst = append(dst, `{"_placeholder":true,"num":`...)
	dst = strconv.AppendInt(dst, int64(len(*atts)), 10)
	*atts = append(*atts, b)
	return append(dst, '}'), nil
}

func (d *Decoder) arrayJSON(dst []byte, atts *[][]byte, n, depth int) ([]byte, error) {
	if n > len(d.b)-d.i {
		return dst, ErrShort
	}
	dst = append(dst, '[')
	for i := range n {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = d.AppendJSON(dst, atts, depth+1); err != nil {
			return dst, err
		}
	}
	return append(dst, ']'), nil
}

func (d *Decoder) mapJSON(dst []byte, atts *[][]byte, n, depth int) ([]byte, error) {
	if n > (len(d.b)-d.i)/2 {
		return dst, ErrShort
	}
	dst = append(dst, '{')
	for i := range n {
		if i > 0 {
			dst = append(dst, ',')
		}
		if key, ok, err := d.StrBytes(); err != nil {
			return dst, err
		} else if ok {
			dst = jsonstr.AppendBytes(dst, key)
		} else {
			k, err := d.Value(depth + 1)
			if err != nil {
				return dst, err
			}
			x, isInt := k.(int64)
			if !isInt {
				return dst, fmt.Errorf("msgpack: map key of type %T", k)
			}
			dst = append(strconv.AppendInt(append(dst, '"'), x, 10), '"') // JavaScript keys are strings
		}
		dst = append(dst, ':')
		var err error
		if dst, err = d.AppendJSON(dst, atts, depth+1); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}
