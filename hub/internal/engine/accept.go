package engine

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"net/http"
	"time"
	"unicode/utf8"
)

// errHandshake is a refused WebSocket opening handshake; the request has
// been answered.
var errHandshake = errors.New("engine: bad websocket handshake")

// acceptWebSocket checks r as a WebSocket opening handshake, with the checks
// and in the order of gorilla's Upgrader (which hubd used before), and takes
// over the connection. It does not write the 101 response: it returns it,
// so that the caller sends it in one system call with the first frames (the
// Engine.IO open packet), which saves the server a write and the client a
// read on every connection.
func (s *Server) acceptWebSocket(w http.ResponseWriter, r *http.Request, initial bool) (*wsConn, []byte, error) {
	if !isWebSocketUpgrade(r) || r.Method != http.MethodGet ||
		!headerHasToken(r.Header, "Sec-Websocket-Version", "13") {
		s.refuse(w, r, codeBadRequest, "", map[string]any{"name": "WEBSOCKET_HANDSHAKE_ERROR"})
		return nil, nil, errHandshake
	}
	if !s.cfg.CheckOrigin(r) {
		s.refuse(w, r, codeBadRequest, "", map[string]any{"name": "INVALID_ORIGIN", "origin": r.Header.Get("Origin")})
		return nil, nil, errHandshake
	}
	key := r.Header.Get("Sec-Websocket-Key")
	if !validChallengeKey(key) {
		s.refuse(w, r, codeBadRequest, "", map[string]any{"name": "WEBSOCKET_HANDSHAKE_ERROR"})
		return nil, nil, errHandshake
	}
	h, ok := w.(http.Hijacker)
	if !ok {
		writeError(w, codeBadRequest, "")
		return nil, nil, errHandshake
	}
	// The hooks' headers go into the 101, which is written by hand.
	var extra http.Header
	if s.cfg.InitialHeaders != nil || s.cfg.Headers != nil {
		extra = make(http.Header)
		if initial && s.cfg.InitialHeaders != nil {
			s.cfg.InitialHeaders(extra, r)
		}
		if s.cfg.Headers != nil {
			s.cfg.Headers(extra, r)
		}
	}
	nc, brw, err := h.Hijack()
	if err != nil {
		writeError(w, codeBadRequest, "")
		return nil, nil, err
	}
	if brw.Reader.Buffered() > 0 {
		// The client sent data before the handshake completed.
		_ = nc.Close()
		return nil, nil, errHandshake
	}
	// Clear the deadlines the HTTP server may have set.
	_ = nc.SetDeadline(time.Time{})
	ws := newWSConn(nc, s.cfg.MaxPayload)
	var extension string
	if s.deflate != nil {
		if extension = negotiateDeflate(r.Header); extension != "" {
			ws.deflate = s.deflate
		}
	}
	return ws, appendSwitchingProtocols(nil, key, extension, extra), nil
}

// appendSwitchingProtocols appends the 101 response to a handshake with
// key, with the extension answer (none when "") and the extra headers (none
// when nil). Header.Write drops a header whose name is not valid and turns
// line breaks in a value into spaces, so extra cannot split the response.
func appendSwitchingProtocols(dst []byte, key, extension string, extra http.Header) []byte {
	dst = append(dst, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	h := sha1.New()
	h.Write([]byte(key))
	h.Write(acceptGUID)
	var sum [sha1.Size]byte
	dst = base64.StdEncoding.AppendEncode(dst, h.Sum(sum[:0]))
	dst = append(dst, "\r\n"...)
	if extension != "" {
		dst = append(dst, "Sec-WebSocket-Extensions: "...)
		dst = append(dst, extension...)
		dst = append(dst, "\r\n"...)
	}
	if len(extra) > 0 {
		b := bytes.NewBuffer(dst)
		_ = extra.Write(b)
		dst = b.Bytes()
	}
	return append(dst, "\r\n"...)
}

var acceptGUID = []byte("258EAFA5-E914-47DA-95CA-C5AB0DC85B11")

// isWebSocketUpgrade reports whether r asks for a WebSocket.
func isWebSocketUpgrade(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") &&
		headerHasToken(r.Header, "Upgrade", "websocket")
}

// validChallengeKey reports whether s is the base64 form of 16 bytes.
func validChallengeKey(s string) bool {
	if len(s) != 24 {
		return false
	}
	var b [18]byte
	n, err := base64.StdEncoding.Decode(b[:], []byte(s))
	return err == nil && n == 16
}

// headerHasToken reports whether the comma-separated token list of header
// name contains value, compared with ASCII case folding.
func headerHasToken(h http.Header, name, value string) bool {
outer:
	for _, s := range h[name] {
		for {
			var t string
			t, s = nextToken(skipSpace(s))
			if t == "" {
				continue outer
			}
			s = skipSpace(s)
			if s != "" && s[0] != ',' {
				continue outer
			}
			if equalFoldASCII(t, value) {
				return true
			}
			if s == "" {
				continue outer
			}
			s = s[1:]
		}
	}
	return false
}

func skipSpace(s string) string {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return s[i:]
}

// nextToken splits off the leading RFC 7230 token of s.
func nextToken(s string) (token, rest string) {
	i := 0
	for i < len(s) && isTokenByte(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

func isTokenByte(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	switch b {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// equalFoldASCII compares s and t, folding ASCII letters only.
func equalFoldASCII(s, t string) bool {
	for s != "" && t != "" {
		sr, n := utf8.DecodeRuneInString(s)
		s = s[n:]
		tr, n := utf8.DecodeRuneInString(t)
		t = t[n:]
		if sr == tr {
			continue
		}
		if 'A' <= sr && sr <= 'Z' {
			sr += 'a' - 'A'
		}
		if 'A' <= tr && tr <= 'Z' {
			tr += 'a' - 'A'
		}
		if sr != tr {
			return false
		}
	}
	return s == t
}
