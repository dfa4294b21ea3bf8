package redisadapter

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/internal/jsonstr"
)

// A broadcast's arguments are raw JSON with binary placeholders in the hub
// and msgpack with bin values on the wire. The two functions here convert
// one into the other directly, without building Go values: they are the
// per-message work of every cross-node broadcast.

// appendPacketMsgpack appends the Node adapter's packet map {type: 2,
// data: [event, ...args], nsp} of p.
func appendPacketMsgpack(dst []byte, p *hub.Packet) ([]byte, error) {
	dst = appendMapHeader(dst, 3)
	dst = appendString(dst, "type")
	dst = append(dst, 2)
	dst = appendString(dst, "nsp")
	dst = appendString(dst, p.Nsp)
	dst = appendString(dst, "data")
	return appendEventMsgpack(dst, p.Event, p.Args)
}

// appendEventMsgpack appends the msgpack array [event, ...args].
func appendEventMsgpack(dst []byte, event string, args hub.Args) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 0xdd, 0, 0, 0, 0) // array 32, its length patched below
	dst = appendString(dst, event)
	t := jsonToMsgpack{src: args.JSON(), atts: args.Attachments()}
	t.skipSpace()
	if !t.eat('[') {
		return dst, errors.New("redisadapter: arguments are not a JSON array")
	}
	dst, n, err := t.elements(dst, 0)
	if err != nil {
		return dst, err
	}
	n++ // the event
	binary.BigEndian.PutUint32(dst[start+1:], uint32(n))
	return dst, nil
}

// jsonToMsgpack reads JSON from src and writes msgpack; placeholder objects
// become the bin of the attachment they point at.
type jsonToMsgpack struct {
	src  []byte
	i    int
	atts [][]byte
	buf  []byte // scratch for unescaped strings
}

func (t *jsonToMsgpack) errorf(want string) error {
	return fmt.Errorf("redisadapter: malformed JSON arguments: want %s at offset %d", want, t.i)
}

func (t *jsonToMsgpack) skipSpace() {
	for t.i < len(t.src) {
		switch t.src[t.i] {
		case ' ', '\t', '\n', '\r':
			t.i++
		default:
			return
		}
	}
}

func (t *jsonToMsgpack) eat(c byte) bool {
	if t.i < len(t.src) && t.src[t.i] == c {
		t.i++
		return true
	}
	return false
}

func (t *jsonToMsgpack) value(dst []byte, depth int) ([]byte, error) {
	if depth > maxDepth {
		return dst, errors.New("redisadapter: arguments nested too deeply")
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
		return appendString(dst, s), nil
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
func (t *jsonToMsgpack) elements(dst []byte, depth int) ([]byte, int, error) {
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

// object writes a JSON object as a map, or as bin when it is a binary
// placeholder {"_placeholder": true, "num": n}.
func (t *jsonToMsgpack) object(dst []byte, depth int) ([]byte, error) {
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
			dst = appendString(dst, key)
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
		return appendBin(dst[:start], t.atts[num]), nil
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
func (t *jsonToMsgpack) str() ([]byte, error) {
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
func (t *jsonToMsgpack) escaped(start int) ([]byte, error) {
	buf, n, err := jsonstr.Unquote(t.buf[:0], t.src[start-1:])
	t.i = start - 1 + n
	if err != nil {
		return nil, fmt.Errorf("redisadapter: malformed JSON arguments: %w at offset %d", err, t.i)
	}
	t.buf = buf
	return buf, nil
}

// number writes a JSON number as notepack writes a JavaScript number.
func (t *jsonToMsgpack) number(dst []byte) ([]byte, error) {
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
			return appendInt(dst, v), nil
		}
	}
	f, err := strconv.ParseFloat(tok, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return dst, t.errorf("a number")
	}
	return appendNumber(dst, f), nil
}

// msgpackToJSON reads msgpack and writes JSON; bin values (and ArrayBuffers)
// become placeholders for new attachments, which share the input's bytes.
type msgpackToJSON struct {
	d    decoder
	atts [][]byte
}

func (m *msgpackToJSON) value(dst []byte, depth int) ([]byte, error) {
	if depth > maxDepth {
		return dst, errors.New("msgpack: nested too deeply")
	}
	d := &m.d
	p, err := d.take(1)
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
		return m.mapOf(dst, int(c&0x0f), depth)
	case c&0xf0 == 0x90:
		return m.arrayOf(dst, int(c&0x0f), depth)
	case c&0xe0 == 0xa0:
		return m.str(dst, int(c&0x1f))
	}
	switch c {
	case 0xc0:
		return append(dst, "null"...), nil
	case 0xc2:
		return append(dst, "false"...), nil
	case 0xc3:
		return append(dst, "true"...), nil
	case 0xc4, 0xc5, 0xc6:
		n, err := d.uint(1 << (c - 0xc4))
		if err != nil {
			return dst, err
		}
		return m.bin(dst, int(n))
	case 0xca:
		u, err := d.uint(4)
		return jsonstr.AppendNumber(dst, float64(math.Float32frombits(uint32(u)))), err
	case 0xcb:
		u, err := d.uint(8)
		return jsonstr.AppendNumber(dst, math.Float64frombits(u)), err
	case 0xcc, 0xcd, 0xce, 0xcf:
		u, err := d.uint(1 << (c - 0xcc))
		return strconv.AppendUint(dst, u, 10), err
	case 0xd0:
		u, err := d.uint(1)
		return strconv.AppendInt(dst, int64(int8(u)), 10), err
	case 0xd1:
		u, err := d.uint(2)
		return strconv.AppendInt(dst, int64(int16(u)), 10), err
	case 0xd2:
		u, err := d.uint(4)
		return strconv.AppendInt(dst, int64(int32(u)), 10), err
	case 0xd3:
		u, err := d.uint(8)
		return strconv.AppendInt(dst, int64(u), 10), err
	case 0xd9, 0xda, 0xdb:
		n, err := d.uint(1 << (c - 0xd9))
		if err != nil {
			return dst, err
		}
		return m.str(dst, int(n))
	case 0xdc, 0xdd:
		n, err := d.uint(2 << (c - 0xdc))
		if err != nil {
			return dst, err
		}
		return m.arrayOf(dst, int(n), depth)
	case 0xde, 0xdf:
		n, err := d.uint(2 << (c - 0xde))
		if err != nil {
			return dst, err
		}
		return m.mapOf(dst, int(n), depth)
	}
	// Extensions (and anything else) through the generic reader.
	d.i--
	v, err := d.value(depth)
	if err != nil {
		return dst, err
	}
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return jsonstr.Append(dst, x), nil
	case []byte:
		return m.placeholder(dst, x), nil
	}
	return dst, fmt.Errorf("msgpack: unexpected %T", v)
}

func (m *msgpackToJSON) str(dst []byte, n int) ([]byte, error) {
	s, err := m.d.take(n)
	if err != nil {
		return dst, err
	}
	if !utf8.Valid(s) {
		return dst, errInvalidUTF8
	}
	return jsonstr.AppendBytes(dst, s), nil
}

func (m *msgpackToJSON) bin(dst []byte, n int) ([]byte, error) {
	b, err := m.d.take(n)
	if err != nil {
		return dst, err
	}
	return m.placeholder(dst, b), nil
}

func (m *msgpackToJSON) placeholder(dst, b []byte) []byte {
	dst = append(dst, `{"_placeholder":true,"num":`...)
	dst = strconv.AppendInt(dst, int64(len(m.atts)), 10)
	m.atts = append(m.atts, b)
	return append(dst, '}')
}

func (m *msgpackToJSON) arrayOf(dst []byte, n, depth int) ([]byte, error) {
	if n > len(m.d.b)-m.d.i {
		return dst, errShort
	}
	dst = append(dst, '[')
	for i := range n {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = m.value(dst, depth+1); err != nil {
			return dst, err
		}
	}
	return append(dst, ']'), nil
}

func (m *msgpackToJSON) mapOf(dst []byte, n, depth int) ([]byte, error) {
	if n > (len(m.d.b)-m.d.i)/2 {
		return dst, errShort
	}
	dst = append(dst, '{')
	for i := range n {
		if i > 0 {
			dst = append(dst, ',')
		}
		if key, ok, err := m.d.strBytes(); err != nil {
			return dst, err
		} else if ok {
			dst = jsonstr.AppendBytes(dst, key)
		} else {
			k, err := m.d.value(depth + 1)
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
		if dst, err = m.value(dst, depth+1); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// strBytes reads a string's bytes when a string comes next (ok false and
// nothing read otherwise).
func (d *decoder) strBytes() (s []byte, ok bool, err error) {
	if d.i >= len(d.b) {
		return nil, false, errShort
	}
	c := d.b[d.i]
	var n uint64
	switch {
	case c&0xe0 == 0xa0:
		d.i++
		n = uint64(c & 0x1f)
	case c >= 0xd9 && c <= 0xdb:
		d.i++
		if n, err = d.uint(1 << (c - 0xd9)); err != nil {
			return nil, false, err
		}
	default:
		return nil, false, nil
	}
	s, err = d.take(int(n))
	if err == nil && !utf8.Valid(s) {
		return nil, false, errInvalidUTF8
	}
	return s, err == nil, err
}

// stringsOf reads an array of strings (numbers become their decimal form,
// as Node allows numeric room names).
func (d *decoder) stringsOf() ([]string, error) {
	n, err := d.arrayHeader()
	if err != nil {
		return nil, err
	}
	if n > len(d.b)-d.i {
		return nil, errShort
	}
	out := make([]string, 0, n)
	for range n {
		if s, ok, err := d.strBytes(); err != nil {
			return nil, err
		} else if ok {
			out = append(out, string(s))
			continue
		}
		v, err := d.value(1)
		if err != nil {
			return nil, err
		}
		out = append(out, stringList([]any{v})...)
	}
	return out, nil
}

// broadcastOpts reads a broadcast's opts map {rooms, except, flags}.
func (d *decoder) broadcastOpts() (o hub.BroadcastOptions, err error) {
	n, err := d.mapHeader()
	if err != nil {
		return o, err
	}
	for range n {
		key, ok, err := d.strBytes()
		if err != nil || !ok {
			return o, errors.New("msgpack: opts key is not a string")
		}
		switch string(key) {
		case "rooms":
			o.Rooms, err = d.stringsOf()
		case "except":
			o.Except, err = d.stringsOf()
		case "flags":
			var v any
			if v, err = d.value(1); err == nil {
				o.Flags = flagsFrom(v)
			}
		default:
			_, err = d.value(1)
		}
		if err != nil {
			return o, err
		}
	}
	return o, nil
}

// decodeBroadcast reads a classic broadcast message [uid, packet, opts]
// into the packet's namespace, event and arguments and the options.
func decodeBroadcast(payload []byte) (uid, nsp, event string, args hub.Args, opts hub.BroadcastOptions, err error) {
	m := msgpackToJSON{d: decoder{b: payload}}
	d := &m.d
	if n, herr := d.arrayHeader(); herr != nil || n != 3 {
		return "", "", "", hub.Args{}, opts, errors.New("redisadapter: a broadcast is a 3-element array")
	}
	if v, verr := d.value(0); verr != nil {
		return "", "", "", hub.Args{}, opts, verr
	} else {
		uid, _ = v.(string)
	}
	fields, err := d.mapHeader()
	if err != nil {
		return "", "", "", hub.Args{}, opts, err
	}
	nsp = "/"
	list := make([]byte, 0, len(payload)+16)
	for range fields {
		k, kerr := d.value(1)
		if kerr != nil {
			return "", "", "", hub.Args{}, opts, kerr
		}
		switch k {
		case "data":
			n, herr := d.arrayHeader()
			if herr != nil || n == 0 {
				return "", "", "", hub.Args{}, opts, errors.New("redisadapter: a packet's data is a non-empty array")
			}
			ev, verr := d.value(1)
			if verr != nil {
				return "", "", "", hub.Args{}, opts, verr
			}
			var ok bool
			if event, ok = ev.(string); !ok {
				return "", "", "", hub.Args{}, opts, errors.New("redisadapter: an event name is a string")
			}
			list = append(list, '[')
			for i := 1; i < n; i++ {
				if i > 1 {
					list = append(list, ',')
				}
				if list, err = m.value(list, 2); err != nil {
					return "", "", "", hub.Args{}, opts, err
				}
			}
			list = append(list, ']')
		case "nsp":
			v, verr := d.value(1)
			if verr != nil {
				return "", "", "", hub.Args{}, opts, verr
			}
			nsp, _ = v.(string)
		default:
			if _, verr := d.value(1); verr != nil {
				return "", "", "", hub.Args{}, opts, verr
			}
		}
	}
	if len(list) == 0 {
		return "", "", "", hub.Args{}, opts, errors.New("redisadapter: a packet without data")
	}
	if opts, err = d.broadcastOpts(); err != nil {
		return "", "", "", hub.Args{}, opts, fmt.Errorf("redisadapter: a broadcast's opts: %w", err)
	}
	if d.i != len(d.b) {
		return "", "", "", hub.Args{}, opts, errors.New("redisadapter: bytes after a broadcast")
	}
	args, err = hub.RawArgs(list, m.atts)
	return uid, nsp, event, args, opts, err
}

// arrayHeader reads the header of an array and returns its length.
func (d *decoder) arrayHeader() (int, error) {
	p, err := d.take(1)
	if err != nil {
		return 0, err
	}
	switch c := p[0]; {
	case c&0xf0 == 0x90:
		return int(c & 0x0f), nil
	case c == 0xdc || c == 0xdd:
		n, err := d.uint(2 << (c - 0xdc))
		return int(n), err
	}
	return 0, errors.New("msgpack: not an array")
}

// mapHeader reads the header of a map and returns its number of entries.
func (d *decoder) mapHeader() (int, error) {
	p, err := d.take(1)
	if err != nil {
		return 0, err
	}
	switch c := p[0]; {
	case c&0xf0 == 0x80:
		return int(c & 0x0f), nil
	case c == 0xde || c == 0xdf:
		n, err := d.uint(2 << (c - 0xde))
		return int(n), err
	}
	return 0, errors.New("msgpack: not a map")
}
