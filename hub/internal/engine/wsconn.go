package engine

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"time"
)

// wsConn reads a server-side WebSocket connection frame by frame. gorilla
// answers the opening handshake; after it, reading is ours: a reading
// goroutine parked in wsConn uses a shallow stack that the runtime can
// shrink to its minimum, and the connection keeps one small buffer instead
// of gorilla's connection state. Writing is writeFrames'.
//
// On a connection that can be waited on without reading (a TCP connection
// on Linux), the read buffer is held only while there is something to read:
// an idle connection waits with none (see wait and release).
type wsConn struct {
	nc     net.Conn
	rc     syscall.RawConn // to wait for input without a buffer; nil: br is kept
	br     *bufio.Reader   // nil while released
	limit  int64           // largest message accepted
	onPing func([]byte)    // a client's ping, to be answered with a pong
	skip   int64           // unread payload of a frame refused as too big
}

func newWSConn(nc net.Conn, limit int64) *wsConn {
	w := &wsConn{nc: nc, limit: limit}
	if canWaitReadable {
		if sc, ok := nc.(syscall.Conn); ok {
			w.rc, _ = sc.SyscallConn()
		}
	}
	if w.rc == nil {
		w.br = bufio.NewReaderSize(nc, readBufferSize)
	}
	return w
}

// readers holds the read buffers of connections that are not waiting.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferSize) }}

// reader returns the read buffer, taking one if the connection has none.
func (w *wsConn) reader() *bufio.Reader {
	if w.br == nil {
		w.br = readers.Get().(*bufio.Reader)
		w.br.Reset(w.nc)
	}
	return w.br
}

// buffered reports how many bytes are read and not yet consumed.
func (w *wsConn) buffered() int {
	if w.br == nil {
		return 0
	}
	return w.br.Buffered()
}

// wait returns when the connection has input (or an error to report) and
// nothing is left in the buffer. Without a buffer of its own it waits on
// the descriptor, and gives its buffer back first.
func (w *wsConn) wait() {
	if w.buffered() > 0 {
		return
	}
	if w.rc == nil {
		// An error shows again in the next read.
		_, _ = w.br.Peek(1)
		return
	}
	w.release()
	first := true
	_ = w.rc.Read(func(fd uintptr) bool {
		if !first {
			return true // woken: the read that follows sees what came
		}
		first = false
		return !wouldBlock(fd)
	})
}

// release gives the read buffer back when it holds nothing unread.
func (w *wsConn) release() {
	if w.rc == nil || w.br == nil || w.br.Buffered() > 0 {
		return
	}
	w.br.Reset(nil)
	readers.Put(w.br)
	w.br = nil
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
	br := w.reader()
	var op byte // opcode of the message being assembled, 0 before its first frame
	var msg []byte
	for {
		fin, opcode, n, mask, err := w.header(br)
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
			if _, err := io.ReadFull(br, payload); err != nil {
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
		if _, err := io.ReadFull(br, msg[start:]); err != nil {
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
func (w *wsConn) header(br *bufio.Reader) (fin bool, opcode byte, n int64, mask [4]byte, err error) {
	b0, err := br.ReadByte()
	if err != nil {
		return
	}
	b1, err := br.ReadByte()
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
		if _, err = io.ReadFull(br, ext[:2]); err != nil {
			return
		}
		n = int64(binary.BigEndian.Uint16(ext[:2]))
	case 127:
		if _, err = io.ReadFull(br, ext[:8]); err != nil {
			return
		}
		u := binary.BigEndian.Uint64(ext[:8])
		if u>>63 != 0 {
			err = errProtocol
			return
		}
		n = int64(u)
	}
	_, err = io.ReadFull(br, mask[:])
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
	br := w.reader()
	if _, err := io.CopyN(io.Discard, br, w.skip); err != nil {
		return
	}
	for {
		_, opcode, n, _, err := w.header(br)
		if err != nil || opcode == opClose {
			return
		}
		if _, err := io.CopyN(io.Discard, br, n); err != nil {
			return
		}
	}
}
