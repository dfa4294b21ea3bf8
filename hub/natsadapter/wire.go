package natsadapter

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"unicode/utf8"

	"github.com/hubd/hubd/hub"
)

// A message between nodes is binary: a version byte, a type byte, the
// sending node's id, then the type's fields. Strings and byte strings are
// a uvarint length and the bytes; lists are a uvarint count and the items.
// Arguments are their JSON array (binary values as placeholders) and the
// attachments, so that a hub.Args crosses nodes without being re-encoded.
// A reader checks every length and count against the bytes that remain
// before it allocates anything, and every string for UTF-8.

const wireVersion = 1

// Message types. Those up to msgEmit go to a namespace's subject; the
// answers come back on the asking node's reply inbox.
const (
	msgHello      byte = 1  // a node's namespace adapter started: answer with a heartbeat
	msgHeartbeat  byte = 2  // the node is alive
	msgBye        byte = 3  // the node's namespace adapter closed
	msgBroadcast  byte = 4  // opts, packet; with a reply inbox: acks wanted
	msgJoin       byte = 5  // opts, rooms
	msgLeave      byte = 6  // opts, rooms
	msgDisconnect byte = 7  // opts, close
	msgFetch      byte = 8  // opts; answered with msgSockets
	msgRooms      byte = 9  // answered with msgRoomList
	msgEmit       byte = 10 // event, args; with a reply inbox: answered with msgEmitAck

	msgClientCount byte = 20 // n: how many local sockets a broadcast with acks went to
	msgAck         byte = 21 // args: a socket's answer
	msgGone        byte = 22 // a socket disconnected before it answered
	msgSockets     byte = 23 // JSON of []*hub.RemoteSocket
	msgRoomList    byte = 24 // rooms
	msgEmitAck     byte = 25 // args: a listener's answer
)

// Flag bits of a message's broadcast options.
const (
	flagVolatile = 1 << iota
	flagCompress
)

// errMalformed reports a message that does not parse; it is dropped.
var errMalformed = errors.New("natsadapter: malformed message")

// writer builds a message.
type writer struct{ b []byte }

func newMessage(typ byte, uid string) *writer {
	w := &writer{b: make([]byte, 0, 64)}
	w.b = append(w.b, wireVersion, typ)
	w.str(uid)
	return w
}

func (w *writer) uint(n uint64) { w.b = binary.AppendUvarint(w.b, n) }

func (w *writer) bytes(p []byte) {
	w.uint(uint64(len(p)))
	w.b = append(w.b, p...)
}

func (w *writer) str(s string) {
	w.uint(uint64(len(s)))
	w.b = append(w.b, s...)
}

func (w *writer) strs(l []string) {
	w.uint(uint64(len(l)))
	for _, s := range l {
		w.str(s)
	}
}

// opts writes what a remote node needs of o: the rooms, the exceptions
// and the delivery flags (Local never crosses, and Timeout is the asking
// node's to keep).
func (w *writer) opts(o hub.BroadcastOptions) {
	w.strs(o.Rooms)
	w.strs(o.Except)
	var f byte
	if o.Flags.Volatile {
		f |= flagVolatile
	}
	if o.Flags.Compress {
		f |= flagCompress
	}
	w.b = append(w.b, f)
}

func (w *writer) args(a hub.Args) {
	w.bytes(a.JSON())
	atts := a.Attachments()
	w.uint(uint64(len(atts)))
	for _, b := range atts {
		w.bytes(b)
	}
}

// reader reads a message; its first error sticks, and every read after it
// returns zero values.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = errMalformed
	}
	r.b = nil
}

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) < 1 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uint() uint64 {
	if r.err != nil {
		return 0
	}
	n, k := binary.Uvarint(r.b)
	if k <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[k:]
	return n
}

// count reads a list's length: at most the bytes that remain, as each
// item takes one at least.
func (r *reader) count() int {
	n := r.uint()
	if n > uint64(len(r.b)) {
		r.fail()
		return 0
	}
	return int(n)
}

// bytes reads a byte string; it aliases the message.
func (r *reader) bytes() []byte {
	n := r.count()
	if r.err != nil {
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) str() string {
	p := r.bytes()
	if !utf8.Valid(p) {
		r.fail()
		return ""
	}
	return string(p)
}

func (r *reader) strs() []string {
	n := r.count()
	if n == 0 {
		return nil
	}
	l := make([]string, 0, n)
	for range n {
		s := r.str()
		if r.err != nil {
			return nil
		}
		l = append(l, s)
	}
	return l
}

func (r *reader) opts() hub.BroadcastOptions {
	var o hub.BroadcastOptions
	o.Rooms = r.strs()
	o.Except = r.strs()
	f := r.byte()
	o.Flags.Volatile = f&flagVolatile != 0
	o.Flags.Compress = f&flagCompress != 0
	return o
}

// args reads arguments and checks them as any JSON from outside
// (hub.RawArgs: a JSON array, valid UTF-8, placeholders that point at
// attachments).
func (r *reader) args() hub.Args {
	raw := r.bytes()
	n := r.count()
	if r.err != nil {
		return hub.Args{}
	}
	var atts [][]byte
	if n > 0 {
		atts = make([][]byte, 0, n)
		for range n {
			atts = append(atts, r.bytes())
		}
	}
	if r.err != nil {
		return hub.Args{}
	}
	a, err := hub.RawArgs(json.RawMessage(raw), atts)
	if err != nil {
		r.fail()
	}
	return a
}

// done reports whether the message was read whole and well.
func (r *reader) done() bool { return r.err == nil && len(r.b) == 0 }

// readHeader reads a message's version, type and sender.
func readHeader(b []byte) (r *reader, typ byte, uid string, ok bool) {
	r = &reader{b: b}
	if r.byte() != wireVersion {
		return nil, 0, "", false
	}
	typ = r.byte()
	uid = r.str()
	return r, typ, uid, r.err == nil && uid != ""
}

// firstArg is an answer as it crosses nodes: its first value only, as in
// Node's adapters. The attachments go along only when that value may point
// at one.
func firstArg(a hub.Args) hub.Args {
	if a.Len() <= 1 {
		return a
	}
	v := a.At(0)
	var atts [][]byte
	if bytes.Contains(v, []byte(`"_placeholder"`)) {
		atts = a.Attachments()
	}
	f, err := hub.RawArgs(append(append([]byte{'['}, v...), ']'), atts)
	if err != nil {
		return hub.Args{}
	}
	return f
}

// message is a decoded message: its header and the fields its type has.
type message struct {
	typ   byte
	uid   string
	opts  hub.BroadcastOptions // broadcast, join, leave, disconnect, fetch
	event string               // broadcast, emit
	args  hub.Args             // broadcast, emit, ack, emit ack
	rooms []string             // join, leave, room list
	close bool                 // disconnect
	n     uint64               // client count
	raw   []byte               // sockets (JSON, checked for UTF-8)
}

// decode reads a whole message; ok is false for one that is malformed
// in any part, of an unknown type or version, or with bytes left over.
func decode(b []byte) (m message, ok bool) {
	r, typ, uid, ok := readHeader(b)
	if !ok {
		return m, false
	}
	m.typ, m.uid = typ, uid
	switch typ {
	case msgHello, msgHeartbeat, msgBye, msgRooms, msgGone:
	case msgBroadcast:
		m.opts = r.opts()
		m.event = r.str()
		m.args = r.args()
	case msgJoin, msgLeave:
		m.opts = r.opts()
		m.rooms = r.strs()
	case msgDisconnect:
		m.opts = r.opts()
		switch r.byte() {
		case 0:
		case 1:
			m.close = true
		default:
			r.fail()
		}
	case msgFetch:
		m.opts = r.opts()
	case msgEmit:
		m.event = r.str()
		m.args = r.args()
	case msgClientCount:
		m.n = r.uint()
		if m.n > maxClientCount {
			r.fail()
		}
	case msgAck, msgEmitAck:
		m.args = r.args()
	case msgSockets:
		m.raw = r.bytes()
		if !utf8.Valid(m.raw) {
			r.fail()
		}
	case msgRoomList:
		m.rooms = r.strs()
	default:
		return m, false
	}
	return m, r.done()
}

// singleRoom returns the room of a broadcast to exactly one room, reading
// no further than its rooms: a node with no member there drops it without
// decoding the rest.
func singleRoom(b []byte) (room string, ok bool) {
	r := reader{b: b}
	if r.byte() != wireVersion || r.byte() != msgBroadcast {
		return "", false
	}
	r.bytes() // the sender
	if r.count() != 1 {
		return "", false
	}
	p := r.bytes()
	if r.err != nil || !utf8.Valid(p) {
		return "", false
	}
	return string(p), true
}
