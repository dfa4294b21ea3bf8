package wasm

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/sdk/wire"
)

// parseDecision decodes a guest's decision. The common shapes (known keys,
// strings without escapes, no nulls) are decoded here without reflection;
// anything else, and anything the checks refuse, goes to host.ParseDecision,
// so the result and the errors are exactly the host core's.
func parseDecision(b []byte) (*host.Decision, error) {
	if d := fastDecision(b); d != nil {
		return d, nil
	}
	return host.ParseDecision(b)
}

// fastDecision returns nil when it cannot decide b on its own.
func fastDecision(b []byte) *host.Decision {
	p := scanner{b: b}
	p.ws()
	if p.i >= len(b) || b[p.i] != '{' {
		return nil // empty, null or not an object: host.ParseDecision
	}
	p.i++
	d := &host.Decision{}
	p.ws()
	if p.peek() == '}' {
		p.i++
	} else {
		for {
			key, ok := p.plainBytes()
			if !ok {
				return nil
			}
			p.ws()
			if p.peek() != ':' {
				return nil
			}
			p.i++
			p.ws()
			switch string(key) {
			case "action":
				a, ok := p.plainBytes()
				if !ok {
					return nil
				}
				d.Action = action(a)
			case "reason":
				if d.Reason, ok = p.plainString(); !ok {
					return nil
				}
			case "event":
				if d.Event, ok = p.plainString(); !ok {
					return nil
				}
			case "data":
				if d.Data = p.raw(); d.Data == nil {
					return nil
				}
			case "args":
				if d.Args = p.raw(); d.Args == nil {
					return nil
				}
			case "reply":
				if d.Reply = p.raw(); d.Reply == nil {
					return nil
				}
			case "socket_data":
				if d.SocketData = p.raw(); d.SocketData == nil {
					return nil
				}
			case "rooms":
				if d.Rooms, ok = p.strings(); !ok {
					return nil
				}
			case "except":
				if d.Except, ok = p.strings(); !ok {
					return nil
				}
			case "join":
				if d.Join, ok = p.strings(); !ok {
					return nil
				}
			case "to_sender":
				var v bool
				switch {
				case p.literal("true"):
					v = true
				case p.literal("false"):
				default:
					return nil
				}
				d.ToSender = &v
			default:
				return nil // unknown or differently cased key
			}
			p.ws()
			c := p.peek()
			p.i++
			if c == '}' {
				break
			}
			if c != ',' {
				return nil
			}
			p.ws()
		}
	}
	p.ws()
	if p.i != len(b) || !fastCheck(d) {
		return nil
	}
	if d.Action == host.Reply && len(d.Reply) == 0 {
		d.Reply = wire.Raw("[]")
	}
	return d
}

// fastCheck is host.Decision's Check: false sends the decision to
// host.ParseDecision for its error.
func fastCheck(d *host.Decision) bool { return host.CheckDecision(d) == nil }

// scanner reads JSON strictly: whatever it accepts, encoding/json accepts
// with the same meaning.
type scanner struct {
	b []byte
	i int
}

func (p *scanner) peek() byte {
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *scanner) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *scanner) literal(s string) bool {
	if len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

// action returns the known actions without allocating.
func action(a []byte) host.Action {
	switch string(a) {
	case "allow":
		return host.Allow
	case "deny":
		return host.Deny
	case "drop":
		return host.Drop
	case "reply":
		return host.Reply
	case "disconnect":
		return host.Disconnect
	}
	return host.Action(a)
}

// plainString reads a string without escapes, of valid UTF-8.
func (p *scanner) plainString() (string, bool) {
	b, ok := p.plainBytes()
	return string(b), ok
}

// plainBytes reads a string without escapes, of valid UTF-8, and returns
// its bytes (not copied).
func (p *scanner) plainBytes() ([]byte, bool) {
	if p.peek() != '"' {
		return nil, false
	}
	start := p.i + 1
	high := false
	for j := start; j < len(p.b); j++ {
		c := p.b[j]
		switch {
		case c == '"':
			s := p.b[start:j]
			if high && !utf8.Valid(s) {
				return nil, false
			}
			p.i = j + 1
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= 0x80:
			high = true
		}
	}
	return nil, false
}

// strings reads an array of plain strings (an empty array is a non-nil
// empty slice, as encoding/json makes it).
func (p *scanner) strings() ([]string, bool) {
	if p.peek() != '[' {
		return nil, false
	}
	p.i++
	p.ws()
	out := []string{}
	if p.peek() == ']' {
		p.i++
		return out, true
	}
	for {
		s, ok := p.plainString()
		if !ok {
			return nil, false
		}
		out = append(out, s)
		p.ws()
		switch p.peek() {
		case ',':
			p.i++
			p.ws()
		case ']':
			p.i++
			return out, true
		default:
			return nil, false
		}
	}
}

// raw reads any JSON value but null and returns a copy of its bytes.
func (p *scanner) raw() wire.Raw {
	start := p.i
	if p.peek() == 'n' || !p.value(0) {
		return nil
	}
	return append(wire.Raw(nil), p.b[start:p.i]...)
}

const maxDepth = 1000 // encoding/json's nesting limit is 10000; deeper goes slow

// value validates one JSON value.
func (p *scanner) value(depth int) bool {
	if depth > maxDepth {
		return false
	}
	switch c := p.peek(); {
	case c == '"':
		return p.str()
	case c == '{':
		p.i++
		p.ws()
		if p.peek() == '}' {
			p.i++
			return true
		}
		for {
			if !p.str() {
				return false
			}
			p.ws()
			if p.peek() != ':' {
				return false
			}
			p.i++
			p.ws()
			if !p.value(depth + 1) {
				return false
			}
			p.ws()
			switch p.peek() {
			case ',':
				p.i++
				p.ws()
			case '}':
				p.i++
				return true
			default:
				return false
			}
		}
	case c == '[':
		p.i++
		p.ws()
		if p.peek() == ']' {
			p.i++
			return true
		}
		for {
			if !p.value(depth + 1) {
				return false
			}
			p.ws()
			switch p.peek() {
			case ',':
				p.i++
				p.ws()
			case ']':
				p.i++
				return true
			default:
				return false
			}
		}
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	return false
}

// str validates a string with its escapes. Invalid UTF-8 is refused here
// (encoding/json would keep it in a RawMessage but it is not worth the
// difference: host.ParseDecision decides).
func (p *scanner) str() bool {
	if p.peek() != '"' {
		return false
	}
	j := p.i + 1
	start := j
	high := false
	for {
		j = nextSpecial(p.b, j)
		if j >= len(p.b) {
			return false
		}
		c := p.b[j]
		switch {
		case c == '"':
			if high && !utf8.Valid(p.b[start:j]) {
				return false
			}
			p.i = j + 1
			return true
		case c == '\\':
			if j+1 >= len(p.b) {
				return false
			}
			switch p.b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(p.b) {
					return false
				}
				for _, h := range p.b[j+2 : j+6] {
					if !isHex(h) {
						return false
					}
				}
				j += 6
			default:
				return false
			}
		case c < 0x20:
			return false
		default: // >= 0x80
			high = true
			j++
		}
	}
}

// nextSpecial returns the index of the first byte from j on that is a
// quote, a backslash, a control character or not ASCII, or len(b). It looks
// at eight bytes at a time.
func nextSpecial(b []byte, j int) int {
	for j+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[j:])
		q := x ^ ('"' * ones)
		s := x ^ ('\\' * ones)
		// Bytes below 0x20 borrow in x-0x20; bytes >= 0x80 have their high
		// bit set. The lowest flagged byte is exact.
		m := ((q - ones) &^ q) | ((s - ones) &^ s) | ((x - 0x20*ones) &^ x) | x
		if m &= highs; m != 0 {
			return j + bits.TrailingZeros64(m)>>3
		}
		j += 8
	}
	for j < len(b) {
		if c := b[j]; c == '"' || c == '\\' || c < 0x20 || c >= 0x80 {
			return j
		}
		j++
	}
	return j
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func (p *scanner) number() bool {
	b, j := p.b, p.i
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case j < len(b) && b[j] >= '1' && b[j] <= '9':
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
	default:
		return false
	}
	if j < len(b) && b[j] == '.' {
		j++
		d := j
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j == d {
			return false
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		d := j
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j == d {
			return false
		}
	}
	p.i = j
	return true
}
