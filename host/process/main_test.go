package process

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/internal/waitfor"
)

// The plugins the tests run, built by TestMain.
var (
	policyBin string // examples/process/policy
	faultyBin string // testdata/faulty
	legacyBin string // testdata/legacy
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "hubd-process-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	gotool := "go"
	if root := os.Getenv("GOROOT"); root != "" {
		gotool = filepath.Join(root, "bin", "go")
	}
	cmd := exec.Command(gotool, "build", "-o", dir+string(filepath.Separator),
		"github.com/hubd/hubd/examples/process/policy",
		"github.com/hubd/hubd/host/process/testdata/faulty",
		"github.com/hubd/hubd/host/process/testdata/legacy")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the test plugins: %v\n%s", err, out)
		return 1
	}
	policyBin = filepath.Join(dir, "policy")
	faultyBin = filepath.Join(dir, "faulty")
	legacyBin = filepath.Join(dir, "legacy")
	return m.Run()
}

// logSink keeps the records a plugin logs.
type logSink struct {
	mu      sync.Mutex
	records []string
}

func (s *logSink) Enabled(context.Context, slog.Level) bool { return true }

func (s *logSink) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	s.mu.Lock()
	s.records = append(s.records, b.String())
	s.mu.Unlock()
	return nil
}

func (s *logSink) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &childSink{s, attrs}
}

func (s *logSink) WithGroup(string) slog.Handler { return s }

type childSink struct {
	*logSink
	attrs []slog.Attr
}

func (c *childSink) Handle(ctx context.Context, r slog.Record) error {
	r.AddAttrs(c.attrs...)
	return c.logSink.Handle(ctx, r)
}

func (c *childSink) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &childSink{c.logSink, append(c.attrs[:len(c.attrs):len(c.attrs)], attrs...)}
}

// find returns the first record holding every part.
func (s *logSink) find(parts ...string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
next:
	for _, r := range s.records {
		for _, p := range parts {
			if !strings.Contains(r, p) {
				continue next
			}
		}
		return r, true
	}
	return "", false
}

// wait waits for a record holding every part, for up to 30 s.
func (s *logSink) wait(t testing.TB, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if r, ok := s.find(parts...); ok {
			return r
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t.Fatalf("no log record with %q; got:\n%s", parts, strings.Join(s.records, "\n"))
	return ""
}

// load loads a plugin the way host.Host does: manifest validated first.
func load(t testing.TB, rt *Runtime, entry string, edit func(*host.Manifest)) (*plugin, *logSink) {
	t.Helper()
	return loadSpec(t, rt, host.Spec{Entry: entry}, edit)
}

// loadSpec is load with the rest of the spec (Revoke) given.
func loadSpec(t testing.TB, rt *Runtime, spec host.Spec, edit func(*host.Manifest)) (*plugin, *logSink) {
	t.Helper()
	m := host.Manifest{Name: filepath.Base(spec.Entry), Runtime: "process"}
	if edit != nil {
		edit(&m)
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	sink := &logSink{}
	spec.Manifest, spec.Logger = m, slog.New(sink)
	hp, err := rt.Load(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hp.Close() })
	return hp.(*plugin), sink
}

// long is the deadline of calls whose timing a test is not about: far
// more than a call takes on a loaded machine under the race detector.
const long = 30 * time.Second

// call calls the plugin with a deadline, as the chain does.
func call(p host.Plugin, env *host.Envelope, timeout time.Duration) (*host.Decision, error) {
	return p.Handle(host.WithDeadline(context.Background(), time.Now().Add(timeout)), env)
}

func event(socket, name string, args string) *host.Envelope {
	return &host.Envelope{
		Hook:      host.HookEvent,
		Namespace: "/",
		Socket:    host.Socket{ID: socket, Rooms: []string{"lobby"}},
		Event:     name,
		Args:      []byte(args),
		Rooms:     []string{"lobby"},
	}
}

// pid is the pid of the plugin's process now (0 while restarting).
func (p *plugin) pid() int {
	if inst := p.cur.Load(); inst != nil {
		return inst.runner.pid
	}
	return 0
}

// waitBack waits, for up to 30 s, until the plugin answers an echo again.
func waitBack(t testing.TB, p *plugin) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		var d *host.Decision
		d, err = call(p, event("s1", "echo", `["back"]`), 5*time.Second)
		if err == nil && d != nil && string(d.Args) == `["back"]` {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the plugin did not come back: %v", err)
}

// waitFor polls cond for up to 30 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	limit := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(limit) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// holdFile returns the path that releases the test plugin's "hold" calls
// once release creates it.
func holdFile(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "release")
}

// release creates path, which lets the "hold" calls waiting on it return.
func release(t testing.TB, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// returns waits for f to return (see waitfor.Return).
func returns(t testing.TB, what string, f func() error) error {
	t.Helper()
	return waitfor.Return(t, what, f)
}
