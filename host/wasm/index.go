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
// The field ids are package wire's, shared with the Go guest SDK. The
// host takes the spans from the JSON's writer (wire.Envelope.
// AppendJSONIndex) and scans only the arguments.

// indexSize is the size of the index in bytes.
const indexSize = 12 + 8*wire.NumFields

// appendJSONIndexed appends env's JSON (Envelope.AppendJSONIndex, which
// says where it wrote each field), pads it to a multiple of 4 and appends
// its index; it returns the buffer and the JSON's length. The JSON must
// start at dst[0].
func appendJSONIndexed(dst []byte, env *host.Envelope) ([]byte, int) {
	var fields wire.Index
	js := env.AppendJSONIndex(dst, &fields)
	n := len(js)
	for len(js)%4 != 0 {
		js = append(js, 0)
	}
	start := len(js)
	js = append(js, make([]byte, indexSize)...)
	idx := js[start:]
	binary.LittleEndian.PutUint32(idx[0:], wire.IndexMagic)
	binary.LittleEndian.PutUint32(idx[4:], wire.NumFields)
	x := indexer{b: js[:n], idx: idx, esc: fields.Esc}
	binary.LittleEndian.PutUint32(idx[8:], fields.Esc)
	for id, sp := range fields.Spans[:wire.FieldArg0] {
		binary.LittleEndian.PutUint32(idx[12+8*id:], sp[0])
		binary.LittleEndian.PutUint32(idx[16+8*id:], sp[1])
	}
	x.args()
	return js, n
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
