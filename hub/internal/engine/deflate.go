package engine

import (
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
)

// Deflate configures WebSocket per-message compression (permessage-deflate,
// RFC 7692).
type Deflate struct {
	// Threshold is the smallest message compressed, in bytes (1024, the
	// reference's default, when 0 or less); 1 compresses every message.
	Threshold int
}

// rsv1Bit marks a frame's payload as compressed; it is or'ed into the opcode
// of a frame a writer compressed.
const rsv1Bit = 0x40

// deflater compresses the messages of a server's sessions that negotiated
// permessage-deflate. Every message is compressed on its own (no context
// takeover), so the compressed form of a frame queued on many sessions is
// made once and written to all of them (see Share).
type deflater struct {
	threshold int
	writers   sync.Pool // *flate.Writer, BestSpeed

	compressions atomic.Uint64 // payloads compressed
	sent         atomic.Uint64 // frames written compressed
	received     atomic.Uint64 // compressed messages inflated
}

func newDeflater(cfg *Deflate) *deflater {
	if cfg == nil {
		return nil
	}
	d := &deflater{threshold: cfg.Threshold}
	if d.threshold <= 0 {
		d.threshold = 1024
	}
	d.writers.New = func() any {
		w, _ := flate.NewWriter(nil, flate.BestSpeed)
		return w
	}
	lowerShareThreshold(d.threshold)
	return d
}

// deflated is the compressed form of a shared frame, made by the first
// writer that needs it.
type deflated struct {
	once sync.Once
	data []byte // nil: compressing does not make the payload smaller
}

// Share readies frames that are to be queued on many sessions: when a
// server of the process compresses, each data frame from the smallest
// threshold up gets one compressed form, made by the first writer of a
// compressing session that writes it and written as it is by every other.
// It changes frames in place, which must not have been queued yet, and
// returns them. While no server compresses, it costs one atomic load.
func Share(frames []Frame) []Frame {
	least := int(shareThreshold.Load())
	if least == 0 {
		return frames
	}
	for i := range frames {
		f := &frames[i]
		if f.op == 0 && f.z == nil && len(f.Data) >= least {
			f.z = new(deflated)
		}
	}
	return frames
}

// shareThreshold is the smallest threshold of the process's compressing
// servers; 0 while none compresses. Share is called where frames are
// encoded, which knows nothing of the server they go through.
var shareThreshold atomic.Int64

// lowerShareThreshold makes Share prepare frames of threshold bytes and up.
func lowerShareThreshold(threshold int) {
	for {
		old := shareThreshold.Load()
		if old != 0 && old <= int64(threshold) || shareThreshold.CompareAndSwap(old, int64(threshold)) {
			return
		}
	}
}

// compress replaces, in batch (a batch its writer owns), each data frame
// from the threshold up with its compressed form, unless compressing did
// not make it smaller. A shared frame is compressed once for all its
// sessions.
func (d *deflater) compress(batch []Frame) {
	n := uint64(0)
	for i := range batch {
		f := &batch[i]
		if f.op != 0 || len(f.Data) < d.threshold {
			continue
		}
		var data []byte
		if z := f.z; z != nil {
			z.once.Do(func() { z.data = d.deflate(f.Data) })
			data = z.data
		} else {
			data = d.deflate(f.Data)
		}
		if data != nil {
			*f = Frame{Data: data, Binary: f.Binary, op: rsv1Bit | f.opcode()}
			n++
		}
	}
	if n > 0 {
		d.sent.Add(n)
	}
}

// deflate compresses p on its own, as RFC 7692 (7.2.1) frames it: the
// deflate stream flushed, without its final empty block's 4 bytes. It
// returns nil when the result is not smaller than p.
func (d *deflater) deflate(p []byte) []byte {
	d.compressions.Add(1)
	out := sliceWriter(make([]byte, 0, len(p)/2+16))
	w := d.writers.Get().(*flate.Writer)
	w.Reset(&out)
	_, _ = w.Write(p)
	_ = w.Flush()
	w.Reset(nil) // let go of out
	d.writers.Put(w)
	// Flush ends the stream with an empty stored block, 00 00 ff ff.
	if len(out) < 4 || len(out)-4 >= len(p) {
		return nil
	}
	return out[:len(out)-4]
}

// sliceWriter appends what is written to it.
type sliceWriter []byte

func (w *sliceWriter) Write(p []byte) (int, error) {
	*w = append(*w, p...)
	return len(p), nil
}

// errBadDeflate is a compressed message that does not inflate: the
// connection is failed with 1007, as the reference (ws) does.
var errBadDeflate = errors.New("engine: invalid compressed message")

// inflateTail ends every compressed message: the 4 bytes RFC 7692 has the
// sender remove, and a final empty stored block so that the inflater
// reports the end of the message rather than of its input.
var inflateTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// inflater inflates one message at a time; its inflate state (a 32 KiB
// window and Huffman tables, about 40 KB) is pooled, not kept per session.
type inflater struct {
	src messageReader
	fr  io.ReadCloser // a flate.Resetter
}

var inflaters = sync.Pool{New: func() any {
	in := new(inflater)
	in.fr = flate.NewReader(&in.src)
	return in
}}

// messageReader reads a compressed message and then inflateTail. It is an
// io.ByteReader, so that the inflater reads it without a buffer of its own.
type messageReader struct {
	msg, tail []byte
}

func (r *messageReader) Read(p []byte) (int, error) {
	if len(r.msg) == 0 {
		if len(r.tail) == 0 {
			return 0, io.EOF
		}
		r.msg, r.tail = r.tail, nil
	}
	n := copy(p, r.msg)
	r.msg = r.msg[n:]
	return n, nil
}

func (r *messageReader) ReadByte() (byte, error) {
	if len(r.msg) == 0 {
		if len(r.tail) == 0 {
			return 0, io.EOF
		}
		r.msg, r.tail = r.tail, nil
	}
	c := r.msg[0]
	r.msg = r.msg[1:]
	return c, nil
}

// inflate returns the message compressed in msg. It stops as soon as the
// message grows past limit (errTooBig), so a small message that inflates
// to gigabytes costs at most about twice the limit; its buffer grows with
// what is inflated, never with what msg's size suggests. Data that is not
// deflate is errBadDeflate.
func inflate(msg []byte, limit int64) ([]byte, error) {
	in := inflaters.Get().(*inflater)
	defer func() {
		in.src = messageReader{}
		inflaters.Put(in)
	}()
	in.src = messageReader{msg: msg, tail: inflateTail}
	if err := in.fr.(flate.Resetter).Reset(&in.src, nil); err != nil {
		return nil, err
	}
	// Text compresses to a third or less: start there.
	out := make([]byte, 0, min(limit+1, int64(max(3*len(msg), minGrowth))))
	for {
		if len(out) == cap(out) {
			if int64(len(out)) > limit {
				return nil, errTooBig
			}
			grow := min(limit+1-int64(len(out)), int64(max(len(out), minGrowth)))
			out = slices.Grow(out, int(grow))
		}
		n, err := in.fr.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		if int64(len(out)) > limit {
			return nil, errTooBig
		}
		switch {
		case err == io.EOF:
			return out, nil
		case err != nil:
			return nil, fmt.Errorf("%w: %w", errBadDeflate, err)
		}
	}
}

// deflaterLocked returns the server's compressor when the session's
// WebSocket negotiated compression, else nil. c.mu is held.
func (c *Conn) deflaterLocked() *deflater {
	if c.ws != nil {
		return c.ws.deflate
	}
	return nil
}

// DeflateStats count the work of per-message compression.
type DeflateStats struct {
	// Compressions is the payloads compressed: one per broadcast frame
	// (Share), however many sessions it went to, and one per other frame.
	Compressions uint64
	// Sent is the frames written compressed, one per session.
	Sent uint64
	// Received is the compressed messages received.
	Received uint64
}

// DeflateStats returns the server's compression counters (all zero with
// compression off).
func (s *Server) DeflateStats() DeflateStats {
	d := s.deflate
	if d == nil {
		return DeflateStats{}
	}
	return DeflateStats{Compressions: d.compressions.Load(), Sent: d.sent.Load(), Received: d.received.Load()}
}
