package engine

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
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
	// deflate is the server's compressor when permessage-deflate was
	// negotiated (nil: it was not): a message may then come compressed
	// (RSV1 on its first frame), and is written so from the threshold up.
	deflate *deflater
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
	if h := testHookReadWait.Load(); h != nil {
		(*h)()
	}
	_, err := io.ReadFull(w.nc, p[k:])
	return err
}

// testHookReadWait, when set, is called each time the reader turns to the
// connection for payload bytes it has not buffered (and for a polling
// body's first read): by then the buffer they go to is allocated, which is
// what the memory tests wait for.
var testHookReadWait atomic.Pointer[func()]

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

// tooBigError is errTooBig for a frame whose payload is still unread, which
// drain drops before it waits for the client's close. (Kept in the error,
// not in wsConn: every connection would pay for it.)
type tooBigError struct{ unread int64 }

func (e *tooBigError) Error() string        { return errTooBig.Error() }
func (e *tooBigError) Is(target error) bool { return target == errTooBig }

// minGrowth is the least a message's buffer grows by: a frame of up to
// minGrowth bytes, the common case, costs one allocation of its size; a
// larger one starts with minGrowth bytes and grows as its bytes arrive.
const minGrowth = 4 << 10

// next returns the next data message: control frames in between are
// handled (pings answered through onPing, pongs ignored), fragments are
// joined, a compressed message is inflated. A close frame from the peer is
// errPeerClosed.
//
// Lengths come from the client: a message is refused (errTooBig) before
// anything is allocated for it when its frames announce more than the
// limit, and the buffer of one within the limit grows with the bytes that
// arrive, never with what a header announces. A compressed message is
// held to the limit twice: as it arrives and as it inflates.
func (w *wsConn) next() (binary bool, data []byte, err error) {
	var op byte // opcode of the message being assembled, 0 before its first frame
	var msg []byte
	compressed := false
	for {
		fin, rsv1, opcode, n, mask, err := w.header()
		if err != nil {
			return false, nil, err
		}
		if opcode >= opClose {
			if !fin || n > 125 || rsv1 {
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
			// RSV1 belongs to a message's first frame only (RFC 7692, 6).
			if op == 0 || rsv1 {
				return false, nil, errProtocol
			}
		case opText, opBinary:
			if op != 0 {
				return false, nil, errProtocol
			}
			op, compressed = opcode, rsv1
		default:
			return false, nil, errProtocol
		}
		// len(msg) <= w.limit: the difference cannot overflow, where a
		// sum with a length near 2^63 would.
		if n > w.limit-int64(len(msg)) {
			return false, nil, &tooBigError{unread: n}
		}
		if msg, err = w.appendPayload(msg, n, mask); err != nil {
			return false, nil, err
		}
		if fin {
			if compressed {
				w.deflate.received.Add(1)
				msg, err = inflate(msg, w.limit)
			}
			return op == opBinary, msg, err
		}
	}
}

// appendPayload reads a frame's n payload bytes, unmasked, onto msg. msg
// grows only once it is full, by what is left of the frame or, if that is
// more, by max(len(msg), minGrowth): what is allocated stays within about
// twice what arrived (plus minGrowth), and a frame that announces a
// megabyte and sends nothing holds minGrowth bytes, not a megabyte.
func (w *wsConn) appendPayload(msg []byte, n int64, mask [4]byte) ([]byte, error) {
	pos := 0 // key offset of the next byte
	for n > 0 {
		if len(msg) == cap(msg) {
			msg = slices.Grow(msg, int(min(n, int64(max(len(msg), minGrowth)))))
		}
		start := len(msg)
		msg = msg[:start+int(min(n, int64(cap(msg)-start)))]
		if err := w.readFull(msg[start:]); err != nil {
			return nil, err
		}
		unmask(msg[start:], mask, pos)
		k := len(msg) - start
		pos = (pos + k) & 3
		n -= int64(k)
	}
	return msg, nil
}

// maxHeader is the longest client frame header: 2 bytes, a 64-bit length
// and the mask key.
const maxHeader = 2 + 8 + 4

// ensure buffers at least k bytes (k <= maxHeader).
func (w *wsConn) ensure(k int) error {
	for w.n-w.r < k {
		if err := w.fill(); err != nil {
			return err
		}
	}
	return nil
}

// header reads a frame header. Client frames must be masked and use no
// extension bits but RSV1, and that one only when permessage-deflate was
// negotiated. It reads through the buffer only, so that nothing it reads
// into escapes to the heap.
func (w *wsConn) header() (fin, rsv1 bool, opcode byte, n int64, mask [4]byte, err error) {
	if err = w.ensure(2); err != nil {
		return
	}
	b0, b1 := w.buf[w.r], w.buf[w.r+1]
	rsv := b0 & 0x70
	if rsv != 0 && (rsv != rsv1Bit || w.deflate == nil) || b1&0x80 == 0 {
		err = errProtocol
		return
	}
	fin, rsv1, opcode = b0&0x80 != 0, rsv != 0, b0&0x0f
	size := 2 + 4
	switch b1 & 0x7f {
	case 126:
		size += 2
	case 127:
		size += 8
	}
	if err = w.ensure(size); err != nil {
		return
	}
	h := w.buf[w.r : w.r+size]
	w.r += size
	switch n = int64(b1 & 0x7f); n {
	case 126:
		n = int64(binary.BigEndian.Uint16(h[2:4]))
	case 127:
		u := binary.BigEndian.Uint64(h[2:10])
		if u>>63 != 0 {
			err = errProtocol
			return
		}
		n = int64(u)
	}
	copy(mask[:], h[size-4:])
	return
}

// unmask XORs b with the mask key, starting at key offset pos, eight bytes
// at a time.
func unmask(b []byte, key [4]byte, pos int) {
	var k [4]byte
	for i := range k {
		k[i] = key[(pos+i)&3]
	}
	if len(b) >= 8 {
		k32 := uint64(binary.LittleEndian.Uint32(k[:]))
		k64 := k32<<32 | k32
		for len(b) >= 8 {
			binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k64)
			b = b[8:]
		}
	}
	for i := range b {
		b[i] ^= k[i&3]
	}
}

// drain reads and drops what is left of the frame being read (unread
// bytes), then frames until the peer's close frame, an error or the
// timeout.
func (w *wsConn) drain(unread int64, timeout time.Duration) {
	_ = w.nc.SetReadDeadline(time.Now().Add(timeout))
	if err := w.discardN(unread); err != nil {
		return
	}
	for {
		_, _, opcode, n, _, err := w.header()
		if err != nil || opcode == opClose {
			return
		}
		if err := w.discardN(n); err != nil {
			return
		}
	}
}
