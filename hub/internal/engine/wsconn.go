package engine

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// wsConn reads a server-side WebSocket connection frame by frame. The
// opening handshake is accept.go's; after it, reading is ours: a reading
// goroutine parked in wsConn uses a shallow stack that the runtime can
// shrink to its minimum, and the connection keeps one small buffer instead
// of a WebSocket library's connection state. Writing is writeFrames'.
//
// On a connection that can be read without the runtime's poller (a TCP
// connection on Linux), the read buffer is held only while there is
// something to read: an idle connection waits with none (see wait).
type wsConn struct {
	nc     net.Conn
	rc     syscall.RawConn       // to wait for input without a buffer; nil: buf is kept
	buf    *[readBufferSize]byte // nil while released
	r, n   int                   // buf[r:n] is read and not yet consumed
	rerr   error                 // what the read in wait returned with no data
	limit  int64                 // largest message accepted
	onPing func([]byte)          // a client's ping, to be answered with a pong
	skip   int64                 // unread payload of a frame refused as too big
}

func newWSConn(nc net.Conn, limit int64) *wsConn {
	w := &wsConn{nc: nc, limit: limit}
	if canWaitReadable {
		if sc, ok := nc.(syscall.Conn); ok {
			w.rc, _ = sc.SyscallConn()
		}
	}
	if w.rc == nil {
		w.buf = new([readBufferSize]byte)
	}
	return w
}

// readBufs holds the read buffers of connections that are not reading.
var readBufs = sync.Pool{New: func() any { return new([readBufferSize]byte) }}

// buffered reports how many bytes are read and not yet consumed.
func (w *wsConn) buffered() int { return w.n - w.r }

// fill reads more input into the buffer.
func (w *wsConn) fill() error {
	if err := w.rerr; err != nil {
		w.rerr = nil
		return err
	}
	if w.buf == nil {
		w.buf = readBufs.Get().(*[readBufferSize]byte)
		w.r, w.n = 0, 0
	}
	if w.r > 0 {
		w.n = copy(w.buf[:], w.buf[w.r:w.n])
		w.r = 0
	}
	m, err := w.nc.Read(w.buf[w.n:])
	w.n += m
	if m > 0 {
		return nil // an error comes again on the next read
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

func (w *wsConn) readByte() (byte, error) {
	for w.r == w.n {
		if err := w.fill(); err != nil {
			return 0, err
		}
	}
	b := w.buf[w.r]
	w.r++
	return b, nil
}

// readFull fills p from the buffer and then straight from the connection.
func (w *wsConn) readFull(p []byte) error {
	k := 0
	if w.buf != nil {
		k = copy(p, w.buf[w.r:w.n])
		w.r += k
	}
	if k == len(p) {
		return nil
	}
	if err := w.rerr; err != nil {
		w.rerr = nil
		return err
	}
	_, err := io.ReadFull(w.nc, p[k:])
	return err
}

// discardN reads and drops n bytes.
func (w *wsConn) discardN(n int64) error {
	for n > 0 {
		if w.r == w.n {
			if err := w.fill(); err != nil {
				return err
			}
		}
		k := int64(w.n - w.r)
		if k > n {
			k = n
		}
		w.r += int(k)
		n -= k
	}
	return nil
}

// wait returns when there is input to read (or an error to report). With
// nothing buffered, a connection that can be read directly tries a
// non-blocking read and, if there is nothing, gives its buffer back and
// waits for the descriptor to become readable: what a read through the
// runtime's poller does, without holding the buffer while parked.
func (w *wsConn) wait() {
	if w.buffered() > 0 || w.rerr != nil {
		return
	}
	if w.rc == nil {
		w.rerr = w.fill()
		return
	}
	_ = w.rc.Read(func(fd uintptr) bool {
		if w.buf == nil {
			w.buf = readBufs.Get().(*[readBufferSize]byte)
		}
		m, err := readNonblock(fd, w.buf[:])
		if err == syscall.EAGAIN {
			w.release()
			return false
		}
		w.r, w.n = 0, max(m, 0)
		switch {
		case err != nil:
			w.rerr = &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", err)}
		case m == 0:
			w.rerr = io.EOF
		}
		return true
	})
	// An error of the wait itself (the connection closed, a deadline)
	// comes again from the next read.
}

// release gives the read buffer back if it holds nothing unread.
func (w *wsConn) release() {
	if w.rc == nil || w.buf == nil || w.r < w.n {
		return
	}
	readBufs.Put(w.buf)
	w.buf, w.r, w.n = nil, 0, 0
}

// discard gives the read buffer back, dropping what it holds: reading is
// over.
func (w *wsConn) discard() {
	w.r = w.n
	w.release()
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
			if err := w.readFull(payload); err != nil {
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
		if err := w.readFull(msg[start:]); err != nil {
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
	b0, err := w.readByte()
	if err != nil {
		return
	}
	b1, err := w.readByte()
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
		if err = w.readFull(ext[:2]); err != nil {
			return
		}
		n = int64(binary.BigEndian.Uint16(ext[:2]))
	case 127:
		if err = w.readFull(ext[:8]); err != nil {
			return
		}
		u := binary.BigEndian.Uint64(ext[:8])
		if u>>63 != 0 {
			err = errProtocol
			return
		}
		n = int64(u)
	}
	err = w.readFull(mask[:])
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
	if err := w.discardN(w.skip); err != nil {
		return
	}
	for {
		_, opcode, n, _, err := w.header()
		if err != nil || opcode == opClose {
			return
		}
		if err := w.discardN(n); err != nil {
			return
		}
	}
}
