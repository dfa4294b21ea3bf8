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
// made once and written to all of them (see SendShared).
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
	return d
}

// Deflated holds the compressed form of frames queued on many sessions (a
// broadcast's): made once, by Server.Deflate or else by the first
// SendShared to a session that negotiated compression, and queued as it is
// by the others. The zero value is ready; one Deflated goes with one list
// of frames.
type Deflated struct {
	once   sync.Once
	frames []Frame
}

// of returns the compressed form of frames, making it on first use.
func (z *Deflated) of(d *deflater, frames []Frame) []Frame {
	z.once.Do(func() { z.frames = d.compressed(frames) })
	return z.frames
}

// compressed returns frames with each data frame from the threshold up
// compressed, unless compressing did not make it smaller; frames itself
// when none was.
func (d *deflater) compressed(frames []Frame) []Frame {
	var out []Frame
	for i := range frames {
		f := &frames[i]
		if f.op != 0 || len(f.Data) < d.threshold {
			continue
		}
		data := d.deflate(f.Data)
		if data == nil {
			continue
		}
		if out == nil {
			out = slices.Clone(frames)
		}
		out[i] = Frame{Data: data, Binary: f.Binary, op: rsv1Bit | f.opcode()}
	}
	if out == nil {
		return frames
	}
	return out
}

// compress replaces, in batch (a batch its writer owns), each data frame
// from the threshold up with its compressed form, unless compressing did
// not make it smaller. Frames compressed already (SendShared) are left as
// they are.
func (d *deflater) compress(batch []Frame) {
	n := uint64(0)
	for i := range batch {
		f := &batch[i]
		switch {
		case f.op&rsv1Bit != 0:
			n++
		case f.op != 0 || len(f.Data) < d.threshold:
		default:
			if data := d.deflate(f.Data); data != nil {
				*f = Frame{Data: data, Binary: f.Binary, op: rsv1Bit | f.opcode()}
				n++
			}
		}
	}
	if n > 0 {
		d.sent.Add(n)
	}
}

// Deflate makes the compressed form of frames in z now, when the server
// compresses (nil z: nothing to do), rather than at the first SendShared
// to a session that negotiated compression: a caller about to send frames
// to many sessions under a lock compresses them before taking it. The
// work is wasted if no receiver negotiated compression.
func (s *Server) Deflate(frames []Frame, z *Deflated) {
	if s.deflate != nil && z != nil {
		z.of(s.deflate, frames)
	}
}

// SendShared is Send for frames queued on many sessions, such as a
// broadcast's: z, kept by the caller with frames, holds their compressed
// form (see Deflated). A session that negotiated compression queues that
// form, made once for all; any other queues frames. A nil z is Send.
func (c *Conn) SendShared(frames []Frame, z *Deflated, volatile bool) bool {
	if z != nil && c.srv.deflate != nil && c.v3 == nil {
		c.mu.Lock()
		d := c.deflaterLocked()
		c.mu.Unlock()
		if d != nil {
			frames = z.of(d, frames)
		}
	}
	return c.Send(frames, volatile)
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
	// (SendShared), however many sessions it went to, and one per other
	// frame.
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
