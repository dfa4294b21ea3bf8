package engine

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAcceptRefusals covers the WebSocket handshake checks: each refusal is
// the reference's 400 with code 3, and opens no session.
func TestAcceptRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{CheckOrigin: func(r *http.Request) bool {
		return r.Header.Get("Origin") != "http://evil.example"
	}})
	cases := []struct {
		name string
		edit func(h http.Header)
	}{
		{"no upgrade token", func(h http.Header) { h.Set("Connection", "keep-alive") }},
		{"upgrade to something else", func(h http.Header) { h.Set("Upgrade", "h2c") }},
		{"version 8", func(h http.Header) { h.Set("Sec-Websocket-Version", "8") }},
		{"no key", func(h http.Header) { h.Del("Sec-Websocket-Key") }},
		{"key of 15 bytes", func(h http.Header) { h.Set("Sec-Websocket-Key", "AAAAAAAAAAAAAAAAAAAA") }},
		{"key not base64", func(h http.Header) { h.Set("Sec-Websocket-Key", "!!!!!!!!!!!!!!!!!!!!!A==") }},
		{"origin refused", func(h http.Header) { h.Set("Origin", "http://evil.example") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			req, _ := http.NewRequest("GET", e.base+"?EIO=4&transport=websocket", nil)
			req.Header = wsHeaders()
			tc.edit(req.Header)
			expectError(t, e.do(req), 400, 3)
		})
	}
	if n := e.srv.Len(); n != 0 {
		t.Fatalf("%d sessions open after refused handshakes", n)
	}
}

// TestAcceptTokenLists accepts the handshake's tokens in any case and
// among others, as gorilla did.
func TestAcceptTokenLists(t *testing.T) {
	t.Parallel()
	h := http.Header{
		"Connection":            {"keep-alive, UPGRADE"},
		"Upgrade":               {"h2c", "WebSocket"},
		"Sec-Websocket-Version": {" 13 "},
	}
	if !headerHasToken(h, "Connection", "upgrade") || !headerHasToken(h, "Upgrade", "websocket") ||
		!headerHasToken(h, "Sec-Websocket-Version", "13") {
		t.Fatal("tokens not found")
	}
	if headerHasToken(http.Header{"Upgrade": {"websocket2"}}, "Upgrade", "websocket") ||
		headerHasToken(http.Header{"Upgrade": {"web socket"}}, "Upgrade", "websocket") {
		t.Fatal("token found in a longer or malformed one")
	}
}

// TestAcceptOneWrite checks the 101 response (the accept value of RFC
// 6455's example key) and that the open packet came in the same write: it
// is already buffered once the response has been read.
func TestAcceptOneWrite(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	nc, err := net.Dial("tcp", strings.TrimPrefix(e.ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n" +
		"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
	if _, err := nc.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 101 || res.Header.Get("Sec-Websocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("got %d, accept %q", res.StatusCode, res.Header.Get("Sec-Websocket-Accept"))
	}
	if br.Buffered() == 0 {
		t.Fatal("the open packet did not come with the 101 response")
	}
	hdr := make([]byte, 2)
	if _, err := br.Read(hdr[:1]); err != nil {
		t.Fatal(err)
	}
	if _, err := br.Read(hdr[1:]); err != nil {
		t.Fatal(err)
	}
	if hdr[0] != 0x81 || hdr[1] >= 126 {
		t.Fatalf("frame header % x", hdr)
	}
	payload := make([]byte, hdr[1])
	if _, err := br.Read(payload); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(payload, []byte(`0{"sid":"`)) {
		t.Fatalf("open packet %q", payload)
	}
}
