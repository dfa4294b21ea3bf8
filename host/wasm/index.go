package wasm

import (
	"encoding/binary"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/internal/jsonstr"
	"github.com/hubd/hubd/sdk/wire"
)

// The envelope index (sdk/wasm/ABI.md, "Envelope index"): after the
// envelope JSON, at the next multiple of 4, the host writes where each
// field's value lies in the JSON, so that a guest finds the event name or
// the arguments without scanning the whole envelope (scanning costs 1 to
// 4 ns per byte in Wasm, several times what it costs natively). Guests may
// ignore it.
//
// Layout, little-endian uint32 words:
//
//	magic (wire.IndexMagic), field count N, escape bits, then N pairs
//	(start, end): the value's bytes in the JSON, end exclusive, strings
//	with their quotes; (0, 0) when the field is absent. Escape bit i is
//	set when string field i holds a backslash escape.
//
// The field ids and key tables are package wire's, shared with the Go
// guest SDK.

// indexSize is the size of the index in bytes.
const indexSize = 12 + 8*wire.NumFields

// appendIndex pads js, env's JSON as AppendJSON wrote it, to a multiple
// of 4 and appends its index. If js is not a well-formed object the index
// is left empty (every field absent) and guests fall back to scanning.
func appendIndex(js []byte, env *host.Envelope) []byte {
	n := len(js)
	for len(js)%4 != 0 {
		js = append(js, 0)
	}
	start := len(js)
	js = append(js, make([]byte, indexSize)...)
	idx := js[start:]
	binary.LittleEndian.PutUint32(idx[0:], wire.IndexMagic)
	binary.LittleEndian.PutUint32(idx[4:], wire.NumFields)
	x := indexer{b: js[:n], idx: idx}
	if !x.layout(env) {
		clear(idx[8:])
		x.esc = 0
		if i := ws(js, 0); x.object(i, wire.TopKey) < 0 {
			clear(idx[8:])
			return js
		}
	}
	x.args()
	return js
}

// args locates the first wire.IndexedArgs elements of args, once args is
// indexed, so that a guest reading env.Arg(0) scans nothing: natively the
// scan costs a few nanoseconds per element, in a Go guest about 8 per byte.
func (x *indexer) args() {
	o := 12 + 8*wire.FieldArgs
	start := int(binary.LittleEndian.Uint32(x.idx[o:]))
	end := int(binary.LittleEndian.Uint32(x.idx[o+4:]))
	if start >= end || end > len(x.b) || x.b[start] != '[' {
		return
	}
	b := x.b[:end]
	i := ws(b, start+1)
	if i < len(b) && b[i] == ']' {
		return
	}
	for k := 0; k < wire.IndexedArgs && i < len(b); k++ {
		e, esc := skipJSON(b, i)
		if e < 0 {
			return
		}
		x.set(wire.FieldArg0+k, i, e, esc)
		i = ws(b, e)
		if i >= len(b) || b[i] != ',' {
			return
		}
		i = ws(b, i+1)
	}
}

// layout indexes the JSON by walking the layout Envelope.AppendJSON
// writes, taking the lengths of the values it copies verbatim (args,
// socket data, auth) from env instead of scanning them. Every key and
// every copied value is checked; at the first surprise it reports false
// and the caller scans instead.
func (x *indexer) layout(env *host.Envelope) bool {
	if env == nil {
		return false
	}
	b := x.b
	i := 0
	lit := func(s string) bool {
		if len(b)-i >= len(s) && string(b[i:i+len(s)]) == s {
			i += len(s)
			return true
		}
		return false
	}
	str := func(id int) bool {
		if i >= len(b) || b[i] != '"' {
			return false
		}
		e, esc := jsonstr.SkipString(b, i)
		if e < 0 {
			return false
		}
		x.set(id, i, e, esc)
		i = e
		return true
	}
	raw := func(id int, v []byte) bool {
		if len(b)-i < len(v) || string(b[i:i+len(v)]) != string(v) {
			return false
		}
		x.set(id, i, i+len(v), false)
		i += len(v)
		return true
	}
	// known checks that a string value is s, unescaped (equal bytes mean
	// nothing was escaped), else scans it.
	known := func(id int, v string) bool {
		if e := i + 1 + len(v); e < len(b) && b[i] == '"' && b[e] == '"' && string(b[i+1:e]) == v {
			x.set(id, i, e+1, false)
			i = e + 1
			return true
		}
		return str(id)
	}
	// knownList is known for an array of strings.
	knownList := func(id int, list []string) bool {
		start := i
		if i < len(b) && b[i] == '[' {
			j := i + 1
			ok := true
			for k, r := range list {
				if k > 0 {
					if j >= len(b) || b[j] != ',' {
						ok = false
						break
					}
					j++
				}
				if e := j + 1 + len(r); e < len(b) && b[j] == '"' && b[e] == '"' && string(b[j+1:e]) == r {
					j = e + 1
				} else {
					ok = false
					break
				}
			}
			if ok && j < len(b) && b[j] == ']' {
				x.set(id, start, j+1, false)
				i = j + 1
				return true
			}
		}
		e, _ := skipJSON(b, i)
		if e < 0 {
			return false
		}
		x.set(id, i, e, false)
		i = e
		return true
	}
	val := func(id int) bool {
		e, esc := skipJSON(b, i)
		if e < 0 {
			return false
		}
		x.set(id, i, e, esc)
		i = e
		return true
	}
	if !lit(`{"v":`) || !val(wire.FieldV) || !lit(`,"hook":`) || !known(wire.FieldHook, string(env.Hook)) ||
		!lit(`,"ns":`) || !known(wire.FieldNs, env.Namespace) || !lit(`,"socket":`) {
		return false
	}
	sock := i
	if !lit(`{"id":`) || !known(wire.FieldSocketID, env.Socket.ID) || !lit(`,"rooms":`) || !knownList(wire.FieldSocketRooms, env.Socket.Rooms) {
		return false
	}
	if len(env.Socket.Data) > 0 && (!lit(`,"data":`) || !raw(wire.FieldSocketData, env.Socket.Data)) {
		return false
	}
	if !lit(`}`) {
		return false
	}
	x.set(wire.FieldSocket, sock, i, false)
	if h := env.Handshake; h != nil {
		hs := i + len(`,"handshake":`)
		auth := []byte(h.Auth)
		if len(auth) == 0 {
			auth = []byte("{}")
		}
		if !lit(`,"handshake":{"auth":`) || !raw(wire.FieldAuth, auth) ||
			!lit(`,"query":`) || !val(wire.FieldQuery) || !lit(`,"headers":`) || !val(wire.FieldHeaders) ||
			!lit(`,"address":`) || !known(wire.FieldAddress, h.Address) || !lit(`}`) {
			return false
		}
		x.set(wire.FieldHandshake, hs, i, false)
	}
	if env.Recovered {
		if !lit(`,"recovered":`) {
			return false
		}
		x.set(wire.FieldRecovered, i, i+4, false)
		if !lit("true") {
			return false
		}
	}
	if env.Event != "" && (!lit(`,"event":`) || !known(wire.FieldEvent, env.Event)) {
		return false
	}
	if len(env.Args) > 0 && (!lit(`,"args":`) || !raw(wire.FieldArgs, env.Args)) {
		return false
	}
	if env.Ack {
		if !lit(`,"ack":`) {
			return false
		}
		x.set(wire.FieldAck, i, i+4, false)
		if !lit("true") {
			return false
		}
	}
	if env.Rooms != nil && (!lit(`,"rooms":`) || !knownList(wire.FieldRooms, env.Rooms)) {
		return false
	}
	if env.Reason != "" && (!lit(`,"reason":`) || !known(wire.FieldReason, env.Reason)) {
		return false
	}
	return lit(`}`) && i == len(b)
}

type indexer struct {
	b   []byte
	idx []byte
	esc uint32
}

func (x *indexer) set(id, start, end int, esc bool) {
	o := 12 + 8*id
	p := x.idx[o : o+8]
	binary.LittleEndian.PutUint32(p, uint32(start))
	binary.LittleEndian.PutUint32(p[4:], uint32(end))
	if esc {
		x.esc |= 1 << id
		binary.LittleEndian.PutUint32(x.idx[8:], x.esc)
	}
}

// object indexes the object at b[i] whose keys keyOf maps and returns
// the index after it, or -1 if the JSON is not well formed.
func (x *indexer) object(i int, keyOf func([]byte) int) int {
	b := x.b
	if i >= len(b) || b[i] != '{' {
		return -1
	}
	i = ws(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1
	}
	for i < len(b) && b[i] == '"' {
		ke, kesc := jsonstr.SkipString(b, i)
		if ke < 0 {
			return -1
		}
		id := -1
		if !kesc {
			id = keyOf(b[i+1 : ke-1])
		}
		i = ws(b, ke)
		if i >= len(b) || b[i] != ':' {
			return -1
		}
		vs := ws(b, i+1)
		var ve int
		var vesc bool
		switch {
		case id == wire.FieldSocket && vs < len(b) && b[vs] == '{':
			ve = x.object(vs, wire.SocketKey)
		case id == wire.FieldHandshake && vs < len(b) && b[vs] == '{':
			ve = x.object(vs, wire.HandshakeKey)
		default:
			ve, vesc = skipJSON(b, vs)
		}
		if ve < 0 {
			return -1
		}
		if id >= 0 {
			x.set(id, vs, ve, vesc)
		}
		i = ws(b, ve)
		if i < len(b) && b[i] == ',' {
			i = ws(b, i+1)
			continue
		}
		if i < len(b) && b[i] == '}' {
			return i + 1
		}
		return -1
	}
	return -1
}

func ws(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// jsonClass marks the bytes that matter when skipping a nested value.
var jsonClass = [256]byte{'"': 1, '{': 2, '[': 2, '}': 3, ']': 3}

// skipJSON returns the index after the value at b[i] (-1 if malformed)
// and, for a string, whether it holds escapes.
func skipJSON(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return -1, false
	}
	switch b[i] {
	case '"':
		return jsonstr.SkipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch jsonClass[b[j]] {
			case 0:
			case 1:
				e, _ := jsonstr.SkipString(b, j)
				if e < 0 {
					return -1, false
				}
				j = e - 1
			case 2:
				depth++
			case 3:
				depth--
				if depth == 0 {
					return j + 1, false
				}
			}
		}
		return -1, false
	}
	j := i
	for j < len(b) {
		c := b[j]
		if c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			break
		}
		j++
	}
	if j == i {
		return -1, false
	}
	return j, false
}
