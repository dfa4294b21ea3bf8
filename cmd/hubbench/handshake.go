package main

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"time"
)

// handshaker opens and closes Socket.IO sessions for the connect scenario
// with as little client work as it can, so that the load generator, which
// shares the cores with the server, takes less of them: one write for the
// HTTP upgrade request, reads into a buffer the worker reuses, no HTTP or
// WebSocket library state per connection, and no TCP keep-alive set up (a
// connection lives for milliseconds). Each connection still does the whole
// exchange, checked: TCP connect, WebSocket handshake (101 and the
// Sec-WebSocket-Accept answer to a random key), the Engine.IO open packet,
// a masked `40` CONNECT and the server's CONNECT reply, then close.
// One handshaker belongs to one worker.
type handshaker struct {
	addr    string // host:port
	request []byte // the upgrade request up to the key header's value
	connect []byte // the Engine.IO message carrying the CONNECT packet
	timeout time.Duration
	dialer  net.Dialer

	rng *rand.ChaCha8
	buf []byte // read buffer
	out []byte // write buffer
}

// newHandshaker returns a handshaker for the ws:// endpoint wsURL, or an
// error for a URL it does not handle (wss).
func newHandshaker(wsURL string, auth []byte, timeout time.Duration) (*handshaker, error) {
	u, err := url.Parse(wsURL)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "ws" {
		return nil, fmt.Errorf("lean handshake: scheme %q not supported", u.Scheme)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "80")
	}
	req := fmt.Appendf(nil, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ",
		u.RequestURI(), u.Host)
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], uint64(time.Now().UnixNano()))
	binary.LittleEndian.PutUint64(seed[8:], rand.Uint64())
	return &handshaker{
		addr:    host,
		request: req,
		connect: appendConnect(nil, auth),
		timeout: timeout,
		dialer:  net.Dialer{Timeout: timeout, KeepAlive: -1},
		rng:     rand.NewChaCha8(seed),
		buf:     make([]byte, 4096),
	}, nil
}

var acceptGUID = []byte("258EAFA5-E914-47DA-95CA-C5AB0DC85B11")

// run opens one session, waits for the CONNECT reply and closes it.
func (h *handshaker) run(ctx context.Context) error {
	nc, err := h.dialer.DialContext(ctx, "tcp", h.addr)
	if err != nil {
		return inStage("dial", err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(h.timeout))

	var raw [16]byte
	h.rng.Read(raw[:])
	var key [24]byte
	base64.StdEncoding.Encode(key[:], raw[:])
	h.out = append(append(append(h.out[:0], h.request...), key[:]...), "\r\n\r\n"...)
	if _, err := nc.Write(h.out); err != nil {
		return inStage("dial", err)
	}
	rest, err := h.readResponse(nc, key[:])
	if err != nil {
		return inStage("dial", err)
	}
	r := frameReader{nc: nc, buf: h.buf, data: rest}
	open, err := r.next()
	if err == nil && (len(open) == 0 || open[0] != eioOpen) {
		err = fmt.Errorf("unexpected frame %q", clip(open))
	}
	if err != nil {
		return inStage("open", err)
	}
	h.out = appendMaskedText(h.out[:0], h.connect, uint32(h.rng.Uint64()))
	if _, err := nc.Write(h.out); err != nil {
		return inStage("connect", err)
	}
	for {
		f, err := r.next()
		if err != nil {
			return inStage("connect", err)
		}
		switch {
		case sioType(f) == sioConnect:
			return nil
		case sioType(f) == sioConnectError:
			return inStage("connect", fmt.Errorf("refused: %q", clip(f)))
		case len(f) > 0 && f[0] == eioClose, sioType(f) == sioDisconnect:
			return inStage("connect", errors.New("closed by server"))
		}
	}
}

// readResponse reads the HTTP response to the upgrade request into h.buf,
// checks it accepts key, and returns the bytes that followed it.
func (h *handshaker) readResponse(nc net.Conn, key []byte) ([]byte, error) {
	n := 0
	for {
		if n == len(h.buf) {
			return nil, errors.New("response header too long")
		}
		m, err := nc.Read(h.buf[n:])
		n += m
		if end := bytes.Index(h.buf[:n], []byte("\r\n\r\n")); end >= 0 {
			if err := checkUpgradeResponse(h.buf[:end+2], key); err != nil {
				return nil, err
			}
			return h.buf[end+4 : n], nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// checkUpgradeResponse checks a response header block (status line and
// header lines, each ending in CRLF) for 101 and the accept value of key.
func checkUpgradeResponse(head, key []byte) error {
	line, head, _ := bytes.Cut(head, []byte("\r\n"))
	if !bytes.HasPrefix(line, []byte("HTTP/1.1 101 ")) {
		if len(line) >= 12 && bytes.HasPrefix(line, []byte("HTTP/1.")) {
			return fmt.Errorf("websocket handshake refused: HTTP %s", line[9:12])
		}
		return fmt.Errorf("bad response %q", clip(line))
	}
	s := sha1.New()
	s.Write(key)
	s.Write(acceptGUID)
	var sum [sha1.Size]byte
	var want [28]byte
	base64.StdEncoding.Encode(want[:], s.Sum(sum[:0]))
	for len(head) > 0 {
		line, head, _ = bytes.Cut(head, []byte("\r\n"))
		name, value, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.EqualFold(name, []byte("Sec-WebSocket-Accept")) {
			if !bytes.Equal(bytes.TrimSpace(value), want[:]) {
				return errors.New("bad Sec-WebSocket-Accept")
			}
			return nil
		}
	}
	return errors.New("no Sec-WebSocket-Accept")
}

// frameReader reads unmasked server frames from nc through buf; data holds
// the bytes already read and not yet consumed. Text frames are returned
// (valid until the next call); binary, ping and pong frames are skipped, a
// close frame is an error. Messages must fit in buf and not be fragmented.
type frameReader struct {
	nc   net.Conn
	buf  []byte
	data []byte
}

func (r *frameReader) next() ([]byte, error) {
	for {
		if len(r.data) >= 2 {
			b0, b1 := r.data[0], r.data[1]
			if b1&0x80 != 0 || b0&0x80 == 0 {
				return nil, errors.New("masked or fragmented server frame")
			}
			hdr, n := 2, int(b1&0x7f)
			switch n {
			case 126:
				hdr = 4
				if len(r.data) >= 4 {
					n = int(binary.BigEndian.Uint16(r.data[2:4]))
				}
			case 127:
				return nil, errors.New("frame too large")
			}
			if hdr+n > len(r.buf) {
				return nil, errors.New("frame too large")
			}
			if len(r.data) >= hdr && len(r.data) >= hdr+n {
				payload := r.data[hdr : hdr+n]
				r.data = r.data[hdr+n:]
				switch b0 & 0x0f {
				case 1:
					return payload, nil
				case 8:
					return nil, errors.New("closed by server")
				}
				continue
			}
		}
		// Move what is left to the front and read more.
		k := copy(r.buf, r.data)
		m, err := r.nc.Read(r.buf[k:])
		r.data = r.buf[:k+m]
		if m == 0 && err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

// appendMaskedText appends payload as one masked, final text frame.
func appendMaskedText(dst, payload []byte, mask uint32) []byte {
	dst = append(dst, 0x81)
	switch n := len(payload); {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xffff:
		dst = binary.BigEndian.AppendUint16(append(dst, 0x80|126), uint16(n))
	default:
		dst = binary.BigEndian.AppendUint64(append(dst, 0x80|127), uint64(n))
	}
	var key [4]byte
	binary.BigEndian.PutUint32(key[:], mask)
	dst = append(dst, key[:]...)
	for i, b := range payload {
		dst = append(dst, b^key[i&3])
	}
	return dst
}
