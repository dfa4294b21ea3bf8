package engine

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"time"
)

// wsConn reads a server-side WebSocket connection frame by frame. gorilla
// answers the opening handshake; after it, reading is ours: a reading
// goroutine parked in wsConn uses a shallow stack that the runtime can
// shrink to its minimum, and the connection keeps one small buffer instead
// of gorilla's connection state. Writing is writeFrames'.
type wsConn struct {
	nc     net.Conn
	br     *bufio.Reader
	limit  int64        // largest message accepted
	onPing func([]byte) // a client's ping, to be answered with a pong
	skip   int64        // unread payload of a frame refused as too big
}

func newWSConn(nc net.Conn, limit int64) *wsConn {
	return &wsConn{nc: nc, br: bufio.NewReaderSize(nc, readBufferSize), limit: limit}
}

// Errors of the frame reader.
var (
	errProtocol   = errors.New("engine: websocket protocol error")
	errPeerClosed = errors.New("engine: websocket closed by the peer")
	errTooBig     = errors.New("engine: message too big")
)

// next returns the next data message: control frames in between are
// handled (pings answered through onPing, pongs ignored), fragments are
// joined. A close frame from the peer is errPeerClosed.
func (w *wsConn) next() (binary bool, data []byte, err error) {
	var op byte // opcode of the message being assembled, 0 before its first frame
	var msg []byte
	for {
		fin, opcode, n, mask, err := w.header()
		if err != nil {
			return false, nil, err
		}
		if opcode >= opClose {
			if !fin || n > 125 {
				return false, nil, errProtocol
			}
			// Heap, not stack: a big frame here would keep the parked
			// reader's stack from shrinking.
			payload := make([]byte, n)
			if _, err := io.ReadFull(w.br, payload); err != nil {
				return false, nil, err
			}
			unmask(payload, mask, 0)
			switch opcode {
			case opClose:
				return false, nil, errPeerClosed
			case opPing:
				if w.onPing != nil {
					w.onPing(payload)
				}
			case opPong:
			default:
				return false, nil, errProtocol
			}
			continue
		}
		switch opcode {
		case 0:
			if op == 0 {
				return false, nil, errProtocol
			}
		case opText, opBinary:
			if op != 0 {
				return false, nil, errProtocol
			}
			op = opcode
		default:
			return false, nil, errProtocol
		}
		if int64(len(msg))+n > w.limit {
			w.skip = n
			return false, nil, errTooBig
		}
		start := len(msg)
		if msg == nil && fin {
			msg = make([]byte, n) // the common case: one frame, one allocation
		} else {
			msg = append(msg, make([]byte, n)...)
		}
		if _, err := io.ReadFull(w.br, msg[start:]); err != nil {
			return false, nil, err
		}
		unmask(msg[start:], mask, 0)
		if fin {
			return op == opBinary, msg, nil
		}
	}
}

// header reads a frame header. Client frames must be masked and use no
// extension bits.
func (w *wsConn) header() (fin bool, opcode byte, n int64, mask [4]byte, err error) {
	b0, err := w.br.ReadByte()
	if err != nil {
		return
	}
	b1, err := w.br.ReadByte()
	if err != nil {
		return
	}
	if b0&0x70 != 0 || b1&0x80 == 0 {
		err = errProtocol
		return
	}
	fin, opcode = b0&0x80 != 0, b0&0x0f
	n = int64(b1 & 0x7f)
	var ext [8]byte
	switch n {
	case 126:
		if _, err = io.ReadFull(w.br, ext[:2]); err != nil {
			return
		}
		n = int64(binary.BigEndian.Uint16(ext[:2]))
	case 127:
		if _, err = io.ReadFull(w.br, ext[:8]); err != nil {
			return
		}
		u := binary.BigEndian.Uint64(ext[:8])
		if u>>63 != 0 {
			err = errProtocol
			return
		}
		n = int64(u)
	}
	_, err = io.ReadFull(w.br, mask[:])
	return
}

// unmask XORs b with the mask key, starting at key offset pos.
func unmask(b []byte, key [4]byte, pos int) {
	for i := range b {
		b[i] ^= key[(pos+i)&3]
	}
}

// drain reads and drops frames until the peer's close frame, an error or
// the timeout.
func (w *wsConn) drain(timeout time.Duration) {
	_ = w.nc.SetReadDeadline(time.Now().Add(timeout))
	if _, err := io.CopyN(io.Discard, w.br, w.skip); err != nil {
		return
	}
	for {
		_, opcode, n, _, err := w.header()
		if err != nil || opcode == opClose {
			return
		}
		if _, err := io.CopyN(io.Discard, w.br, n); err != nil {
			return
		}
	}
}
