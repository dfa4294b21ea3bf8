package main

import (
	"bytes"
	"errors"
	"net"
	"sync"
)

// tapConn records every byte read from a connection, so that whoever takes
// the socket over from gorilla (fanout's epoll receivers) can recover what
// gorilla read off the socket but had not parsed yet. Recording stops at
// stop; a client's setup reads a few hundred bytes.
type tapConn struct {
	net.Conn
	mu      sync.Mutex
	read    []byte
	stopped bool
}

func (t *tapConn) Read(p []byte) (int, error) {
	n, err := t.Conn.Read(p)
	t.mu.Lock()
	if !t.stopped {
		t.read = append(t.read, p[:n]...)
	}
	t.mu.Unlock()
	return n, err
}

// stop ends the recording and returns what was read.
func (t *tapConn) stop() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
	return t.read
}

// afterJoinAck returns the bytes of a recorded stream (an HTTP upgrade
// response, then server frames) that follow the first ack with id 0, the
// reply to Client.Join: what gorilla buffered past the last frame it
// parsed.
func afterJoinAck(stream []byte) ([]byte, error) {
	end := bytes.Index(stream, []byte("\r\n\r\n"))
	if end < 0 {
		return nil, errors.New("no HTTP response in the recorded stream")
	}
	b := stream[end+4:]
	for {
		f, n, err := nextWSFrame(b)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, errors.New("no join ack in the recorded stream")
		}
		b = b[n:]
		if id, _, ok := parseAck(f.payload); f.op == wsText && f.fin && ok && id == 0 {
			return b, nil
		}
	}
}
