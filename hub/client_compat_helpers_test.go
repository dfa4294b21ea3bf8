package hub_test

// Helpers of the client-compatibility tests (client_compat_test.go): they
// run hub/testdata/client/driver.mjs, which drives the official
// socket.io-client from npm, and compare what it prints with what the Go
// side expects.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
)

// compatClientDir holds the Node side: package.json, its lockfile and the
// driver script.
const compatClientDir = "testdata/client"

// compatTransport is a client transports option and what the connection
// ends on.
type compatTransport struct {
	name       string
	transports []string // nil: the client's default (polling, then upgrade)
	final      string
}

var (
	compatWebSocket = compatTransport{"websocket", []string{"websocket"}, "websocket"}
	compatPolling   = compatTransport{"polling", []string{"polling"}, "polling"}
	compatDefault   = compatTransport{"default", nil, "websocket"}
)

// compatRequireClient fails the test when Node or the npm packages are missing.
func compatRequireClient(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node is not installed: install Node.js 20 or newer, then run `make test`")
	}
	mod := filepath.Join(compatClientDir, "node_modules", "socket.io-client", "package.json")
	if _, err := os.Stat(mod); err != nil {
		t.Fatalf("%s is missing: run `make test` (it runs `npm ci` in hub/testdata/client), or `npm ci` in hub/testdata/client", mod)
	}
}

// compatObs is one line the driver printed: {"ev": name, ...fields}.
type compatObs map[string]any

// compatRun is everything the driver printed.
type compatRun struct {
	scenario string
	lines    []compatObs
	raw      string
}

// runCompatDriver runs one driver scenario against url and returns what it
// printed; a failed run (exit status, no final "end" line) fails the test.
func runCompatDriver(t *testing.T, scenario, url string, params map[string]any) *compatRun {
	t.Helper()
	compatRequireClient(t)
	if params == nil {
		params = map[string]any{}
	}
	p, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	// A bound above the driver's own (60 s), which reports what it waited for.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "driver.mjs", scenario, url, string(p))
	cmd.Dir = compatClientDir
	if d := os.Getenv("HUBD_COMPAT_DEBUG"); d != "" {
		// e.g. HUBD_COMPAT_DEBUG='socket.io-client:*,engine.io-client:*'
		cmd.Env = append(os.Environ(), "DEBUG="+d)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err = cmd.Run()
	if os.Getenv("HUBD_COMPAT_DEBUG") != "" {
		t.Logf("driver %s stderr:\n%s", scenario, stderr.String())
	}
	if err != nil {
		t.Fatalf("node driver.mjs %s %s: %v after %v\nstderr:\n%s\nstdout:\n%s", scenario, p, err, time.Since(start).Round(time.Millisecond), stderr.String(), compatTruncate(stdout.String(), 4000))
	}
	r := &compatRun{scenario: scenario, raw: stdout.String()}
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var o compatObs
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			t.Fatalf("driver %s printed a line that is not JSON: %q", scenario, compatTruncate(sc.Text(), 300))
		}
		r.lines = append(r.lines, o)
	}
	if len(r.lines) == 0 || r.lines[len(r.lines)-1]["ev"] != "end" {
		t.Fatalf("driver %s did not finish its scenario; stdout:\n%s\nstderr:\n%s", scenario, compatTruncate(r.raw, 4000), stderr.String())
	}
	return r
}

// all returns the lines of event ev whose fields match the given pairs.
func (r *compatRun) all(ev string, match ...any) []compatObs {
	var out []compatObs
next:
	for _, o := range r.lines {
		if o["ev"] != ev {
			continue
		}
		for i := 0; i+1 < len(match); i += 2 {
			if !reflect.DeepEqual(o[match[i].(string)], match[i+1]) {
				continue next
			}
		}
		out = append(out, o)
	}
	return out
}

// one returns the only line of event ev matching the pairs.
func (r *compatRun) one(t *testing.T, ev string, match ...any) compatObs {
	t.Helper()
	got := r.all(ev, match...)
	if len(got) != 1 {
		t.Fatalf("driver %s printed %d %q lines matching %v, want 1; stdout:\n%s", r.scenario, len(got), ev, match, compatTruncate(r.raw, 4000))
	}
	return got[0]
}

func compatTruncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("... (%d bytes more)", len(s)-n)
}

// compatWant compares got and want as JSON values (numbers as float64, compatCopy
// without order).
func compatWant(t *testing.T, what string, got, want any) {
	t.Helper()
	g, w := compatNorm(t, got), compatNorm(t, want)
	if !reflect.DeepEqual(g, w) {
		gb, _ := json.Marshal(g)
		wb, _ := json.Marshal(w)
		t.Errorf("%s:\n got %s\nwant %s", what, compatTruncate(string(gb), 2000), compatTruncate(string(wb), 2000))
	}
}

func compatNorm(t *testing.T, v any) any {
	t.Helper()
	var b []byte
	switch x := v.(type) {
	case json.RawMessage:
		b = x
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			t.Fatalf("marshal %#v: %v", v, err)
		}
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	return out
}

// compatPattern returns the bytes driver.mjs's pat(n, seed) makes.
func compatPattern(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + seed*13 + i>>8)
	}
	return b
}

// compatAlphabet and compatString mirror driver.mjs's ALPHABET and
// bigString.
var compatAlphabet = []rune("abcdefghijklmnopqrstuvwxyz0123456789 \"\\/<>&\n\té✓😀")

func compatString(n, seed int) string {
	var sb strings.Builder
	for i := 0; i < n; i++ {
		sb.WriteRune(compatAlphabet[(i*7+seed)%len(compatAlphabet)])
	}
	return sb.String()
}

// compatBin is how driver.mjs prints a received Buffer.
func compatBin(b []byte) any {
	if len(b) <= 1024 {
		return map[string]any{"$bin": base64.StdEncoding.EncodeToString(b)}
	}
	sum := sha256.Sum256(b)
	return map[string]any{"$binlen": len(b), "$sha256": hex.EncodeToString(sum[:])}
}

// compatStr is how driver.mjs prints a received string.
func compatStr(s string) any {
	if len(compatUTF16(s)) <= 1024 {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return map[string]any{"$strlen": len(s), "$sha256": hex.EncodeToString(sum[:])}
}

// compatUTF16 returns s's UTF-16 code units (JavaScript's string length).
func compatUTF16(s string) []uint16 {
	var out []uint16
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			out = append(out, uint16(0xd800+(r>>10)), uint16(0xdc00+(r&0x3ff)))
		} else {
			out = append(out, uint16(r))
		}
	}
	return out
}

// compatRecorder collects what the server side observed, by key, from any
// goroutine (handlers may run after the test's end, so they never touch t).
type compatRecorder struct {
	mu sync.Mutex
	m  map[string][]any
}

func newCompatRecorder() *compatRecorder { return &compatRecorder{m: make(map[string][]any)} }

func (r *compatRecorder) add(key string, v any) {
	r.mu.Lock()
	r.m[key] = append(r.m[key], v)
	r.mu.Unlock()
}

func (r *compatRecorder) get(key string) []any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]any(nil), r.m[key]...)
}

// wait returns the values of key once there are at least n, failing the
// test after d.
func (r *compatRecorder) wait(t *testing.T, key string, n int, d time.Duration) []any {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		got := r.get(key)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("server side: %d %q observations after %v, want %d: %v", len(got), key, d, n, got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// strings returns the values of key as strings, sorted.
func (r *compatRecorder) sortedStrings(key string) []string {
	var out []string
	for _, v := range r.get(key) {
		out = append(out, fmt.Sprint(v))
	}
	sort.Strings(out)
	return out
}

// compatEventually waits until cond holds, failing the test after d.
func compatEventually(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %v", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// serveCompat serves srv on a loopback httptest server for the test's
// duration and returns its URL.
func serveCompat(t *testing.T, srv *hub.Server) string {
	t.Helper()
	return serveCompatHandler(t, srv, srv)
}

// serveCompatHandler is serveCompat with h in front of srv.
func serveCompatHandler(t *testing.T, srv *hub.Server, h http.Handler) string {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(func() {
		_ = srv.Close()
		ts.CloseClientConnections()
		ts.Close()
	})
	return ts.URL
}

// compatAuth decodes one string or number field of a socket's auth.
func compatAuth(s *hub.Socket, key string) any {
	var m map[string]any
	_ = json.Unmarshal(s.Handshake().Auth, &m)
	return m[key]
}
