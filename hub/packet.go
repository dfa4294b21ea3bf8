package hub

import (
	"sync"
	"sync/atomic"

	"github.com/hubd/hubd/hub/internal/engine"
	"github.com/hubd/hubd/hub/internal/sio"
	"github.com/hubd/hubd/internal/jsonstr"
)

// Packet is an event on its way to one or many sockets. Its wire form is
// built once and the same bytes are queued for every recipient.
type Packet struct {
	Nsp   string
	Event string
	Args  Args
	// Offset is the packet's place in its namespace's SessionStore, set
	// by the store before the packet is first delivered (connection
	// state recovery): it goes to clients as the event's last argument.
	// Empty for packets recovery does not cover.
	Offset string

	// The wire form without an ack id, built once for the parser of the
	// first server that sends the packet (framesFor).
	once      sync.Once
	framesFor Parser
	frames    []engine.Frame
	// The compressed form of frames, made once for the receivers that
	// negotiated WebSocket compression; set once a server that
	// compresses sends the packet.
	deflated atomic.Pointer[engine.Deflated]
}

// NewPacket returns the packet for event with args in namespace nsp.
func NewPacket(nsp, event string, args Args) *Packet {
	return &Packet{Nsp: nsp, Event: event, Args: args}
}

// wire returns the frames of the packet without an ack id for parser pr,
// building them on first use.
func (p *Packet) wire(pr Parser) []engine.Frame {
	p.once.Do(func() { p.frames, p.framesFor = p.encode(pr, sio.NoID), pr })
	if p.framesFor != pr {
		// A packet given to servers of both parsers: the second encodes
		// it every time.
		return p.encode(pr, sio.NoID)
	}
	return p.frames
}

// shared is wire for a server that sends the packet to many: with
// compression on (deflate), it also returns the holder of the frames'
// compressed form (nil otherwise), so that they are compressed once for
// all receivers (engine.Conn.SendShared).
func (p *Packet) shared(pr Parser, deflate bool) ([]engine.Frame, *engine.Deflated) {
	frames := p.wire(pr)
	if !deflate || p.framesFor != pr {
		return frames, nil
	}
	z := p.deflated.Load()
	if z == nil {
		p.deflated.CompareAndSwap(nil, new(engine.Deflated))
		z = p.deflated.Load()
	}
	return frames, z
}

// encode builds the frames of the packet with ack id id (sio.NoID for none).
func (p *Packet) encode(pr Parser, id int64) []engine.Frame {
	if id != sio.NoID {
		// A packet that asks for acks is never recovered.
		return encodeEvent(pr, p.Nsp, id, p.Event, p.Args, "")
	}
	return encodeEvent(pr, p.Nsp, id, p.Event, p.Args, p.Offset)
}

// encodeEvent builds an event packet; a non-empty offset goes last among
// its arguments.
func encodeEvent(pr Parser, nsp string, id int64, event string, args Args, offset string) []engine.Frame {
	if pr == ParserMsgpack {
		b := make([]byte, 0, 32+len(nsp)+len(event)+args.msgpackSize()+len(offset))
		return msgpackFrame(sio.AppendMsgpackEvent(b, nsp, id, event, args.list, args.attachments, offset))
	}
	h := sio.Header{Type: sio.Event, Nsp: nsp, ID: id}
	if n := len(args.attachments); n > 0 {
		h.Type, h.Attachments = sio.BinaryEvent, n
	}
	b := make([]byte, 0, 16+len(nsp)+len(event)+len(args.list)+len(offset))
	b = append(b, '4')
	b = sio.AppendHeader(b, h)
	b = append(b, '[')
	b = jsonstr.Append(b, event)
	if len(args.list) > 0 {
		b = append(b, ',')
		b = append(b, args.list...)
	}
	if offset != "" {
		b = append(b, ',')
		b = jsonstr.Append(b, offset)
	}
	b = append(b, ']')
	return withAttachments(b, args.attachments)
}

// encodeAck appends the frames of an ACK to dst: given a small array of
// the caller's, an ack's frames need no allocation of their own.
func encodeAck(dst []engine.Frame, pr Parser, nsp string, id int64, args Args) []engine.Frame {
	if pr == ParserMsgpack {
		b := make([]byte, 0, 32+len(nsp)+args.msgpackSize())
		return append(dst, engine.Frame{Data: sio.AppendMsgpackAck(b, nsp, id, args.list, args.attachments), Binary: true})
	}
	h := sio.Header{Type: sio.Ack, Nsp: nsp, ID: id}
	if n := len(args.attachments); n > 0 {
		h.Type, h.Attachments = sio.BinaryAck, n
	}
	b := make([]byte, 0, 16+len(nsp)+len(args.list))
	b = append(b, '4')
	b = sio.AppendHeader(b, h)
	b = append(b, '[')
	b = append(b, args.list...)
	b = append(b, ']')
	dst = append(dst, engine.Frame{Data: b})
	for _, a := range args.attachments {
		dst = append(dst, engine.Frame{Data: a, Binary: true})
	}
	return dst
}

// encodeControl builds a CONNECT, DISCONNECT or CONNECT_ERROR packet.
func encodeControl(pr Parser, t sio.Type, nsp string, data []byte) []engine.Frame {
	if pr == ParserMsgpack {
		return msgpackFrame(sio.AppendMsgpackControl(make([]byte, 0, 24+len(nsp)+len(data)), t, nsp, data))
	}
	b := make([]byte, 0, 8+len(nsp)+len(data))
	b = append(b, '4')
	b = sio.AppendHeader(b, sio.Header{Type: t, Nsp: nsp, ID: sio.NoID})
	b = append(b, data...)
	return []engine.Frame{{Data: b}}
}

func withAttachments(text []byte, atts [][]byte) []engine.Frame {
	frames := make([]engine.Frame, 1+len(atts))
	frames[0] = engine.Frame{Data: text}
	for i, a := range atts {
		frames[1+i] = engine.Frame{Data: a, Binary: true}
	}
	return frames
}

// msgpackSize is about what the arguments take in msgpack: less than their
// JSON, plus their binary values in place.
func (a Args) msgpackSize() int {
	n := len(a.list)
	for _, b := range a.attachments {
		n += len(b)
	}
	return n
}
