package hub_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
)

// browserDir holds the script that drives Chromium (and its playwright-core).
const browserDir = "testdata/browser"

// requireChromium fails the test when Chromium or playwright-core, which
// the scripts of browserDir drive it with, is missing; it returns
// Chromium's path, for the scripts' CHROMIUM.
func requireChromium(t *testing.T) string {
	t.Helper()
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("%s is missing: install it with `apt-get install -y chromium`, or set CHROMIUM", chromium)
	}
	if _, err := os.Stat(filepath.Join(browserDir, "node_modules", "playwright-core", "package.json")); err != nil {
		t.Fatalf("playwright-core is missing: run `npm ci` in hub/%s (make test does)", browserDir)
	}
	return chromium
}

// TestDeflateChromium: Chromium, whose WebSocket offers permessage-deflate,
// connects to a hub that compresses, sends a big message (which it
// compresses, and the hub inflates) and gets a big broadcast compressed by
// the hub. Needs /usr/bin/chromium (or $CHROMIUM), node, and `npm ci` in
// hub/testdata/browser.
func TestDeflateChromium(t *testing.T) {
	t.Parallel()
	chromium := requireChromium(t)
	compatRequireClient(t) // the browser bundle comes from hub/testdata/client
	bundle, err := hub.LoadClientBundle(filepath.Join(compatClientDir, "node_modules", "socket.io-client"))
	if err != nil {
		t.Fatal(err)
	}
	srv := hub.New(hub.Options{PerMessageDeflate: &hub.PerMessageDeflate{}, ServeClient: bundle})
	ready := make(chan struct{}, 1)
	srv.OnConnection(func(s *hub.Socket) {
		s.On("big", func(e *hub.Event) {
			var text string
			if err := e.Args.Bind(&text); err != nil {
				t.Error(err)
			}
			_ = e.Ack(map[string]any{"length": len(text), "sha256": sha256Hex([]byte(text))})
		})
		s.On("ready", func(*hub.Event) { ready <- struct{}{} })
	})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>deflate</title><script src="/socket.io/socket.io.min.js"></script>`)
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)

	const size = 300_000
	news := deflateNews()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "deflate.mjs", ts.URL+"/", fmt.Sprint(size))
	cmd.Dir = browserDir
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-ready:
	case err := <-exited:
		t.Fatalf("deflate.mjs exited early: %v\nstderr:\n%s", err, stderr.String())
	case <-time.After(90 * time.Second):
		t.Fatalf("the page was not ready within 90 s\nstderr:\n%s", stderr.String())
	}
	before := srv.Stats()
	if err := srv.Emit("news", news); err != nil {
		t.Fatal(err)
	}
	if err := <-exited; err != nil {
		t.Fatalf("deflate.mjs: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	var got struct {
		Extensions string
		Sent       string
		Ack        struct {
			Length int
			SHA256 string
		}
		NewsLength int
		News       string
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("deflate.mjs printed %q: %v\nstderr:\n%s", stdout.String(), err, stderr.String())
	}
	if want := "permessage-deflate; server_no_context_takeover; client_no_context_takeover"; got.Extensions != want {
		t.Errorf("Chromium negotiated %q, want %q", got.Extensions, want)
	}
	if got.Ack.Length != size || got.Ack.SHA256 != got.Sent {
		t.Errorf("the hub read %d bytes hashed %s; Chromium sent %d hashed %s", got.Ack.Length, got.Ack.SHA256, size, got.Sent)
	}
	if got.News != sha256Hex(news) {
		t.Errorf("Chromium got news of %d bytes hashed %s, want %d bytes", got.NewsLength, got.News, len(news))
	}
	st := srv.Stats()
	if before.CompressedReceived < 1 {
		t.Errorf("no compressed message from Chromium (stats %+v)", before)
	}
	if n := st.CompressedSent - before.CompressedSent; n != 1 {
		t.Errorf("the broadcast went out compressed %d times, want once", n)
	}
}
