package host_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/host/js"
	"github.com/hubd/hubd/host/wasm"
	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/sdk/wire"
)

// echoAnswer is one line of testdata/binreply/client.cjs.
type echoAnswer struct {
	Buffer bool `json:"buffer"`
	Value  any  `json:"value"`
	N      int  `json:"n"`
}

// TestBinaryReply: in every runtime, an event hook that answers the
// client's ack with the event's binary argument (its placeholder, moved
// into the reply) gets it to the real socket.io-client as a Buffer, with
// the same bytes; a reply without binary values is plain JSON.
func TestBinaryReply(t *testing.T) {
	specs := buildRuntimePlugins(t, "binreply", host.HookEvent)
	wasmRT := wasm.New(wasm.WithCacheDir(t.TempDir()))
	want := []echoAnswer{
		{Buffer: true, Value: []any{1.0, 2.0, 3.0, 255.0}, N: 2},
		{Buffer: false, Value: "hi", N: 1},
	}
	for _, name := range recoveryRuntimes {
		t.Run(name, func(t *testing.T) {
			h := runtimesHost(t, wasmRT, specs[name])
			srv := hub.New(hub.Options{})
			srv.SetHooks(h.Hooks())
			ts := httptest.NewServer(srv)
			t.Cleanup(func() {
				_ = srv.Close()
				ts.Close()
			})
			if got := runEchoClient(t, ts.URL); !reflect.DeepEqual(got, want) {
				t.Fatalf("the client's acks: %+v, want %+v", got, want)
			}
		})
	}
}

// nodeClient is the command that runs script (a path from the
// repository's root) with node and args, with the socket.io-client the
// hub package's compatibility tests install; it is killed after limit,
// and when the test ends.
func nodeClient(t *testing.T, limit time.Duration, script string, args ...string) *exec.Cmd {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	modules := filepath.Join(root, "hub/testdata/client/node_modules")
	if _, err := os.Stat(filepath.Join(modules, "socket.io-client")); err != nil {
		t.Fatalf("socket.io-client is not installed in %s: run npm ci there (scripts/test.sh does)", modules)
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, "node", append([]string{filepath.Join(root, script)}, args...)...)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	return cmd
}

// serveWithAPI serves srv's Socket.IO and api's HTTP API over loopback
// until the test ends, and returns the base URL.
func serveWithAPI(t *testing.T, srv *hub.Server, api http.Handler) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	mux.Handle("/api/", api)
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		_ = srv.Close()
		ts.Close()
	})
	return ts.URL
}

// startPiped starts cmd with pipes to its stdin and from its stdout, and
// its stderr kept.
func startPiped(t *testing.T, cmd *exec.Cmd) (io.WriteCloser, io.ReadCloser, *bytes.Buffer) {
	t.Helper()
	stderr := new(bytes.Buffer)
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return stdin, stdout, stderr
}

// runNodeClient runs the script (a path from the repository's root) with
// node against base, with the socket.io-client the hub package's
// compatibility tests install, and returns what it printed.
func runNodeClient(t *testing.T, script, base string) []byte {
	t.Helper()
	cmd := nodeClient(t, 2*time.Minute, script, base)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, stderr.Bytes())
	}
	return out
}

// runEchoClient runs testdata/binreply/client.cjs against base with the
// socket.io-client the hub package's compatibility tests install.
func runEchoClient(t *testing.T, base string) []echoAnswer {
	t.Helper()
	out := runNodeClient(t, "host/testdata/binreply/client.cjs", base)
	var got []echoAnswer
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var a echoAnswer
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("client line %q: %v", sc.Text(), err)
		}
		got = append(got, a)
	}
	return got
}

// syncBuffer is a log destination the test reads while the host writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestForgedPlaceholderRefused: a decision whose reply or args point at a
// binary value the event does not have is the plugin's failure, logged
// with its name; with the fail-open policy the event goes on as if the
// plugin had not answered.
func TestForgedPlaceholderRefused(t *testing.T) {
	for _, field := range []string{"reply", "args"} {
		t.Run(field, func(t *testing.T) {
			var logs syncBuffer
			h := host.New(slog.New(slog.NewTextHandler(&logs, nil)))
			generousBudgets(h)
			h.Register("js", js.Runtime{})
			t.Cleanup(func() { _ = h.Close() })
			src := `hubd.on("event", () => ({ action: "` + map[string]string{"reply": "reply", "args": "allow"}[field] +
				`", ` + field + `: [{ _placeholder: true, num: 1 }] }));`
			if err := h.Load(t.Context(), []host.Spec{jsPlugin(t, "forger", "allow", src)}); err != nil {
				t.Fatal(err)
			}
			env := event("s1", "x", wire.Raw(`[{"_placeholder":true,"num":0}]`))
			env.Attachments = [][]byte{{1}}
			d := h.Run(t.Context(), env)
			if d.Action != "" && d.Action != host.Allow || d.Reply != nil || d.Args != nil {
				t.Fatalf("decision %+v, want none taken from the plugin", d)
			}
			if out := outcomes(h, "forger"); out["error"] != 1 {
				t.Fatalf("outcomes %v, want one error", out)
			}
			if l := logs.String(); !strings.Contains(l, "plugin=forger") || !strings.Contains(l, field+":") {
				t.Fatalf("log %q: want the plugin's name and the field", l)
			}
		})
	}
}
