package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// fuzzFrameSeeds are FuzzWSFrames's seeds besides testdata/fuzz: whole,
// fragmented and control frames, at and over the limit.
func fuzzFrameSeeds() []struct {
	in    []byte
	limit uint16
} {
	long := bytes.Repeat([]byte("0123456789"), 500)
	join := func(frames ...[]byte) []byte { return bytes.Join(frames, nil) }
	return []struct {
		in    []byte
		limit uint16
	}{
		{clientFrame(true, opText, []byte("4hello")), 100},
		{join(clientFrame(true, opBinary, []byte{1, 2, 3}), clientFrame(true, opClose, []byte{3, 232})), 100},
		{join(clientFrame(false, opText, long[:4095]), clientFrame(true, opPing, []byte("p")), clientFrame(false, 0, long[:3]), clientFrame(true, 0, long[:900])), 6000},
		{clientFrame(true, opText, long), 5000},
		{clientFrame(true, opText, long), 4999},
		{frameHeader(true, opText, 5000), 6000},
		{append(clientFrame(false, opText, []byte("4")), frameHeader(true, 0, 1<<63-1)...), 1000},
		{frameHeader(true, opText, 999_000), 65535},
		{frameHeader(true, opText, 1<<63), 100},
	}
}

// FuzzWSFrames feeds arbitrary bytes, read in pieces of every size, to the
// frame reader: it must not panic, never return a message over the limit,
// fail only with its own errors or the input's end, and agree with
// refFrames, a reader written for clarity rather than for memory.
func FuzzWSFrames(f *testing.F) {
	for _, s := range fuzzFrameSeeds() {
		f.Add(s.in, s.limit, byte(0))
		f.Add(s.in, s.limit, byte(6))
	}
	f.Fuzz(func(t *testing.T, in []byte, limit uint16, piece byte) {
		w := newWSConn(&readerConn{r: &pieceReader{b: in, n: int(piece) + 1}}, int64(limit))
		var got fuzzFrames
		w.onPing = func(p []byte) { got.pings = append(got.pings, bytes.Clone(p)) }
		for {
			bin, data, err := w.next()
			if err != nil {
				got.err = err
				break
			}
			if len(data) > int(limit) {
				t.Fatalf("a %d-byte message passed the %d-byte limit", len(data), limit)
			}
			got.msgs = append(got.msgs, fuzzMsg{bin, data})
		}
		switch {
		case errors.Is(got.err, errProtocol), errors.Is(got.err, errTooBig), errors.Is(got.err, errPeerClosed):
		case errors.Is(got.err, io.EOF), errors.Is(got.err, io.ErrUnexpectedEOF):
		default:
			t.Fatalf("error %v is none of the reader's", got.err)
		}
		want := refFrames(in, int64(limit))
		if !got.equal(want) {
			t.Fatalf("read %+v, want %+v", got, want)
		}
	})
}

type fuzzMsg struct {
	binary bool
	data   []byte
}

// fuzzFrames is what a reader made of an input.
type fuzzFrames struct {
	msgs  []fuzzMsg
	pings [][]byte
	err   error
}

func (a fuzzFrames) equal(b fuzzFrames) bool {
	if len(a.msgs) != len(b.msgs) || len(a.pings) != len(b.pings) {
		return false
	}
	for i := range a.msgs {
		if a.msgs[i].binary != b.msgs[i].binary || !bytes.Equal(a.msgs[i].data, b.msgs[i].data) {
			return false
		}
	}
	for i := range a.pings {
		if !bytes.Equal(a.pings[i], b.pings[i]) {
			return false
		}
	}
	// Where the input ends mid-frame, io.ReadFull says EOF or
	// ErrUnexpectedEOF depending on what was buffered: the same end.
	truncated := func(err error) bool { return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) }
	return errors.Is(a.err, b.err) || truncated(a.err) && truncated(b.err)
}

// refFrames reads in as RFC 6455 and the frame reader's checks say, all at
// once, up to the first error.
func refFrames(in []byte, limit int64) fuzzFrames {
	var out fuzzFrames
	var op byte
	var msg []byte
	for {
		if len(in) < 2 {
			out.err = io.EOF
			return out
		}
		b0, b1 := in[0], in[1]
		if b0&0x70 != 0 || b1&0x80 == 0 {
			out.err = errProtocol
			return out
		}
		fin, opcode := b0&0x80 != 0, b0&0x0f
		size := 2 + 4
		switch b1 & 0x7f {
		case 126:
			size += 2
		case 127:
			size += 8
		}
		if len(in) < size {
			out.err = io.EOF
			return out
		}
		n := uint64(b1 & 0x7f)
		switch n {
		case 126:
			n = uint64(binary.BigEndian.Uint16(in[2:]))
		case 127:
			n = binary.BigEndian.Uint64(in[2:])
			if n>>63 != 0 {
				out.err = errProtocol
				return out
			}
		}
		key := in[size-4 : size]
		in = in[size:]
		payload := func() []byte {
			p := bytes.Clone(in[:n])
			for i := range p {
				p[i] ^= key[i%4]
			}
			in = in[n:]
			return p
		}
		if opcode >= opClose {
			if !fin || n > 125 {
				out.err = errProtocol
				return out
			}
			if uint64(len(in)) < n {
				out.err = io.EOF
				return out
			}
			p := payload()
			switch opcode {
			case opClose:
				out.err = errPeerClosed
				return out
			case opPing:
				out.pings = append(out.pings, p)
			case opPong:
			default:
				out.err = errProtocol
				return out
			}
			continue
		}
		switch {
		case opcode == 0 && op != 0:
		case (opcode == opText || opcode == opBinary) && op == 0:
			op = opcode
		default:
			out.err = errProtocol
			return out
		}
		if n > uint64(limit)-uint64(len(msg)) {
			out.err = errTooBig
			return out
		}
		if uint64(len(in)) < n {
			out.err = io.EOF
			return out
		}
		msg = append(msg, payload()...)
		if fin {
			if msg == nil {
				msg = []byte{}
			}
			out.msgs = append(out.msgs, fuzzMsg{op == opBinary, msg})
			op, msg = 0, nil
		}
	}
}

// pieceReader reads b at most n bytes at a time.
type pieceReader struct {
	b []byte
	n int
}

func (r *pieceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), r.n)], r.b)
	r.b = r.b[k:]
	return k, nil
}
