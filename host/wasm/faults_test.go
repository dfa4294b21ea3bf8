package wasm

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/sdk/wire"
)

// mustOK runs an "ok" event and fails the test if it does not succeed
// (the pool may still be refilling: the call waits for an instance).
func mustOK(t *testing.T, p *Plugin) {
	t.Helper()
	if _, err := call(p, eventEnv("ok", "[]"), 10*time.Second); err != nil {
		t.Fatalf("the next call failed: %v", err)
	}
}

// replaced waits until the plugin has replaced n instances and its pool is
// full again.
func replaced(t *testing.T, p *Plugin, n int64) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d instance(s) replaced", n), func() bool {
		s := p.Stats()
		return s.Replaced == n && s.Free == s.Instances
	})
}

func testTimeout(t *testing.T, entry, event string, opts ...Option) {
	p := load(t, entry, func(m *host.Manifest) { m.Timeout = host.Duration(50 * time.Millisecond) }, opts...)
	t0 := time.Now()
	var took time.Duration
	err := returns(t, "the call", func() error {
		_, err := call(p, eventEnv(event, "[]"), 50*time.Millisecond)
		took = time.Since(t0)
		return err
	})
	if !isTimeout(err) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	t.Logf("stopped after %v: %v", took, err)
	replaced(t, p, 1)
	mustOK(t, p)
}

func TestTimeoutEndlessLoop(t *testing.T) { testTimeout(t, guestFaults, "loop") }

// TestTimeoutSleep: sleeping does not block the host (WASI sleeps return at
// once), so a guest that sleeps spins and is stopped like a loop.
func TestTimeoutSleep(t *testing.T) { testTimeout(t, guestFaults, "sleep") }

func TestTimeoutEndlessLoopC(t *testing.T) {
	needC(t)
	testTimeout(t, guestCTest, "loop")
}

// TestTimeoutCloseOnDone checks the fallback way of stopping calls.
func TestTimeoutCloseOnDone(t *testing.T) {
	needC(t)
	testTimeout(t, guestCTest, "loop", WithTermination(CloseOnDone))
}

func TestMemoryBomb(t *testing.T) {
	p := load(t, guestFaults, func(m *host.Manifest) { m.MaxMemoryPages = 128 })
	_, err := call(p, eventEnv("bomb", "[]"), 10*time.Second)
	if err == nil || isTimeout(err) {
		t.Fatalf("err = %v, want a trap", err)
	}
	if !strings.Contains(err.Error(), "out of memory") {
		t.Errorf("the error does not say why: %v", err)
	}
	t.Log(err)
	replaced(t, p, 1)
	mustOK(t, p)
}

func TestMemoryBombC(t *testing.T) {
	needC(t)
	p := load(t, guestCTest, func(m *host.Manifest) { m.MaxMemoryPages = 64 })
	_, err := call(p, eventEnv("bomb", "[]"), 10*time.Second)
	if err == nil || isTimeout(err) {
		t.Fatalf("err = %v, want a trap", err)
	}
	if !strings.Contains(err.Error(), "of 64 pages") {
		t.Errorf("the error does not show the memory at its limit: %v", err)
	}
	replaced(t, p, 1)
	mustOK(t, p)
}

// TestPanic: the SDK recovers a handler's panic and reports it; the
// instance stays.
func TestPanic(t *testing.T) {
	p := load(t, guestFaults, nil)
	_, err := call(p, eventEnv("panic", "[]"), time.Second)
	if err == nil || !strings.Contains(err.Error(), "panic: boom") {
		t.Fatalf("err = %v, want the panic", err)
	}
	mustOK(t, p)
	if s := p.Stats(); s.Replaced != 0 {
		t.Errorf("replaced %d instances after a recovered panic", s.Replaced)
	}
}

func TestExit(t *testing.T) {
	p := load(t, guestFaults, nil)
	_, err := call(p, eventEnv("exit", "[]"), time.Second)
	if err == nil || !strings.Contains(err.Error(), "exit_code(3)") {
		t.Fatalf("err = %v, want exit code 3", err)
	}
	replaced(t, p, 1)
	mustOK(t, p)
}

func TestTrapC(t *testing.T) {
	needC(t)
	p := load(t, guestCTest, nil)
	_, err := call(p, eventEnv("trap", "[]"), time.Second)
	if err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("err = %v, want the trap", err)
	}
	replaced(t, p, 1)
	mustOK(t, p)
}

func TestFailureStatusC(t *testing.T) {
	needC(t)
	p := load(t, guestCTest, nil)
	_, err := call(p, eventEnv("fail", "[]"), time.Second)
	if err == nil || !strings.Contains(err.Error(), "status 7") || !strings.Contains(err.Error(), "something went wrong") {
		t.Fatalf("err = %v", err)
	}
	mustOK(t, p)
}

func TestGarbageOutput(t *testing.T) {
	p := load(t, guestFaults, nil)
	for _, ev := range []string{"garbage", "badaction", "oversize"} {
		_, err := call(p, eventEnv(ev, "[]"), 5*time.Second)
		if !errors.Is(err, host.ErrGarbage) {
			t.Errorf("%s: err = %v, want ErrGarbage", ev, err)
		}
		if ev == "oversize" && (err == nil || !strings.Contains(err.Error(), "limit")) {
			t.Errorf("oversize: err = %v", err)
		}
		mustOK(t, p)
	}
}

// TestGarbageThroughHost: the host's failure policy applies to garbage.
func TestGarbageThroughHost(t *testing.T) {
	h := host.New(nil)
	h.Register("wasm", New(WithCompilationCache(testCache)))
	if err := h.Load(t.Context(), []host.Spec{{
		Manifest: host.Manifest{Name: "faults", Runtime: "wasm", PoolSize: 1, OnError: "deny"},
		Entry:    guestFaults,
	}}); err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	env := eventEnv("garbage", "[]")
	if d := h.Run(t.Context(), env); d.Action != host.Deny || d.Reason != "plugin unavailable" {
		t.Fatalf("decision %s, want the fail-closed deny", show(&d))
	}
}

// TestNoDataAcrossSockets runs many sockets' calls at once (run with
// -race): each must see only its own socket's id and data.
func TestNoDataAcrossSockets(t *testing.T) {
	p := load(t, guestFaults, func(m *host.Manifest) { m.PoolSize = 3 })
	const sockets, calls = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, sockets)
	for s := 0; s < sockets; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("socket-%02d", s)
			data := fmt.Sprintf(`{"user":"user-%02d","secret":%q}`, s, strings.Repeat(string(rune('a'+s)), 10*s+1))
			for i := 0; i < calls; i++ {
				arg := fmt.Sprintf(`["%s-%d"]`, id, i)
				env := &host.Envelope{
					Hook: host.HookEvent, Namespace: "/",
					Socket: host.Socket{ID: id, Rooms: []string{}, Data: wire.Raw(data)},
					Event:  "echo", Args: wire.Raw(arg),
				}
				d, err := call(p, env, 5*time.Second)
				if err != nil {
					errs <- err
					return
				}
				want := fmt.Sprintf(`[%q,%s,"%s-%d"]`, id, data, id, i)
				if string(d.Reply) != want {
					errs <- fmt.Errorf("socket %s call %d: reply %s, want %s", id, i, d.Reply, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestSandbox: no file, directory, environment or arguments reach a guest.
func TestSandbox(t *testing.T) {
	p := load(t, guestFaults, nil)
	d, err := call(p, eventEnv("sandbox", "[]"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var got []any
	if err := json.Unmarshal(d.Reply, &got); err != nil || len(got) != 6 {
		t.Fatalf("reply %s: %v", d.Reply, err)
	}
	for i, what := range []string{"reading /etc/passwd", "listing /", "creating a file"} {
		if s, _ := got[i].(string); s == "" {
			t.Errorf("%s did not fail", what)
		} else {
			t.Logf("%s: %s", what, s)
		}
	}
	if got[3] != 0.0 || got[4] != "" {
		t.Errorf("the guest sees an environment: %v entries, HOME=%v", got[3], got[4])
	}
	if n, _ := got[5].(float64); n > 1 {
		t.Errorf("the guest sees %v arguments", n)
	}
}

func TestSandboxC(t *testing.T) {
	needC(t)
	p := load(t, guestCTest, nil)
	d, err := call(p, eventEnv("sandbox", "[]"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if string(d.Reply) != `[null,null]` {
		t.Fatalf("reply %s: the C guest opened a file or saw HOME", d.Reply)
	}
}

func TestHostLog(t *testing.T) {
	p, logs := loadLogged(t, guestFaults, nil)
	if _, err := call(p, eventEnv("log", "[]"), time.Second); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	for _, want := range []string{
		`level=INFO msg="hello from the guest" hook=event socket=AbCdEfGhIjKlMnOpQrSt`,
		`level=WARN msg=careful`,
		`level=INFO msg="a line on stdout"`,
		`level=WARN msg="a line on stderr"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestHostConfig(t *testing.T) {
	p := load(t, guestFaults, func(m *host.Manifest) { m.Config = json.RawMessage(`{"greeting":"hi","n":[1,2]}`) })
	d, err := call(p, eventEnv("config", "[]"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if string(d.Reply) != `[{"greeting":"hi","n":[1,2]}]` {
		t.Fatalf("reply %s", d.Reply)
	}
	p = load(t, guestFaults, nil)
	if d, err = call(p, eventEnv("config", "[]"), time.Second); err != nil || string(d.Reply) != `[null]` {
		t.Fatalf("without config: %s, %v", d.Reply, err)
	}
}

func TestHostClock(t *testing.T) {
	p := load(t, guestFaults, nil)
	before := time.Now().UnixNano()
	d, err := call(p, eventEnv("clock", "[]"), time.Second)
	after := time.Now().UnixNano()
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	if err := json.Unmarshal(d.Reply, &got); err != nil || len(got) != 2 {
		t.Fatalf("reply %s: %v", d.Reply, err)
	}
	for i, name := range []string{"hubd.now_ns", "WASI clock"} {
		if got[i] < before || got[i] > after {
			t.Errorf("%s = %d, not within [%d, %d]", name, got[i], before, after)
		}
	}
}

func TestAttachments(t *testing.T) {
	p := load(t, guestFaults, nil)
	env := eventEnv("attach", `[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
	env.Attachments = [][]byte{[]byte("abc"), []byte("de")}
	d, err := call(p, env, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if string(d.Reply) != `[["abc","de"]]` {
		t.Fatalf("reply %s", d.Reply)
	}
	if d, err = call(p, eventEnv("attach", "[]"), time.Second); err != nil || string(d.Reply) != `[[]]` {
		t.Fatalf("no attachments: %s, %v", d.Reply, err)
	}
}

// TestLargeEnvelope makes the host grow the guest's buffer.
func TestLargeEnvelope(t *testing.T) {
	p := load(t, guestFaults, nil)
	args := `["` + strings.Repeat("x", 300_000) + `"]`
	d, err := call(p, eventEnv("big", args), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if string(d.Reply) != fmt.Sprintf("[%d]", len(args)) {
		t.Fatalf("reply %s", d.Reply)
	}
	mustOK(t, p)
}

// TestRecycle: an instance is replaced after its share of calls, without
// a failed call.
func TestRecycle(t *testing.T) {
	p := load(t, guestFaults, nil, WithRecycleAfter(3))
	var got []string
	for i := 0; i < 7; i++ {
		d, err := call(p, eventEnv("count", "[]"), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(d.Reply))
	}
	want := []string{`["1"]`, `["2"]`, `["3"]`, `["1"]`, `["2"]`, `["3"]`, `["1"]`}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("counts %v, want %v", got, want)
	}
}

func TestHooksMask(t *testing.T) {
	needC(t)
	p := load(t, guestCTest, nil)
	if got := p.Hooks(); !reflect.DeepEqual(got, []host.Hook{host.HookEvent}) {
		t.Fatalf("Hooks() = %v", got)
	}
	env := &host.Envelope{Hook: host.HookConnect, Namespace: "/", Socket: host.Socket{ID: "x"}}
	if d, err := call(p, env, time.Second); err != nil || !reflect.DeepEqual(*d, host.Decision{}) {
		t.Fatalf("a hook the guest does not handle: %v, %v", d, err)
	}
}

func TestClose(t *testing.T) {
	p := load(t, guestFaults, func(m *host.Manifest) { m.PoolSize = 2 })
	mustOK(t, p)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := call(p, eventEnv("ok", "[]"), time.Second); !errors.Is(err, errClosed) {
		t.Fatalf("after Close: %v", err)
	}
	waitFor(t, "instances freed", func() bool { return p.live.Load() == 0 })
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		path := dir + "/" + name
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	empty := write("empty.wasm", []byte("\x00asm\x01\x00\x00\x00"))
	junk := write("junk.wasm", []byte("not wasm at all"))
	rt := New(WithCompilationCache(testCache))
	cases := []struct {
		name, entry, want string
		mod               func(*host.Manifest)
	}{
		{"missing file", dir + "/none.wasm", "no such file", nil},
		{"not wasm", junk, "compiling", nil},
		{"no ABI marker", empty, "does not export hubd_abi_v1", nil},
		{"unknown capability", guestFaults, `capability "net"`, func(m *host.Manifest) { m.Capabilities = []string{"log", "net"} }},
		{"memory limit below the module's", guestFaults, "", func(m *host.Manifest) { m.MaxMemoryPages = 16 }},
	}
	for _, c := range cases {
		m := host.Manifest{Name: "x", Runtime: "wasm", PoolSize: 1}
		if c.mod != nil {
			c.mod(&m)
		}
		if err := m.Validate(); err != nil {
			t.Fatal(err)
		}
		_, err := rt.Load(t.Context(), host.Spec{Manifest: m, Entry: c.entry})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		} else {
			t.Logf("%s: %v", c.name, err)
		}
	}
}

// TestCacheDir: compiled code goes to the cache directory, and a second
// runtime loads from it.
func TestCacheDir(t *testing.T) {
	needC(t)
	dir := t.TempDir()
	for i := 0; i < 2; i++ {
		rt := New(WithCacheDir(dir))
		m := host.Manifest{Name: "c", Runtime: "wasm", PoolSize: 1}
		_ = m.Validate()
		p, err := rt.Load(t.Context(), host.Spec{Manifest: m, Entry: guestC})
		if err != nil {
			t.Fatal(err)
		}
		env := evEnv("ping", "[]")
		if d, err := p.Handle(host.WithDeadline(t.Context(), time.Now().Add(30*time.Second)), &env); err != nil || d.Action != host.Reply {
			t.Fatalf("run %d: %v %v", i, d, err)
		}
		_ = p.Close()
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) == 0 {
		t.Fatal("nothing in the cache directory")
	}
}

// TestWatchdogParks: the watchdog sleeps when no call runs, and the next
// call wakes it.
func TestWatchdogParks(t *testing.T) {
	rt := New(WithCompilationCache(testCache))
	m := host.Manifest{Name: "f", Runtime: "wasm", PoolSize: 1, Timeout: host.Duration(20 * time.Millisecond)}
	_ = m.Validate()
	pl, err := rt.Load(t.Context(), host.Spec{Manifest: m, Entry: guestFaults})
	if err != nil {
		t.Fatal(err)
	}
	p := pl.(*Plugin)
	defer p.Close()
	waitFor(t, "the watchdog to park", rt.wd.asleep.Load)
	if _, err := call(p, eventEnv("loop", "[]"), 20*time.Millisecond); !isTimeout(err) {
		t.Fatalf("a parked watchdog did not stop the loop: %v", err)
	}
}

// TestGCWhileLooping: a guest looping in native code does not hold off the
// process's garbage collections (nor, so, every other goroutine): the
// instrumented loops leave the native code regularly.
func TestGCWhileLooping(t *testing.T) {
	for _, entry := range []string{guestFaults, guestCTest} {
		if entry == guestCTest {
			needC(t)
		}
		// The loop runs for 5 s, far longer than a collection takes even
		// on a loaded machine; one that waited for the loop to end would
		// finish after it.
		const loop = 5 * time.Second
		p, logs := loadLogged(t, entry, func(m *host.Manifest) { m.Timeout = host.Duration(loop) })
		done := make(chan error, 1)
		go func() {
			_, err := call(p, eventEnv("logloop", "[]"), loop)
			done <- err
		}()
		waitFor(t, "the guest to loop", func() bool { return strings.Contains(logs.String(), "looping") })
		gc := make(chan struct{})
		go func() {
			runtime.GC()
			close(gc)
		}()
		select {
		case <-gc:
			select {
			case err := <-done:
				t.Fatalf("%s: the loop ended (%v) before the GC finished", filepath.Base(entry), err)
			default:
			}
		case err := <-done:
			t.Fatalf("%s: the loop ended (%v) before the GC finished", filepath.Base(entry), err)
		}
		if err := <-done; !isTimeout(err) {
			t.Fatalf("err = %v", err)
		}
	}
}
