package engine

import (
	"encoding/binary"
	"net"
	"sync"
	"time"

	"github.com/hubd/hubd/hub/internal/eio"
)

// Frame is one outgoing Engine.IO packet. A text frame's Data is the whole
// text packet, type digit included ("4..."); a binary frame's Data is the raw
// message. Frames are never modified once queued, so one Frame may be queued
// on many sessions.
type Frame struct {
	Data   []byte
	Binary bool
	op     byte // a control opcode (pong, close), or rsv1Bit and the opcode of a compressed frame
}

// Text returns a text frame for a packet of type t with data.
func Text(t eio.Type, data []byte) Frame {
	return Frame{Data: eio.AppendText(make([]byte, 0, 1+len(data)), t, data)}
}

var (
	pingFrame = Frame{Data: []byte("2")}
	noopFrame = Frame{Data: []byte("6")}
)

// WebSocket opcodes.
const (
	opText   = 1
	opBinary = 2
	opClose  = 8
	opPing   = 9
	opPong   = 10
)

func (f *Frame) opcode() byte {
	switch {
	case f.op != 0:
		return f.op
	case f.Binary:
		return opBinary
	default:
		return opText
	}
}

// appendFrameHeader appends an unmasked, final WebSocket frame header.
func appendFrameHeader(dst []byte, op byte, n int) []byte {
	dst = append(dst, 0x80|op)
	switch {
	case n < 126:
		return append(dst, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(dst, 126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(dst, 127), uint64(n))
	}
}

// copyLimit is the batch size under which frames are copied into one buffer
// rather than handed to writev.
const copyLimit = 64 << 10

var batchPool = sync.Pool{New: func() any { b := make([]byte, 0, copyLimit); return &b }}

// writeFrames writes prefix (raw bytes, may be nil) and then frames as
// WebSocket frames in as few system calls as it can: small batches are
// copied into one buffer, large ones go to writev. A zero timeout leaves
// the connection's write deadline as it is.
func writeFrames(c net.Conn, prefix []byte, frames []Frame, timeout time.Duration) error {
	if timeout > 0 {
		if err := c.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
			return err
		}
	}
	total := len(prefix)
	for i := range frames {
		total += len(frames[i].Data) + 10
	}
	if total <= copyLimit {
		bp := batchPool.Get().(*[]byte)
		buf := appendFrames((*bp)[:0], prefix, frames)
		_, err := c.Write(buf)
		*bp = buf[:0]
		batchPool.Put(bp)
		return err
	}
	headers := make([]byte, 0, 10*len(frames))
	bufs := make(net.Buffers, 0, 1+2*len(frames))
	if prefix != nil {
		bufs = append(bufs, prefix)
	}
	for i := range frames {
		f := &frames[i]
		start := len(headers)
		headers = appendFrameHeader(headers, f.opcode(), len(f.Data))
		bufs = append(bufs, headers[start:len(headers):len(headers)], f.Data)
	}
	_, err := bufs.WriteTo(c)
	return err
}

// appendFrames appends prefix and then frames as WebSocket frames.
func appendFrames(dst, prefix []byte, frames []Frame) []byte {
	dst = append(dst, prefix...)
	for i := range frames {
		f := &frames[i]
		dst = appendFrameHeader(dst, f.opcode(), len(f.Data))
		dst = append(dst, f.Data...)
	}
	return dst
}

// appendPayload appends frames as a polling payload.
func appendPayload(dst []byte, frames []Frame) []byte {
	for i := range frames {
		if i > 0 {
			dst = append(dst, eio.Separator)
		}
		if frames[i].Binary {
			dst = eio.AppendPayloadBinary(dst, frames[i].Data)
		} else {
			dst = append(dst, frames[i].Data...)
		}
	}
	return dst
}
