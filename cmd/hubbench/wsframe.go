package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
)

// A WebSocket frame reader for the epoll receivers (-receivers-io epoll),
// which read raw bytes off many connections and cannot use gorilla's
// per-connection reader. It understands what a server may send a client
// (RFC 6455 §5): unmasked frames, 7-, 16- and 64-bit lengths, fragmented
// messages and control frames between fragments. Extensions are never
// negotiated by the dialer, so RSV bits must be clear.

// WebSocket opcodes.
const (
	wsContinuation = 0x0
	wsText         = 0x1
	wsBinary       = 0x2
	wsClose        = 0x8
	wsPing         = 0x9
	wsPong         = 0xA
)

// maxWSMessage bounds one frame's payload and one reassembled message; the
// bench payloads are a few hundred bytes, so anything near it is a fault.
const maxWSMessage = 16 << 20

// errWSClosed is returned when the server sends a close frame.
var errWSClosed = errors.New("websocket closed by server")

// wsFrame is one parsed frame; payload aliases the input.
type wsFrame struct {
	fin     bool
	op      byte
	payload []byte
}

// nextWSFrame parses the frame at the start of b. It returns the number of
// bytes the frame takes, or 0 when b holds only part of it.
func nextWSFrame(b []byte) (f wsFrame, n int, err error) {
	if len(b) < 2 {
		return f, 0, nil
	}
	if b[0]&0x70 != 0 {
		return f, 0, fmt.Errorf("frame with RSV bits %#x: no extension was negotiated", b[0]&0x70)
	}
	if b[1]&0x80 != 0 {
		return f, 0, errors.New("masked frame from the server")
	}
	f.fin = b[0]&0x80 != 0
	f.op = b[0] & 0x0F
	size, hdr := uint64(b[1]&0x7F), 2
	switch size {
	case 126:
		if len(b) < 4 {
			return f, 0, nil
		}
		size, hdr = uint64(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		if len(b) < 10 {
			return f, 0, nil
		}
		size, hdr = binary.BigEndian.Uint64(b[2:]), 10
	}
	if size > maxWSMessage {
		return f, 0, fmt.Errorf("frame of %d bytes: more than the %d allowed", size, maxWSMessage)
	}
	if f.op >= wsClose && (size > 125 || !f.fin) {
		return f, 0, fmt.Errorf("control frame %#x of %d bytes, fin %v", f.op, size, f.fin)
	}
	if uint64(len(b)-hdr) < size {
		return f, 0, nil
	}
	end := hdr + int(size)
	f.payload = b[hdr:end]
	return f, end, nil
}

// wsSink receives what a wsReader parses.
type wsSink interface {
	// text gets every complete text message; the bytes are valid only
	// during the call. An error stops the feed and is returned by it.
	text(msg []byte) error
	// ping gets the payload of every ping frame, to be echoed in a pong.
	ping(payload []byte) error
}

// wsReader turns the bytes of one connection, in chunks of any size, into
// messages. The zero value is ready to use.
type wsReader struct {
	pending []byte // the start of a frame whose end has not arrived
	frag    []byte // the fragments of a message seen so far
	inFrag  bool   // a fragmented message is under way
	fragOp  byte   // its opcode
}

// feed parses data, after whatever an earlier feed left unparsed, and hands
// every complete message and ping to sink. It stops at the first error: a
// protocol violation, a close frame (errWSClosed) or one from sink.
func (r *wsReader) feed(data []byte, sink wsSink) error {
	buf := data
	if len(r.pending) > 0 {
		r.pending = append(r.pending, data...)
		buf = r.pending
	}
	off := 0
	for off < len(buf) {
		f, n, err := nextWSFrame(buf[off:])
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
		off += n
		if err := r.frame(f, sink); err != nil {
			return err
		}
	}
	rest := buf[off:]
	if len(r.pending) > 0 {
		r.pending = r.pending[:copy(r.pending, rest)]
	} else {
		r.pending = append(r.pending[:0], rest...)
	}
	return nil
}

// frame handles one parsed frame.
func (r *wsReader) frame(f wsFrame, sink wsSink) error {
	switch f.op {
	case wsPing:
		return sink.ping(f.payload)
	case wsPong:
		return nil
	case wsClose:
		return errWSClosed
	case wsText, wsBinary:
		if r.inFrag {
			return errors.New("new message inside a fragmented one")
		}
		if f.fin {
			if f.op == wsText {
				return sink.text(f.payload)
			}
			return nil // the bench contract never sends binary
		}
		r.inFrag, r.fragOp = true, f.op
		r.frag = append(r.frag[:0], f.payload...)
		return nil
	case wsContinuation:
		if !r.inFrag {
			return errors.New("continuation frame outside a fragmented message")
		}
		if len(r.frag)+len(f.payload) > maxWSMessage {
			return fmt.Errorf("message of more than %d bytes", maxWSMessage)
		}
		r.frag = append(r.frag, f.payload...)
		if !f.fin {
			return nil
		}
		r.inFrag = false
		if r.fragOp == wsText {
			return sink.text(r.frag)
		}
		return nil
	default:
		return fmt.Errorf("unknown opcode %#x", f.op)
	}
}

// appendMaskedFrame appends one final frame with opcode op and payload,
// masked as a client's frames must be (RFC 6455 §5.3). The payload must be
// shorter than 126 bytes: pongs and Engine.IO pongs are.
func appendMaskedFrame(dst []byte, op byte, payload []byte) []byte {
	var key [4]byte
	binary.LittleEndian.PutUint32(key[:], rand.Uint32())
	dst = append(dst, 0x80|op, 0x80|byte(len(payload)))
	dst = append(dst, key[:]...)
	for i, c := range payload {
		dst = append(dst, c^key[i&3])
	}
	return dst
}
