package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// serverFrame builds a frame as a server sends it: unmasked, with the
// payload length in the given width (7, 16 or 64 bits; the wider ones may
// hold small lengths, which a parser must accept too).
func serverFrame(fin bool, op byte, payload []byte, width int) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	switch width {
	case 7:
		out = append(out, byte(len(payload)))
	case 16:
		out = append(out, 126)
		out = binary.BigEndian.AppendUint16(out, uint16(len(payload)))
	case 64:
		out = append(out, 127)
		out = binary.BigEndian.AppendUint64(out, uint64(len(payload)))
	}
	return append(out, payload...)
}

// sinkLog records what a wsReader hands on, in order.
type sinkLog struct{ got []string }

func (s *sinkLog) text(msg []byte) error {
	s.got = append(s.got, "text:"+string(msg))
	return nil
}

func (s *sinkLog) ping(p []byte) error {
	s.got = append(s.got, "ping:"+string(p))
	return nil
}

// frameStream is a stream with every kind of frame a server may send: 7-,
// 16- and 64-bit lengths, a ping between two messages and another between
// the fragments of one, a pong, a binary message and an empty message.
func frameStream() (stream []byte, want []string) {
	long := strings.Repeat("x", 300)
	frames := [][]byte{
		serverFrame(true, wsText, []byte(`42["msg",{"t":1,"s":0}]`), 7),
		serverFrame(true, wsPing, []byte("p1"), 7),
		serverFrame(true, wsText, []byte(long), 16),
		serverFrame(true, wsText, []byte("short in 64"), 64),
		serverFrame(false, wsText, []byte("frag-"), 7),
		serverFrame(true, wsPing, nil, 7),
		serverFrame(false, wsContinuation, []byte("ment"), 16),
		serverFrame(true, wsContinuation, []byte("ed"), 7),
		serverFrame(true, wsPong, []byte("x"), 7),
		serverFrame(true, wsBinary, []byte{1, 2, 3}, 7),
		serverFrame(true, wsText, nil, 7),
		serverFrame(true, wsText, []byte("2"), 7),
	}
	want = []string{`text:42["msg",{"t":1,"s":0}]`, "ping:p1", "text:" + long, "text:short in 64",
		"ping:", "text:frag-mented", "text:", "text:2"}
	return bytes.Join(frames, nil), want
}

// feedChunks feeds stream to a new wsReader cut at the given offsets.
func feedChunks(t *testing.T, stream []byte, cuts ...int) []string {
	t.Helper()
	var r wsReader
	log := &sinkLog{}
	prev := 0
	for _, c := range append(cuts, len(stream)) {
		// A copy, so that the reader cannot keep pointers into the chunk.
		chunk := bytes.Clone(stream[prev:c])
		if err := r.feed(chunk, log); err != nil {
			t.Fatalf("cuts %v: feed: %v", cuts, err)
		}
		clear(chunk)
		prev = c
	}
	if len(r.pending) != 0 || r.inFrag {
		t.Fatalf("cuts %v: %d bytes pending, in fragment %v after the whole stream", cuts, len(r.pending), r.inFrag)
	}
	return log.got
}

func TestWSReaderWholeStream(t *testing.T) {
	stream, want := frameStream()
	if got := feedChunks(t, stream); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

// TestWSReaderSplitEverywhere cuts the stream at every byte boundary, then
// at every pair of boundaries, then byte by byte.
func TestWSReaderSplitEverywhere(t *testing.T) {
	stream, want := frameStream()
	for i := 0; i <= len(stream); i++ {
		if got := feedChunks(t, stream, i); !reflect.DeepEqual(got, want) {
			t.Fatalf("cut at %d: got %q\nwant %q", i, got, want)
		}
	}
	for i := 0; i <= len(stream); i += 7 {
		for j := i; j <= len(stream); j++ {
			if got := feedChunks(t, stream, i, j); !reflect.DeepEqual(got, want) {
				t.Fatalf("cuts at %d, %d: got %q", i, j, got)
			}
		}
	}
	every := make([]int, 0, len(stream))
	for i := 1; i < len(stream); i++ {
		every = append(every, i)
	}
	if got := feedChunks(t, stream, every...); !reflect.DeepEqual(got, want) {
		t.Fatalf("byte by byte: got %q", got)
	}
}

// TestWSReaderLongFrame: a 64-bit length for a payload that needs it, cut
// inside the header, inside the payload and just before its end.
func TestWSReaderLongFrame(t *testing.T) {
	payload := bytes.Repeat([]byte("y"), 70000)
	stream := append(serverFrame(true, wsText, payload, 64), serverFrame(true, wsText, []byte("after"), 7)...)
	want := []string{"text:" + string(payload), "text:after"}
	for _, cut := range []int{1, 2, 5, 9, 10, 11, 4096, 65536, 70009, 70010, 70011, len(stream) - 1} {
		if got := feedChunks(t, stream, cut); !reflect.DeepEqual(got, want) {
			t.Fatalf("cut at %d: wrong messages", cut)
		}
	}
}

func TestWSReaderErrors(t *testing.T) {
	masked := serverFrame(true, wsText, []byte("hi"), 7)
	masked[1] |= 0x80
	masked = append(masked[:2], append([]byte{0, 0, 0, 0}, masked[2:]...)...)
	huge := []byte{0x81, 127}
	huge = binary.BigEndian.AppendUint64(huge, 1<<63)
	tests := []struct {
		name   string
		stream []byte
		want   error // nil: any error
	}{
		{"close", serverFrame(true, wsClose, []byte{3, 232}, 7), errWSClosed},
		{"masked", masked, nil},
		{"rsv", []byte{0xC1, 0}, nil},
		{"huge", huge, nil},
		{"long control", serverFrame(true, wsPing, make([]byte, 126), 16), nil},
		{"fragmented control", serverFrame(false, wsPing, nil, 7), nil},
		{"stray continuation", serverFrame(true, wsContinuation, []byte("x"), 7), nil},
		{"message inside fragment", append(serverFrame(false, wsText, []byte("a"), 7), serverFrame(true, wsText, []byte("b"), 7)...), nil},
		{"unknown opcode", serverFrame(true, 0x3, nil, 7), nil},
	}
	for _, tt := range tests {
		var r wsReader
		err := r.feed(tt.stream, &sinkLog{})
		if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("%s: err %v; want %v", tt.name, err, cmpOr(tt.want, "an error"))
		}
	}
}

func cmpOr(err error, s string) any {
	if err != nil {
		return err
	}
	return s
}

// TestWSReaderSinkError: an error from the sink stops the feed.
func TestWSReaderSinkError(t *testing.T) {
	stop := errors.New("stop")
	stream := append(serverFrame(true, wsText, []byte("1"), 7), serverFrame(true, wsText, []byte("2"), 7)...)
	var r wsReader
	s := &stoppingSink{err: stop}
	if err := r.feed(stream, s); !errors.Is(err, stop) || s.n != 1 {
		t.Fatalf("err %v after %d messages; want stop after 1", err, s.n)
	}
}

type stoppingSink struct {
	n   int
	err error
}

func (s *stoppingSink) text([]byte) error { s.n++; return s.err }
func (s *stoppingSink) ping([]byte) error { return nil }

// TestAppendMaskedFrame: the frame is final, masked, and unmasks to the
// payload.
func TestAppendMaskedFrame(t *testing.T) {
	for _, payload := range [][]byte{nil, []byte("3"), bytes.Repeat([]byte("z"), 125)} {
		f := appendMaskedFrame(nil, wsPong, payload)
		if f[0] != 0x80|wsPong || f[1] != 0x80|byte(len(payload)) || len(f) != 6+len(payload) {
			t.Fatalf("header % x for %d bytes", f[:2], len(payload))
		}
		key, got := f[2:6], bytes.Clone(f[6:])
		for i := range got {
			got[i] ^= key[i&3]
		}
		if !bytes.Equal(got, payload) {
			t.Fatalf("unmasked %q; want %q", got, payload)
		}
	}
}

func TestAfterJoinAck(t *testing.T) {
	head := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
	frames := func(msgs ...string) string {
		var b []byte
		for _, m := range msgs {
			b = append(b, serverFrame(true, wsText, []byte(m), 7)...)
		}
		return string(b)
	}
	tests := []struct {
		stream, rest string
		ok           bool
	}{
		{head + frames(`0{"sid":"a"}`, `40{"sid":"b"}`, `430[]`), "", true},
		{head + frames(`0{}`, `40{}`, `2`, `430`, `2`) + "\x81", frames(`2`) + "\x81", true},
		{head + frames(`0{}`, `40{}`), "", false},
		{frames(`430`), "", false},
	}
	for i, tt := range tests {
		rest, err := afterJoinAck([]byte(tt.stream))
		if (err == nil) != tt.ok || string(rest) != tt.rest {
			t.Errorf("%d: rest %q, err %v; want %q, ok %v", i, rest, err, tt.rest, tt.ok)
		}
	}
}
