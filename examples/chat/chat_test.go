// Package chat_test runs the chat example in a real browser: it builds and
// starts hubd with examples/chat/hubd.json, then browser.mjs (playwright-core
// driving Debian's chromium) opens the page as Ann and Bob, Ann sends a
// message, and the test checks what Bob's page showed and the screenshot.
// The page loads socket.io-client from hubd itself (/socket.io/socket.io.min.js,
// socketio.serve_client in hubd.json), so this is also serveClient's browser
// test. Presence is on: Ann's page must show that Bob joined.
//
// Then connection state recovery (on in hubd.json): a third page, Cy,
// reaches hubd through a TCP proxy the test owns; the test cuts it at
// browser.mjs's request, Bob sends a message meanwhile, the proxy comes
// back, and Cy's page must show the message with socket.recovered true.
//
// Needs /usr/bin/chromium, node, and `npm ci` run in examples/chat:
// examples/chat/setup.sh does both.
package chat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/internal/tcpproxy"
)

const chromium = "/usr/bin/chromium"

func TestChatInBrowser(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("%s is missing: install it with `apt-get install -y chromium` (or run examples/chat/setup.sh)", chromium)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is missing: it runs examples/chat/browser.mjs")
	}
	here, err := os.Getwd() // go test runs in the package directory
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(here, "..", "..")
	for _, f := range []string{"node_modules/playwright-core/package.json", "node_modules/socket.io-client/dist/socket.io.min.js"} {
		if _, err := os.Stat(filepath.Join(here, f)); err != nil {
			t.Fatalf("examples/chat/%s is missing: run `npm ci` in examples/chat (or examples/chat/setup.sh)", f)
		}
	}

	// Build and start hubd from the repo root, where hubd.json's paths are relative to.
	bin := filepath.Join(t.TempDir(), "hubd")
	build := exec.Command("go", "build", "-o", bin, "./cmd/hubd")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/hubd: %v\n%s", err, out)
	}
	addr := freeAddr(t)
	var hubLog bytes.Buffer
	hub := exec.Command(bin, "-config", "examples/chat/hubd.json", "-listen", addr)
	hub.Dir = root
	hub.Stdout, hub.Stderr = &hubLog, &hubLog
	if err := hub.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { hub.Wait(); close(exited) }()
	t.Cleanup(func() {
		hub.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			hub.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("hubd log:\n%s", hubLog.String())
		}
	})
	url := "http://" + addr + "/"
	waitServing(t, url, exited)

	// Cy's way to hubd, and the switch browser.mjs pulls: the cut answers
	// once hubd has seen Cy's socket go, so that Bob's message is one Cy
	// misses, not one lost on a connection hubd still thinks open.
	proxy := tcpproxy.Start(t, addr)
	control := httptest.NewServer(controlHandler(proxy, func() error {
		before, err := sockets(url)
		if err != nil {
			return err
		}
		proxy.Cut()
		return waitSockets(url, before-1)
	}))
	t.Cleanup(control.Close)

	// Drive two browser pages.
	shot := filepath.Join(root, "test-artifacts", "chat.png")
	if err := os.MkdirAll(filepath.Dir(shot), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Remove(shot)
	// A bound against hangs: the browser's waits are 30 s each.
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()
	browser := exec.CommandContext(ctx, node, filepath.Join(here, "browser.mjs"), url, shot,
		"http://"+proxy.Addr()+"/", control.URL+"/")
	browser.Dir = here
	var stdout, stderr bytes.Buffer
	browser.Stdout, browser.Stderr = &stdout, &stderr
	if err := browser.Run(); err != nil {
		t.Fatalf("browser.mjs: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	t.Logf("Bob saw: %s", strings.TrimSpace(stdout.String()))

	var seen struct {
		Name, Time, Text, Sent string
		Notices                []string
		Recovery               *struct {
			Name, Text, Sent, Recovered, Status string
			Away                                struct{ Text, Class string }
			BobNotices                          []string `json:"bob_notices"`
		}
	}
	if err := json.Unmarshal(lastLine(stdout.Bytes()), &seen); err != nil {
		t.Fatalf("browser.mjs printed no JSON: %v\n%s", err, stdout.String())
	}
	if seen.Name != "Ann" {
		t.Errorf("name = %q, want Ann (stamped by plugins/chat/chat.js)", seen.Name)
	}
	if seen.Sent == "" || seen.Text != seen.Sent {
		t.Errorf("text = %q, want %q", seen.Text, seen.Sent)
	}
	stamp, err := time.Parse(time.RFC3339Nano, seen.Time)
	if err != nil {
		t.Errorf("time = %q, want an ISO time (stamped by plugins/chat/chat.js): %v", seen.Time, err)
	} else if d := time.Since(stamp); d < -time.Minute || d > 5*time.Minute {
		t.Errorf("time = %s, %v from now", seen.Time, d)
	}
	// Presence is on in hubd.json: Ann's page showed Bob joining.
	if !slices.Contains(seen.Notices, "Bob joined") {
		t.Errorf("Ann's notices = %q, want \"Bob joined\"", seen.Notices)
	}
	if r := seen.Recovery; r == nil {
		t.Errorf("browser.mjs reported no recovery")
	} else {
		// Cut off, Cy's page said it was reconnecting, not an error.
		if r.Away.Class != "reconnecting" || !strings.Contains(r.Away.Text, "reconnecting") {
			t.Errorf("Cy's status while cut off = %q (class %q), want reconnecting", r.Away.Text, r.Away.Class)
		}
		// Bob saw Cy join, leave with the cut, and join again once recovered.
		want := []string{"Cy joined", "Cy left", "Cy joined"}
		if got := r.BobNotices; !slices.Equal(got[max(0, len(got)-3):], want) {
			t.Errorf("Bob's notices = %q, want them to end with %q", got, want)
		}
		if r.Name != "Bob" || r.Sent == "" || r.Text != r.Sent {
			t.Errorf("Cy saw %q from %q, want %q from Bob", r.Text, r.Name, r.Sent)
		}
		if r.Recovered != "true" {
			t.Errorf("Cy's socket.recovered = %q after the cut, want true (status %q)", r.Recovered, r.Status)
		}
	}
	// hubd counted it: one recovery asked for, and given.
	if body, err := metrics(url); err != nil {
		t.Error(err)
	} else {
		for _, name := range []string{"hubd_recovery_attempted_total", "hubd_recovery_succeeded_total"} {
			if v, ok := sample(body, name); !ok || v != 1 {
				t.Errorf("%s = %v (found %v), want 1", name, v, ok)
			}
		}
	}

	st, err := os.Stat(shot)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if st.Size() == 0 {
		t.Fatalf("screenshot %s is empty", shot)
	}
	png, _ := os.ReadFile(shot)
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot %s is not a PNG", shot)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitServing waits until hubd serves the page, failing early if it exits.
func waitServing(t *testing.T, url string, exited <-chan struct{}) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		select {
		case <-exited:
			t.Fatalf("hubd exited before serving %s", url)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("hubd did not serve %s: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// metrics returns hubd's /metrics.
func metrics(base string) (string, error) {
	resp, err := http.Get(base + "metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("/metrics: %s", resp.Status)
	}
	return string(b), err
}

// sample finds the value of the series series (name and labels as
// /metrics writes them) in body.
func sample(body, series string) (float64, bool) {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

// sockets is the number of sockets hubd has in "/".
func sockets(base string) (float64, error) {
	body, err := metrics(base)
	if err != nil {
		return 0, err
	}
	n, ok := sample(body, `hubd_sockets{namespace="/"}`)
	if !ok {
		return 0, fmt.Errorf("no hubd_sockets in /metrics:\n%s", body)
	}
	return n, nil
}

// waitSockets waits until hubd has n sockets in "/".
func waitSockets(base string, n float64) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := sockets(base)
		if err != nil {
			return err
		}
		if got == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("hubd still has %v sockets, want %v", got, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func lastLine(b []byte) []byte {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return lines[len(lines)-1]
}
