package hubd

import (
	"unsafe"

	"github.com/hubd/hubd/sdk/wire"
)

// Hook names a moment of a socket's life.
type Hook = wire.Hook

// The hooks.
const (
	HookConnect    = wire.HookConnect
	HookJoin       = wire.HookJoin
	HookLeave      = wire.HookLeave
	HookEvent      = wire.HookEvent
	HookDisconnect = wire.HookDisconnect
)

// Envelope is one hook call as the host sends it (see sdk/wasm/ABI.md).
// Its methods read the fields on demand, through the index the host
// writes after the JSON, so a handler pays only for what it reads.
//
// Everything an Envelope returns — strings, Raw values, and the values its
// builder methods (String, Array, Object, Strings, ReplaceArg) make — is
// valid until the handler returns: the host reuses the buffer and the SDK
// reuses its arena for the next call. Copy (strings.Clone, bytes.Clone)
// what you keep.
type Envelope struct {
	hook  Hook
	buf   []byte // the envelope JSON
	spans []byte // the index pairs: the host's, or own
	esc   uint32
	// args: the host's index locates the first arguments.
	args  bool
	own   [wire.NumFields * 8]byte
	arena []byte
}

// The envelope index (sdk/wasm/ABI.md, "Envelope index"): its magic,
// field ids and key tables are package wire's, shared with the host.

func u32(b []byte, off int) uint32 {
	return *(*uint32)(unsafe.Pointer(unsafe.SliceData(b[off : off+4])))
}

func putU32(b []byte, off int, v uint32) {
	*(*uint32)(unsafe.Pointer(unsafe.SliceData(b[off : off+4]))) = v
}

// reset prepares e for a call on the JSON buf[:n], using the host's index
// that follows it, or scanning the JSON when there is none.
func (e *Envelope) reset(hook Hook, buf []byte, n int) bool {
	e.hook = hook
	e.buf = buf[:n]
	e.arena = e.arena[:0]
	off := (n + 3) &^ 3
	if off+12+8*wire.NumKeyFields <= len(buf) && u32(buf, off) == wire.IndexMagic {
		if n := int(u32(buf, off+4)); n >= wire.NumKeyFields {
			e.args = n >= wire.NumFields && off+12+8*wire.NumFields <= len(buf)
			if e.args {
				e.spans = buf[off+12 : off+12+8*wire.NumFields]
			} else {
				e.spans = buf[off+12 : off+12+8*wire.NumKeyFields]
			}
			e.esc = u32(buf, off+8)
			if u32(e.spans, 8*wire.FieldHook+4) != 0 {
				return true
			}
		}
	}
	// No index (or an empty one): build it.
	clear(e.own[:])
	e.spans, e.esc, e.args = e.own[:], 0, false
	x := scanner{b: e.buf, e: e}
	return x.object(wire.SkipSpace(e.buf, 0), wire.TopKey) >= 0
}

// field returns the bytes of field f (empty if absent).
func (e *Envelope) field(f int) []byte {
	if 8*f >= len(e.spans) {
		return nil
	}
	s, t := u32(e.spans, 8*f), u32(e.spans, 8*f+4)
	if s >= t || t > uint32(len(e.buf)) {
		return nil
	}
	return e.buf[s:t]
}

// text returns string field f.
func (e *Envelope) text(f int) string {
	v := e.field(f)
	if len(v) < 2 {
		return ""
	}
	if e.esc&(1<<f) == 0 {
		return view(v[1 : len(v)-1])
	}
	return unescaped(v)
}

func unescaped(v []byte) string {
	s, _ := wire.Unescape(v[1 : len(v)-1])
	return s
}

// Hook returns the hook called.
func (e *Envelope) Hook() Hook { return e.hook }

// V returns the envelope schema version.
func (e *Envelope) V() int {
	n, ok := Raw(e.field(wire.FieldV)).Int()
	if !ok {
		return 1
	}
	return int(n)
}

// Namespace returns the socket's namespace, e.g. "/".
func (e *Envelope) Namespace() string {
	if v := e.field(wire.FieldNs); len(v) == 3 && v[1] == '/' {
		return "/"
	}
	return e.text(wire.FieldNs)
}

// SocketID returns the socket's id.
func (e *Envelope) SocketID() string { return e.text(wire.FieldSocketID) }

// SocketRooms returns the rooms the socket has joined (without its own id
// room).
func (e *Envelope) SocketRooms() []string { return Raw(e.field(wire.FieldSocketRooms)).Strings() }

// SocketRoomsJSON returns the socket's rooms as a JSON array.
func (e *Envelope) SocketRoomsJSON() Raw { return e.field(wire.FieldSocketRooms) }

// SocketData returns what the connect hook attached (socket_data), as
// JSON; empty if nothing.
func (e *Envelope) SocketData() Raw { return e.field(wire.FieldSocketData) }

// Auth returns the client's auth payload (connect hook; a JSON object).
func (e *Envelope) Auth() Raw { return e.field(wire.FieldAuth) }

// AuthString returns the string member key of the auth payload.
func (e *Envelope) AuthString(key string) (string, bool) { return e.Auth().Get(key).Str() }

// Query returns the connect request's query parameters (a JSON object of
// strings).
func (e *Envelope) Query() Raw { return e.field(wire.FieldQuery) }

// QueryParam returns one query parameter.
func (e *Envelope) QueryParam(key string) (string, bool) { return e.Query().Get(key).Str() }

// Headers returns the connect request's headers (a JSON object of strings,
// names in lower case).
func (e *Envelope) Headers() Raw { return e.field(wire.FieldHeaders) }

// Header returns one request header (name in lower case).
func (e *Envelope) Header(name string) (string, bool) { return e.Headers().Get(name).Str() }

// Address returns the client's remote address (connect hook).
func (e *Envelope) Address() string { return e.text(wire.FieldAddress) }

// Event returns the event's name (event hook).
func (e *Envelope) Event() string { return e.text(wire.FieldEvent) }

// Args returns the event's JSON argument array (event hook). Binary
// attachments are placeholders {"_placeholder":true,"num":i} whose bytes
// Attachment(i) returns.
func (e *Envelope) Args() Raw { return e.field(wire.FieldArgs) }

// Arg returns the event's argument i, or an empty Raw.
func (e *Envelope) Arg(i int) Raw {
	if e.args && i >= 0 && i < wire.IndexedArgs {
		if v := e.field(wire.FieldArg0 + i); len(v) > 0 {
			return v
		}
		return nil
	}
	return e.Args().Index(i)
}

// ArgString returns the event's argument i if it is a string.
func (e *Envelope) ArgString(i int) (string, bool) {
	if e.args && i >= 0 && i < wire.IndexedArgs {
		v := e.field(wire.FieldArg0 + i)
		if len(v) < 2 || v[0] != '"' {
			return "", false
		}
		if e.esc&(1<<(wire.FieldArg0+i)) == 0 {
			return view(v[1 : len(v)-1]), true
		}
		return wire.Unescape(v[1 : len(v)-1])
	}
	return e.Args().IndexStr(i)
}

// NumArgs returns the number of event arguments.
func (e *Envelope) NumArgs() int { return e.Args().Len() }

// Ack reports whether the client waits for an acknowledgement.
func (e *Envelope) Ack() bool { return len(e.field(wire.FieldAck)) == 4 }

// Rooms returns the rooms the call acts on: those being joined or left
// (join, leave), or the event's target rooms (event).
func (e *Envelope) Rooms() []string { return Raw(e.field(wire.FieldRooms)).Strings() }

// RoomsJSON returns the rooms the call acts on as a JSON array.
func (e *Envelope) RoomsJSON() Raw { return e.field(wire.FieldRooms) }

// Reason returns the disconnect reason (disconnect hook).
func (e *Envelope) Reason() string { return e.text(wire.FieldReason) }

// Recovered reports whether the connecting socket is one its client got
// back after a disconnection (connect hook, with connection state
// recovery): SocketID and SocketData are the restored ones. Its rooms
// come back once the connect is allowed; a deny fails the recovery.
func (e *Envelope) Recovered() bool { return len(e.field(wire.FieldRecovered)) == 4 }

// JSON returns the whole envelope.
func (e *Envelope) JSON() Raw { return e.buf }

// Builders that allocate from the call's arena.

// mark returns the arena's length, where a value being built starts.
func (e *Envelope) mark() int {
	if e.arena == nil {
		e.arena = make([]byte, 0, 4096)
	}
	return len(e.arena)
}

// cut returns the value built since start, with its capacity capped so
// that appending to it cannot overwrite what follows.
func (e *Envelope) cut(start int) Raw {
	return Raw(e.arena[start:len(e.arena):len(e.arena)])
}

// String returns s as a JSON string, valid during the call.
func (e *Envelope) String(s string) Raw {
	start := e.mark()
	e.arena = appendString(e.arena, s)
	return e.cut(start)
}

// Strings returns a JSON array of strings, valid during the call.
func (e *Envelope) Strings(ss ...string) Raw {
	start := e.mark()
	e.arena = appendStrings(e.arena, ss)
	return e.cut(start)
}

// Array returns a JSON array of the values, valid during the call.
func (e *Envelope) Array(values ...Raw) Raw {
	start := e.mark()
	e.arena = appendArray(e.arena, values)
	return e.cut(start)
}

// Object returns a JSON object of the fields, valid during the call.
func (e *Envelope) Object(fields ...Field) Raw {
	start := e.mark()
	e.arena = appendObject(e.arena, fields)
	return e.cut(start)
}

// ReplaceArg returns the event's arguments with argument i replaced by v
// (padded with nulls if there were fewer), valid during the call. The
// arguments after i are copied as they are.
func (e *Envelope) ReplaceArg(i int, v Raw) Raw {
	start := e.mark()
	e.arena = appendReplaced(e.arena, e.Args(), i, v)
	return e.cut(start)
}

// UpperString returns s upper-cased (as strings.ToUpper) as a JSON string,
// valid during the call; it writes straight into the arena.
func (e *Envelope) UpperString(s string) Raw {
	start := e.mark()
	e.arena = appendMapped(e.arena, s, true, nil)
	return e.cut(start)
}

// MapString returns strings.Map(mapping, s) as a JSON string, valid during
// the call.
func (e *Envelope) MapString(s string, mapping func(rune) rune) Raw {
	start := e.mark()
	e.arena = appendMapped(e.arena, s, false, mapping)
	return e.cut(start)
}

// appendMapped appends s, mapped rune by rune (upper-cased when upper), as
// a JSON string.
func appendMapped(dst []byte, s string, upper bool, mapping func(rune) rune) []byte {
	if upper {
		// Fast path: printable ASCII without quote or backslash maps byte
		// for byte; write it in place.
		n := len(dst)
		dst = grow(dst, len(s)+2)
		w := dst[n : n+len(s)+2]
		body := w[1 : 1+len(s)]
		ok := true
		for i, c := range bytesOf(s) {
			if c < 0x20 || c >= utf8RuneSelf || c == '"' || c == '\\' {
				ok = false
				break
			}
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			body[i] = c
		}
		if ok {
			w[0], w[len(w)-1] = '"', '"'
			return dst[:n+len(s)+2]
		}
		dst = dst[:n]
	}
	dst = append(dst, '"')
	for _, r := range s {
		if upper {
			r = toUpper(r)
		} else {
			r = mapping(r)
		}
		if r >= 0 {
			dst = appendRuneJSON(dst, r)
		}
	}
	return append(dst, '"')
}

// grow makes room for n more bytes.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), 2*cap(b)+n)
		copy(nb, b)
		b = nb
	}
	return b
}

// appendReplaced appends args with element i replaced by v; the elements
// after it are copied verbatim.
func appendReplaced(dst []byte, args Raw, i int, v Raw) []byte {
	if i == 0 && len(args) > 2 && args[0] == '[' && args[1] == '"' && len(v) > 0 {
		// The common case: replace a first argument that is a string.
		if end, _ := wire.ScanString(args, 1); end > 0 {
			dst = append(dst, '[')
			dst = append(dst, v...)
			return append(dst, args[end:]...)
		}
	}
	dst = append(dst, '[')
	j := wire.SkipSpace(args, 0)
	if j >= len(args) || args[j] != '[' {
		args = Raw("[]")
		j = 0
	}
	j = wire.SkipSpace(args, j+1)
	n := 0
	// Copy the elements before i.
	for n < i && j < len(args) && args[j] != ']' {
		end := wire.SkipValue(args, j)
		if end < 0 {
			return append(dst[:len(dst)-1], "[]"...)
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, args[j:end]...)
		n++
		j = wire.SkipSpace(args, end)
		if j < len(args) && args[j] == ',' {
			j = wire.SkipSpace(args, j+1)
		}
	}
	for ; n < i; n++ { // fewer arguments than i: pad
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, "null"...)
	}
	if n > 0 {
		dst = append(dst, ',')
	}
	dst = appendValue(dst, v)
	// Skip element i, then copy the rest as it is.
	if j < len(args) && args[j] != ']' {
		end := wire.SkipValue(args, j)
		if end < 0 {
			return append(dst, ']')
		}
		j = end
	} else {
		return append(dst, ']')
	}
	return append(dst, args[j:]...)
}

// scanner builds the index of an envelope that came without one.
type scanner struct {
	b []byte
	e *Envelope
}

// object indexes the object at b[i] and returns the index after it, or -1.
func (x *scanner) object(i int, keyOf func([]byte) int) int {
	b := x.b
	if i >= len(b) || b[i] != '{' {
		return -1
	}
	i = wire.SkipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1
	}
	for i < len(b) && b[i] == '"' {
		ke, kesc := wire.ScanString(b, i)
		if ke < 0 {
			return -1
		}
		id := -1
		if !kesc {
			id = keyOf(b[i+1 : ke-1])
		}
		i = wire.SkipSpace(b, ke)
		if i >= len(b) || b[i] != ':' {
			return -1
		}
		vs := wire.SkipSpace(b, i+1)
		var ve int
		vesc := false
		switch {
		case id == wire.FieldSocket && vs < len(b) && b[vs] == '{':
			ve = x.object(vs, wire.SocketKey)
		case id == wire.FieldHandshake && vs < len(b) && b[vs] == '{':
			ve = x.object(vs, wire.HandshakeKey)
		case vs < len(b) && b[vs] == '"':
			ve, vesc = wire.ScanString(b, vs)
		default:
			ve = wire.SkipValue(b, vs)
		}
		if ve < 0 {
			return -1
		}
		if id >= 0 {
			putU32(x.e.own[:], 8*id, uint32(vs))
			putU32(x.e.own[:], 8*id+4, uint32(ve))
			if vesc {
				x.e.esc |= 1 << id
			}
		}
		i = wire.SkipSpace(b, ve)
		if i < len(b) && b[i] == ',' {
			i = wire.SkipSpace(b, i+1)
			continue
		}
		if i < len(b) && b[i] == '}' {
			return i + 1
		}
		return -1
	}
	return -1
}
