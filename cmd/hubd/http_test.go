package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rawConn is a TCP connection to hubd that the test drives byte by byte.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	// A bound for the test, never reached when hubd does its part.
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

func (r *rawConn) write(s string) {
	r.t.Helper()
	if _, err := io.WriteString(r.c, s); err != nil {
		r.t.Fatalf("writing: %v", err)
	}
}

// get sends a keep-alive GET of path and returns the response's status
// and body, or the error reading it.
func (r *rawConn) get(path string) (int, string, error) {
	r.t.Helper()
	if _, err := io.WriteString(r.c, "GET "+path+" HTTP/1.1\r\nHost: hubd\r\n\r\n"); err != nil {
		return 0, "", err
	}
	return r.response()
}

func (r *rawConn) response() (int, string, error) {
	res, err := http.ReadResponse(r.br, nil)
	if err != nil {
		return 0, "", err
	}
	b, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	return res.StatusCode, string(b), err
}

// closedByPeer waits for hubd to close the connection: a read returns EOF
// (or a reset), not the test's own deadline.
func (r *rawConn) closedByPeer() error {
	_, err := r.br.ReadByte()
	var ne net.Error
	switch {
	case err == nil:
		return errors.New("data where the connection should be closed")
	case errors.As(err, &ne) && ne.Timeout():
		return errors.New("still open at the test's deadline")
	}
	return nil
}

// TestDaemonHTTPTimeouts: a new connection that stays silent, a keep-alive
// connection left idle and a request body sent too slowly are all cut,
// while a WebSocket connection and a long-polling request, which wait
// longer than those timeouts by design, are not.
func TestDaemonHTTPTimeouts(t *testing.T) {
	cfgFile := writeFile(t, t.TempDir(), "hubd.json", `{
		"listen": "127.0.0.1:0",
		"api": {"key": "secret"},
		"http": {"read_header_timeout": "300ms", "read_timeout": "300ms", "idle_timeout": "300ms"},
		"socketio": {"ping_interval": "1s", "ping_timeout": "20s"}
	}`)
	d := start(t, "-config", cfgFile)

	// A WebSocket client, connected before every timeout below runs out.
	ws, ans := sioConnect(t, d.addr, "")
	if !strings.HasPrefix(ans, `40{"sid"`) {
		t.Fatalf("connect: %s", ans)
	}

	// A new connection that sends nothing.
	if err := dialRaw(t, d.addr).closedByPeer(); err != nil {
		t.Errorf("silent connection: %v", err)
	}

	// A keep-alive connection, idle after one request.
	idle := dialRaw(t, d.addr)
	if code, body, err := idle.get("/healthz"); err != nil || code != 200 || body != "ok" {
		t.Fatalf("/healthz: %d %q %v", code, body, err)
	}
	if err := idle.closedByPeer(); err != nil {
		t.Errorf("idle keep-alive connection: %v", err)
	}

	// An API body that stops coming: 408. Without the key, the API
	// answers 401 without reading the body, and the connection is cut as
	// the rest of the body is not read in time either.
	for _, c := range []struct {
		auth string
		code int
	}{{"Authorization: Bearer secret\r\n", http.StatusRequestTimeout}, {"", http.StatusUnauthorized}} {
		slow := dialRaw(t, d.addr)
		slow.write("POST /api/emit HTTP/1.1\r\nHost: hubd\r\n" + c.auth +
			"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"event\":")
		code, body, err := slow.response()
		if err != nil || code != c.code || (code == http.StatusRequestTimeout && !strings.Contains(body, "http.read_timeout")) {
			t.Errorf("slow body (%q): %d %q %v, want %d", c.auth, code, body, err, c.code)
		}
		if err := slow.closedByPeer(); err != nil {
			t.Errorf("slow body (%q): %v", c.auth, err)
		}
	}

	// A body sent in time is read as before.
	fast := dialRaw(t, d.addr)
	body := `{"event":"news","args":["hello"]}`
	fast.write("POST /api/emit HTTP/1.1\r\nHost: hubd\r\nAuthorization: Bearer secret\r\n" +
		"Content-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	if code, b, err := fast.response(); err != nil || code != 200 {
		t.Fatalf("emit: %d %q %v", code, b, err)
	}
	if m := nextMsg(t, ws); m != `42["news","hello"]` {
		t.Fatalf("published event: %s", m)
	}

	// A long-polling request waits for the ping, past read_timeout.
	code, open := get(t, "http://"+d.addr+"/socket.io/?EIO=4&transport=polling")
	sid, ok := strings.CutPrefix(open, `0{"sid":"`)
	if code != 200 || !ok {
		t.Fatalf("polling handshake: %d %s", code, open)
	}
	sid = sid[:strings.IndexByte(sid, '"')]
	if code, poll := get(t, "http://"+d.addr+"/socket.io/?EIO=4&transport=polling&sid="+sid); code != 200 || poll != "2" {
		t.Fatalf("long poll: %d %q, want the ping", code, poll)
	}

	// The WebSocket connection is still up: a ping comes, and a command
	// is answered.
	_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("websocket cut: %v", err)
		}
		if string(msg) == "2" {
			send(t, ws, "3")
			break
		}
	}
	if _, ack := emitAck(t, ws, "1", `["hub:join","lobby"]`); ack != `431[{"ok":true,"rooms":["lobby"]}]` {
		t.Fatalf("hub:join: %s", ack)
	}
}

// TestDaemonConnsPerIP: with http.max_conns_per_ip at 2, a third
// connection from the address is closed unserved while the first two are
// served; once one closes, a new one is served; the refusal is counted.
func TestDaemonConnsPerIP(t *testing.T) {
	cfgFile := writeFile(t, t.TempDir(), "hubd.json", `{"listen": "127.0.0.1:0", "http": {"max_conns_per_ip": 2}}`)
	d := start(t, "-config", cfgFile)

	a, b := dialRaw(t, d.addr), dialRaw(t, d.addr)
	for _, c := range []*rawConn{a, b} {
		if code, _, err := c.get("/healthz"); err != nil || code != 200 {
			t.Fatalf("under the cap: %d %v", code, err)
		}
	}
	third := dialRaw(t, d.addr)
	if code, _, err := third.get("/healthz"); err == nil {
		t.Fatalf("third connection served: %d", code)
	}
	for _, c := range []*rawConn{a, b} {
		if code, _, err := c.get("/healthz"); err != nil || code != 200 {
			t.Fatalf("kept connection after the refusal: %d %v", code, err)
		}
	}

	// A place freed is taken again, once hubd has seen the close.
	_ = a.c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c := dialRaw(t, d.addr)
		code, body, err := c.get("/metrics")
		if err == nil {
			if code != 200 {
				t.Fatalf("/metrics: %d", code)
			}
			if v, ok := metricValue(t, body, "hubd_http_connections_refused_total"); !ok || v < 1 {
				t.Fatalf("refusals not counted (%v, %v):\n%s", v, ok, body)
			}
			break
		}
		_ = c.c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("no connection served after one closed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.waitLog(t, "connection refused: too many from one address")
}

// TestClientKey: the cap counts IPv4 clients by address and IPv6 ones by
// /64, an IPv4-mapped IPv6 address as its IPv4 one.
func TestClientKey(t *testing.T) {
	for _, c := range []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 1}, "192.0.2.7/32"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.7"), Port: 1}, "192.0.2.7/32"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:aaaa::1"), Port: 1}, "2001:db8:1:2::/64"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:bbbb::9"), Port: 1}, "2001:db8:1:2::/64"},
		{&net.UnixAddr{Name: "/run/hubd.sock", Net: "unix"}, "invalid Prefix"},
	} {
		if got := clientKey(c.addr).String(); got != c.want {
			t.Errorf("%v: %s, want %s", c.addr, got, c.want)
		}
	}
}
