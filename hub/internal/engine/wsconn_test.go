package engine

import (
	"net"
	"strings"
	"testing"
	"time"
)

// TestWSConnReleasesBuffer: between messages a TCP connection's reader gives
// its buffer back (on platforms that can wait without one), and the next
// message is read whole, whether it came before or after the wait.
func TestWSConnReleasesBuffer(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	_ = server.SetDeadline(time.Now().Add(10 * time.Second))
	w := newWSConn(server, 1<<20)

	// A masked text frame with a zero mask key, so the payload is as sent.
	frame := func(s string) []byte { return append([]byte{0x81, 0x80 | byte(len(s)), 0, 0, 0, 0}, s...) }
	for i, msg := range []string{"4first", "4second", "4third"} {
		b := frame(msg)
		if i == 2 {
			// Two messages in one write: the second is read from the
			// buffer, without a wait.
			b = append(b, frame("4fourth")...)
		}
		if _, err := client.Write(b); err != nil {
			t.Fatal(err)
		}
		w.wait()
		_, data, err := w.next()
		if err != nil || string(data) != msg {
			t.Fatalf("message %d: %q, %v", i, data, err)
		}
		if i < 2 {
			w.release()
			if canWaitReadable && w.buf != nil {
				t.Fatalf("message %d: buffer kept while nothing is unread", i)
			}
		}
	}
	w.release()
	if w.buf == nil {
		t.Fatal("buffer released with a message unread")
	}
	w.wait()
	if _, data, err := w.next(); err != nil || string(data) != "4fourth" {
		t.Fatalf("last message: %q, %v", data, err)
	}
}

// loopConn is a connection whose input is data, over and over.
type loopConn struct {
	net.Conn
	data []byte
	off  int
}

func (c *loopConn) Read(p []byte) (int, error) {
	n := copy(p, c.data[c.off:])
	c.off = (c.off + n) % len(c.data)
	return n, nil
}

// BenchmarkWSRead reads messages of several sizes, whole and in fragments,
// through the frame reader.
func BenchmarkWSRead(b *testing.B) {
	for _, bc := range []struct {
		name      string
		size      int
		fragments int
	}{
		{"16B", 16, 1},
		{"200B", 200, 1},
		{"4KiB", 4 << 10, 1},
		{"16KiB", 16 << 10, 1},
		{"256KiB", 256 << 10, 1},
		{"16KiB/16frags", 16 << 10, 16},
	} {
		b.Run(bc.name, func(b *testing.B) {
			payload := []byte("4" + strings.Repeat("x", bc.size-1))
			var stream []byte
			step := bc.size / bc.fragments
			for i := 0; i < bc.fragments; i++ {
				var op byte
				if i == 0 {
					op = opText
				}
				stream = append(stream, clientFrame(i == bc.fragments-1, op, payload[i*step:(i+1)*step])...)
			}
			w := newWSConn(&loopConn{data: stream}, 1<<20)
			b.SetBytes(int64(bc.size))
			b.ReportAllocs()
			for b.Loop() {
				if _, data, err := w.next(); err != nil || len(data) != bc.size {
					b.Fatalf("%d bytes, %v", len(data), err)
				}
			}
		})
	}
}
