package sio

import (
	"encoding/binary"
	"errors"

	"github.com/hubd/hubd/hub/internal/msgpack"
)

// The msgpack parser (the npm package socket.io-msgpack-parser) sends each
// packet as one binary message: the msgpack map {type, nsp, data, id},
// with binary values as bin in place, so it has no attachments and no
// BINARY_EVENT or BINARY_ACK types. DecodeMsgpack turns such a packet into
// the Packet the text decoder gives, its data into JSON with placeholders
// for the binary values, so that the rest of the server handles both
// parsers' packets alike; the Append functions write the other way.

// ErrMsgpack is wrapped by DecodeMsgpack's errors about the msgpack itself
// (truncated, too deep, a string not UTF-8) or a packet that is not a map
// of its four keys.
var ErrMsgpack = errors.New("sio: malformed msgpack packet")

// DecodeMsgpack decodes a msgpack packet; it fails as Decode does on what
// the text decoder refuses (a reserved event name, an invalid payload for
// the type), and with an error wrapping ErrMsgpack on broken msgpack.
// The binary values of its data are returned as attachments, at most
// maxAttachments (0 means no bound), and alias b, as do its other slices.
func DecodeMsgpack(b []byte, maxAttachments int) (Packet, [][]byte, error) {
	p := Packet{ID: NoID, Nsp: "/"}
	d := msgpack.NewDecoder(b)
	d.MaxBins = maxAttachments
	n, err := d.MapHeader()
	if err != nil {
		return p, nil, errors.Join(ErrMsgpack, err)
	}
	if n > d.Left()/2 {
		return p, nil, ErrMsgpack
	}
	var (
		seen    [4]bool
		data    []byte
		atts    [][]byte
		typeSet bool
		nspSet  bool
	)
	for range n {
		key, ok, err := d.StrBytes()
		if err != nil || !ok {
			return p, nil, errors.Join(ErrMsgpack, err)
		}
		k := keyIndex(string(key))
		if k < 0 {
			// Another key, such as the options the client adds
			// ({compress}), which the server does not read either.
			if err := d.Skip(1); err != nil {
				return p, nil, errors.Join(ErrMsgpack, err)
			}
			continue
		}
		if seen[k] {
			return p, nil, ErrMsgpack
		}
		seen[k] = true
		switch k {
		case keyType:
			v, err := d.Value(1)
			if err != nil {
				return p, nil, errors.Join(ErrMsgpack, err)
			}
			t, ok := v.(int64)
			if !ok || t < int64(Connect) || t > int64(ConnectError) {
				return p, nil, ErrUnknownType
			}
			p.Type, typeSet = Type(t), true
		case keyNsp:
			s, ok, err := d.StrBytes()
			if err != nil && !errors.Is(err, msgpack.ErrInvalidUTF8) {
				return p, nil, errors.Join(ErrMsgpack, err)
			}
			if err != nil || !ok || len(s) == 0 || s[0] != '/' {
				return p, nil, ErrIllegalNamespace
			}
			p.Nsp, nspSet = string(s), true
		case keyData:
			if undefined(&d) {
				continue
			}
			data = make([]byte, 0, 16+d.Left())
			if data, err = d.AppendJSON(data, &atts, 1); err != nil {
				if errors.Is(err, msgpack.ErrTooManyBins) {
					return p, nil, ErrTooManyAttach
				}
				return p, nil, errors.Join(ErrMsgpack, err)
			}
		case keyID:
			if undefined(&d) {
				continue
			}
			v, err := d.Value(1)
			if err != nil {
				return p, nil, errors.Join(ErrMsgpack, err)
			}
			id, ok := v.(int64)
			if !ok || id < 0 || id > 1<<53 {
				return p, nil, ErrInvalidPayload
			}
			p.ID = id
		}
	}
	if d.Left() != 0 {
		return p, nil, ErrMsgpack
	}
	if !typeSet {
		return p, nil, ErrUnknownType
	}
	if !nspSet {
		return p, nil, ErrIllegalNamespace
	}
	if len(atts) > 0 {
		switch p.Type {
		case Event:
			p.Type = BinaryEvent
		case Ack:
			p.Type = BinaryAck
		default:
			return p, nil, ErrInvalidPayload
		}
		p.Attachments = len(atts)
	}
	p.Data = data
	return p, atts, p.validate()
}

// The keys of a msgpack packet.
const (
	keyType = iota
	keyNsp
	keyData
	keyID
)

func keyIndex(k string) int {
	switch k {
	case "type":
		return keyType
	case "nsp":
		return keyNsp
	case "data":
		return keyData
	case "id":
		return keyID
	}
	return -1
}

// undefined reads JavaScript's undefined (notepack's fixext1 0), which a
// client writes for a key it has but did not set, such as a CONNECT's data
// without auth.
func undefined(d *msgpack.Decoder) bool {
	if c, err := d.Peek(); err != nil || c != 0xd4 {
		return false
	}
	if d.Left() < 3 {
		return false
	}
	p, _ := d.Take(3)
	if p[1] == 0 {
		return true
	}
	d.Unread(3)
	return false
}

// wireType is the type a msgpack packet carries: it has no binary types.
func wireType(t Type) byte {
	switch t {
	case BinaryEvent:
		return byte(Event)
	case BinaryAck:
		return byte(Ack)
	}
	return byte(t)
}

// appendMsgpackHead writes the map header and the type and nsp entries of
// a packet with hasData and an id (NoID for none), up to the data key.
func appendMsgpackHead(dst []byte, t Type, nsp string, id int64, hasData bool) []byte {
	n := 2
	if hasData {
		n++
	}
	if id >= 0 {
		n++
	}
	if nsp == "" {
		nsp = "/"
	}
	dst = msgpack.AppendMapHeader(dst, n)
	dst = append(dst, 0xa4, 't', 'y', 'p', 'e', wireType(t))
	dst = append(dst, 0xa3, 'n', 's', 'p')
	dst = msgpack.AppendString(dst, nsp)
	if id >= 0 {
		dst = append(dst, 0xa2, 'i', 'd')
		dst = msgpack.AppendInt(dst, id)
	}
	if hasData {
		dst = append(dst, 0xa4, 'd', 'a', 't', 'a')
	}
	return dst
}

// AppendMsgpackEvent appends the msgpack EVENT packet of event with the
// arguments list (comma-separated JSON values whose placeholders point at
// atts) and, when offset is not empty, offset as its last argument. list
// must be valid JSON, as hub.Args always is; nothing in it is bounded.
func AppendMsgpackEvent(dst []byte, nsp string, id int64, event string, list []byte, atts [][]byte, offset string) []byte {
	dst = appendMsgpackHead(dst, Event, nsp, id, true)
	start := len(dst)
	dst = append(dst, 0xdd, 0, 0, 0, 0) // array 32, its length patched below
	dst = msgpack.AppendString(dst, event)
	dst, n := appendList(dst, list, atts)
	n++
	if offset != "" {
		dst = msgpack.AppendString(dst, offset)
		n++
	}
	binary.BigEndian.PutUint32(dst[start+1:], uint32(n))
	return dst
}

// AppendMsgpackAck appends the msgpack ACK packet of id with the arguments
// list, as AppendMsgpackEvent.
func AppendMsgpackAck(dst []byte, nsp string, id int64, list []byte, atts [][]byte) []byte {
	dst = appendMsgpackHead(dst, Ack, nsp, id, true)
	start := len(dst)
	dst = append(dst, 0xdd, 0, 0, 0, 0)
	dst, n := appendList(dst, list, atts)
	binary.BigEndian.PutUint32(dst[start+1:], uint32(n))
	return dst
}

// AppendMsgpackControl appends a CONNECT, DISCONNECT or CONNECT_ERROR
// packet whose data is the JSON value data (nil for none).
func AppendMsgpackControl(dst []byte, t Type, nsp string, data []byte) []byte {
	dst = appendMsgpackHead(dst, t, nsp, NoID, data != nil)
	if data != nil {
		out, err := msgpack.AppendJSON(dst, data, nil, 0)
		if err != nil {
			return append(dst, 0xc0) // not reached: the server's own JSON
		}
		dst = out
	}
	return dst
}

func appendList(dst, list []byte, atts [][]byte) ([]byte, int) {
	out, n, err := msgpack.AppendJSONList(dst, list, atts, 0, true)
	if err != nil {
		return dst, 0 // not reached: Args hold valid JSON
	}
	return out, n
}
