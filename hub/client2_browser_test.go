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
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
)

// TestCompatV2Chromium: socket.io-client 2.5.0 in Chromium, over polling,
// sends and gets binary payloads (application/octet-stream, no b64), which
// the client in Node never does. Needs /usr/bin/chromium (or $CHROMIUM),
// node, and `npm ci` in hub/testdata/browser and hub/testdata/client2.
func TestCompatV2Chromium(t *testing.T) {
	t.Parallel()
	chromium := requireChromium(t)
	bundle := filepath.Join(compatV2Dir, "node_modules", "socket.io-client", "dist", "socket.io.js")
	if _, err := os.Stat(bundle); err != nil {
		t.Fatalf("%s is missing: run `npm ci` in hub/%s (make test does)", bundle, compatV2Dir)
	}

	srv := hub.New(hub.Options{AllowEIO3: true})
	var mu sync.Mutex
	var handshakeURL string
	srv.OnConnection(func(s *hub.Socket) {
		mu.Lock()
		handshakeURL = s.Handshake().URL
		mu.Unlock()
		s.On("bin", func(e *hub.Event) { _ = e.Ack(e.Args) })
		s.On("push", func(*hub.Event) { _ = s.Emit("pushed", []byte{7, 8, 9}) })
	})
	// The content types of the polling requests and answers, to see the
	// binary payloads go by.
	var posted, answered []string
	mux := http.NewServeMux()
	mux.HandleFunc("/socket.io/", func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, r)
		mu.Lock()
		if r.Method == http.MethodPost {
			posted = append(posted, r.Header.Get("Content-Type"))
		} else {
			answered = append(answered, rec.Header().Get("Content-Type"))
		}
		mu.Unlock()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
	mux.HandleFunc("/client2.js", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, bundle) })
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>eio3</title><script src="/client2.js"></script>`)
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		_ = srv.Close()
		ts.CloseClientConnections()
		ts.Close()
	})

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "eio3.mjs", ts.URL+"/")
	cmd.Dir = browserDir
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("eio3.mjs: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	var got struct {
		Ack, Pushed []int
		Transport   string
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("eio3.mjs printed %q: %v\nstderr:\n%s", stdout.String(), err, stderr.String())
	}
	if !slices.Equal(got.Ack, []int{0, 1, 2, 255}) || !slices.Equal(got.Pushed, []int{7, 8, 9}) || got.Transport != "polling" {
		t.Errorf("Chromium got ack %v, event %v over %s; want [0 1 2 255], [7 8 9] over polling", got.Ack, got.Pushed, got.Transport)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(handshakeURL, "b64") {
		t.Errorf("Chromium asked for base64: %s", handshakeURL)
	}
	if !slices.Contains(posted, "application/octet-stream") {
		t.Errorf("no binary payload from Chromium; POST content types %q", posted)
	}
	if !slices.Contains(answered, "application/octet-stream") {
		t.Errorf("no binary payload to Chromium; GET content types %q", answered)
	}
}
