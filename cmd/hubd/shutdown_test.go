package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hubdPoll is a long-polling Engine.IO client that polls only when told,
// so that what hubd sends it stays queued in between.
type hubdPoll struct {
	t   *testing.T
	hc  *http.Client
	url string
}

func (p *hubdPoll) do(method, query, body string) (int, string) {
	p.t.Helper()
	req, err := http.NewRequest(method, p.url+query, strings.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	res, err := p.hc.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, query, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// handshake opens a session: its id, or "" with the answer when refused.
func (p *hubdPoll) handshake() (sid string, status int, body string) {
	p.t.Helper()
	status, body = p.do("GET", "?EIO=4&transport=polling", "")
	if status != http.StatusOK {
		return "", status, body
	}
	var open struct{ SID string }
	if !strings.HasPrefix(body, "0") || json.Unmarshal([]byte(body[1:]), &open) != nil || open.SID == "" {
		p.t.Fatalf("handshake: %q", body)
	}
	return open.SID, status, body
}

func (p *hubdPoll) get(sid string) string {
	p.t.Helper()
	status, body := p.do("GET", "?EIO=4&transport=polling&sid="+sid, "")
	if status != http.StatusOK {
		p.t.Fatalf("poll: %d %q", status, body)
	}
	return body
}

func (p *hubdPoll) post(sid, body string) {
	p.t.Helper()
	if status, got := p.do("POST", "?EIO=4&transport=polling&sid="+sid, body); status != http.StatusOK || got != "ok" {
		p.t.Fatalf("POST %q: %d %q", body, status, got)
	}
}

// TestSIGTERMFlushesQueuedEvents: events published before SIGTERM, still
// queued for a long-polling client that has not polled, reach it during
// the grace period, followed by the close packet; a handshake during the
// grace gets 503; hubd exits 0 once the client has them.
func TestSIGTERMFlushesQueuedEvents(t *testing.T) {
	cfg := writeFile(t, t.TempDir(), "hubd.json", `{
		"listen": "127.0.0.1:0",
		"namespaces": [{"name": "/", "route": "rooms"}],
		"api": {"key": "secret"},
		"shutdown_grace": "60s"
	}`)
	d := start(t, "-config", cfg)
	base := "http://" + d.addr
	p := &hubdPoll{t: t, hc: &http.Client{Transport: &http.Transport{}}, url: base + "/socket.io/"}
	defer p.hc.CloseIdleConnections()

	sid, _, _ := p.handshake()
	p.post(sid, "40")
	if got := p.get(sid); !strings.HasPrefix(got, `40{"sid":"`) {
		t.Fatalf("connect: %q", got)
	}
	const n = 20
	for i := range n {
		body := fmt.Sprintf(`{"event":"news","args":[%d]}`, i)
		req, _ := http.NewRequest("POST", base+"/api/emit", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer secret")
		req.Header.Set("Content-Type", "application/json")
		res, err := p.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("emit %d: %d", i, res.StatusCode)
		}
	}

	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// A handshake gets 503 once the shutdown began. One that came before
	// it is closed by its client, so that it does not hold the shutdown.
	deadline := time.Now().Add(20 * time.Second)
	for {
		other, status, body := p.handshake()
		if other == "" {
			if status != http.StatusServiceUnavailable || body != `{"code":4,"message":"Server shutting down"}` {
				t.Fatalf("handshake during the grace: %d %q, want 503 and the JSON error", status, body)
			}
			break
		}
		p.post(other, "1")
		if time.Now().After(deadline) {
			t.Fatalf("handshakes still accepted 20 s after SIGTERM:\n%s", d.stderr)
		}
	}
	if code, _ := get(t, base+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the grace: %d, want 503", code)
	}

	var got []string
	for {
		body := p.get(sid)
		if body == "1" {
			break
		}
		got = append(got, body)
		if len(got) > n {
			t.Fatalf("no close packet after %d polls: %q", len(got), got)
		}
	}
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf(`42["news",%d]`, i))
	}
	if strings.Join(got, "\x1e") != strings.Join(want, "\x1e") {
		t.Fatalf("polls during the grace carried %q, want the %d events", got, n)
	}
	if code := d.wait(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM:\n%s", code, d.stderr)
	}
}
