package process

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hubd/hubd/host"
)

func TestEcho(t *testing.T) {
	p, _ := load(t, &Runtime{}, faultyBin, nil)
	d, err := call(p, event("s9", "echo", `["a",{"b":[1,2]}]`), long)
	if err != nil {
		t.Fatal(err)
	}
	if d.Event != "echo:s9" || string(d.Args) != `["a",{"b":[1,2]}]` {
		t.Fatalf("got %+v", d)
	}
}

// TestAttachments: binary values travel beside the JSON, untouched.
func TestAttachments(t *testing.T) {
	p, _ := load(t, &Runtime{}, faultyBin, nil)
	env := event("s1", "attachments", `["x",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
	env.Attachments = [][]byte{[]byte("first"), {0xff, 0x00, 'z'}}
	d, err := call(p, env, long)
	if err != nil {
		t.Fatal(err)
	}
	want := `[["first","\ufffd\u0000z"],["x",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]]`
	if string(d.Reply) != want {
		t.Fatalf("reply %s\nwant  %s", d.Reply, want)
	}
}

// TestTimeout: a call ends at its deadline, not when the plugin answers:
// the plugin holds this one until after the timeout is seen.
func TestTimeout(t *testing.T) {
	p, _ := load(t, &Runtime{}, faultyBin, nil)
	pid := p.pid()
	held := holdFile(t)
	err := returns(t, "a call past its deadline", func() error {
		_, err := call(p, event("s1", "hold", `[`+strconv.Quote(held)+`]`), 100*time.Millisecond)
		return err
	})
	release(t, held)
	if !errors.Is(err, host.ErrTimeout) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	// The next call works, on the same process.
	d, err := call(p, event("s1", "echo", `["next"]`), long)
	if err != nil || string(d.Args) != `["next"]` {
		t.Fatalf("after a timeout: %+v, %v", d, err)
	}
	if p.pid() != pid {
		t.Errorf("a timeout restarted the process")
	}
}

// TestTimeoutWithoutDeadline: a ctx without a deadline gets the manifest's
// timeout.
func TestTimeoutWithoutDeadline(t *testing.T) {
	p, _ := load(t, &Runtime{}, faultyBin, func(m *host.Manifest) { m.Timeout = host.Duration(100 * time.Millisecond) })
	_, err := p.Handle(context.Background(), event("s1", "sleep", `[1000]`))
	if !errors.Is(err, host.ErrTimeout) {
		t.Fatalf("err = %v, want a timeout", err)
	}
}

func TestPanic(t *testing.T) {
	p, logs := load(t, &Runtime{}, faultyBin, nil)
	pid := p.pid()
	_, err := call(p, event("s1", "panic", `[]`), long)
	if err == nil || errors.Is(err, host.ErrTimeout) {
		t.Fatalf("err = %v, want a failed call", err)
	}
	t.Logf("panic: %v", err)
	waitBack(t, p)
	if p.pid() == pid || p.restarts.Load() != 1 {
		t.Errorf("pid %d → %d, %d restarts; want a new process", pid, p.pid(), p.restarts.Load())
	}
	logs.wait(t, "ERROR", "boom: the plugin panicked")
	logs.wait(t, "WARN", "exited")
}

func TestExit(t *testing.T) {
	p, logs := load(t, &Runtime{}, faultyBin, nil)
	_, err := call(p, event("s1", "exit", `[]`), long)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	waitBack(t, p)
	logs.wait(t, "exit status 3")
}

func TestGarbage(t *testing.T) {
	p, _ := load(t, &Runtime{}, faultyBin, nil)
	pid := p.pid()
	for _, name := range []string{"garbage", "badaction", "oversize"} {
		t.Run(name, func(t *testing.T) {
			d, err := call(p, event("s1", name, `[]`), long)
			if !errors.Is(err, host.ErrGarbage) {
				t.Fatalf("got %+v, %v; want ErrGarbage", d, err)
			}
			t.Log(err)
		})
	}
	if _, err := call(p, event("s1", "echo", `[]`), long); err != nil {
		t.Fatal(err)
	}
	if p.pid() != pid {
		t.Errorf("garbage restarted the process")
	}
}

// TestDecisionCap: the cap is the runtime's; the in-band check reports
// the size.
func TestDecisionCap(t *testing.T) {
	p, _ := load(t, &Runtime{MaxDecisionBytes: 100}, faultyBin, nil)
	if _, err := call(p, event("s1", "echo", `["short"]`), long); err != nil {
		t.Fatal(err)
	}
	_, err := call(p, event("s1", "echo", `["`+strings.Repeat("x", 200)+`"]`), long)
	if !errors.Is(err, host.ErrGarbage) || !strings.Contains(err.Error(), "more than 100") {
		t.Fatalf("err = %v, want ErrGarbage for the size", err)
	}
	_, err = call(p, event("s1", "echo", `["`+strings.Repeat("x", 2000)+`"]`), long)
	if !errors.Is(err, host.ErrGarbage) {
		t.Fatalf("err = %v, want ErrGarbage past the gRPC limit", err)
	}
}

func TestPluginError(t *testing.T) {
	p, _ := load(t, &Runtime{}, faultyBin, nil)
	_, err := call(p, event("s1", "error", `[]`), long)
	if err == nil || !strings.Contains(err.Error(), "the plugin refused") ||
		errors.Is(err, host.ErrTimeout) || errors.Is(err, host.ErrGarbage) || errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want the plugin's error", err)
	}
}

func TestKilledMidCall(t *testing.T) {
	p, logs := load(t, &Runtime{}, faultyBin, nil)
	pid := p.pid()
	errc := make(chan error, 1)
	never := holdFile(t) // only the kill ends the call
	go func() {
		_, err := call(p, event("s1", "hold", `[`+strconv.Quote(never)+`]`), 2*long)
		errc <- err
	}()
	logs.wait(t, "holding", "socket=s1")
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("the call in flight: %v, want ErrUnavailable", err)
		}
	case <-time.After(long):
		t.Fatal("the call in flight did not fail")
	}
	waitBack(t, p)
	if p.pid() == pid {
		t.Errorf("same pid after a kill")
	}
	logs.wait(t, "signal: killed")
	for range 20 {
		if _, err := call(p, event("s1", "echo", `[1]`), long); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRestartBackoff: a process that keeps dying young is started again
// after a delay that doubles up to RestartMax.
func TestRestartBackoff(t *testing.T) {
	rt := &Runtime{RestartMin: 20 * time.Millisecond, RestartMax: 80 * time.Millisecond}
	p, logs := load(t, rt, faultyBin, nil)
	for _, delay := range []string{"20ms", "40ms", "80ms", "80ms"} {
		pid := p.pid()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		logs.wait(t, "WARN", fmt.Sprintf("pid=%d", pid), "delay="+delay)
		waitBack(t, p)
	}
	if n := p.restarts.Load(); n != 4 {
		t.Errorf("%d restarts, want 4", n)
	}
}

// TestUnavailableWhileRestarting: while the process waits to be started
// again, a call fails at once with ErrUnavailable; one that waited for the
// restart, an hour away, would end as a timeout instead.
func TestUnavailableWhileRestarting(t *testing.T) {
	p, _ := load(t, &Runtime{RestartMin: time.Hour}, faultyBin, nil)
	if err := syscall.Kill(p.pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the exit to be seen", func() bool { return p.cur.Load() == nil })
	_, err := call(p, event("s1", "echo", `[]`), long)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable at once", err)
	}
}

// TestConcurrent: many callers at once, more than the calls allowed in
// flight, each getting its own answer.
func TestConcurrent(t *testing.T) {
	p, _ := load(t, &Runtime{MaxInFlight: 4}, faultyBin, nil)
	const callers, calls = 16, 50
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range calls {
				socket := fmt.Sprintf("s%d", c)
				arg := fmt.Sprintf(`["%d-%d",{"n":%d}]`, c, i, i)
				d, err := call(p, event(socket, "echo", arg), long)
				if err != nil {
					errs <- err
					return
				}
				if d.Event != "echo:"+socket || string(d.Args) != arg {
					errs <- fmt.Errorf("caller %d call %d got %s %s", c, i, d.Event, d.Args)
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

// TestInFlightCap: a call that finds no slot before its deadline times
// out without reaching the process.
func TestInFlightCap(t *testing.T) {
	p, logs := load(t, &Runtime{MaxInFlight: 1}, faultyBin, nil)
	held := holdFile(t)
	done := make(chan error, 1)
	go func() {
		_, err := call(p, event("s1", "hold", `[`+strconv.Quote(held)+`]`), long)
		done <- err
	}()
	logs.wait(t, "holding", "socket=s1") // the one slot is taken
	_, err := call(p, event("s2", "echo", `[]`), 100*time.Millisecond)
	if !errors.Is(err, host.ErrTimeout) || !strings.Contains(err.Error(), "in flight") {
		t.Fatalf("err = %v, want a timeout waiting for a slot", err)
	}
	release(t, held)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := call(p, event("s2", "echo", `[]`), long); err != nil {
		t.Fatal(err)
	}
}

// TestObserve: an observed call returns without waiting for the plugin,
// which here handles none before every call has returned, and each reaches
// it.
func TestObserve(t *testing.T) {
	held := holdFile(t)
	p, logs := load(t, &Runtime{}, faultyBin, func(m *host.Manifest) {
		m.Config = json.RawMessage(`{"hold":` + strconv.Quote(held) + `}`)
	})
	for i := range 100 {
		env := &host.Envelope{Hook: host.HookDisconnect, Namespace: "/", Socket: host.Socket{ID: fmt.Sprintf("gone%d", i)}, Reason: "transport close"}
		d, err := call(p, env, long)
		if err != nil || d != nil {
			t.Fatalf("observe: %+v, %v", d, err)
		}
	}
	if r, ok := logs.find("observed disconnect"); ok {
		t.Fatalf("the plugin handled a disconnect before it was let to: %s", r)
	}
	release(t, held)
	logs.wait(t, "observed disconnect", "socket=gone0")
	logs.wait(t, "observed disconnect", "socket=gone99")
}

func TestLogs(t *testing.T) {
	p, logs := load(t, &Runtime{}, faultyBin, nil)
	if _, err := call(p, event("s7", "log", `[]`), long); err != nil {
		t.Fatal(err)
	}
	logs.wait(t, "INFO", "hello from the plugin", "socket=s7")
	logs.wait(t, "INFO", "a plain line on stdout", "stream=stdout")
}

func TestEnvironmentAndConfig(t *testing.T) {
	t.Setenv("HUBD_TEST_SECRET", "s3cret")
	manifest := func(caps ...string) func(*host.Manifest) {
		return func(m *host.Manifest) {
			m.Name = "cfg"
			m.Config = json.RawMessage(`{"greeting":"hi"}`)
			m.Capabilities = caps
		}
	}
	for _, c := range []struct {
		caps []string
		want string
	}{
		{nil, `[{"greeting":"hi"},"cfg",""]`},
		{[]string{"env"}, `[{"greeting":"hi"},"cfg","s3cret"]`},
	} {
		p, _ := load(t, &Runtime{}, faultyBin, manifest(c.caps...))
		d, err := call(p, event("s1", "config", `[]`), long)
		if err != nil {
			t.Fatal(err)
		}
		if string(d.Reply) != c.want {
			t.Errorf("capabilities %v: reply %s, want %s", c.caps, d.Reply, c.want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		return path
	}
	notPlugin := write("hello", "#!/bin/sh\necho hello\n", 0o755)
	silent := write("silent", "#!/bin/sh\nexec sleep 60\n", 0o755)
	plain := write("plain", "data", 0o644)
	rt := &Runtime{StartTimeout: 500 * time.Millisecond}
	for _, c := range []struct {
		name, entry, want string
	}{
		{"missing", filepath.Join(dir, "nothing"), "no such file"},
		{"directory", dir, "is a directory"},
		{"not executable", plain, "not executable"},
		{"not a plugin", notPlugin, "hello"},
		{"silent", silent, "timeout"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := host.Manifest{Name: c.name, Runtime: "process"}
			_ = m.Validate()
			err := returns(t, "the load", func() error {
				p, err := rt.Load(context.Background(), host.Spec{Manifest: m, Entry: c.entry})
				if err == nil {
					p.Close()
					return errors.New("loaded")
				}
				return err
			})
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want it to say %q", err, c.want)
			}
		})
	}
}

// TestLoadContextEnds: a process that never completes the handshake is
// given up when the load's context ends (its deadline, or a cancellation
// such as SIGTERM's), however long StartTimeout is.
func TestLoadContextEnds(t *testing.T) {
	dir := t.TempDir()
	started := filepath.Join(dir, "started")
	silent := filepath.Join(dir, "silent")
	if err := os.WriteFile(silent, []byte("#!/bin/sh\ntouch "+started+"\nexec sleep 3600\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	rt := &Runtime{StartTimeout: time.Hour}
	m := host.Manifest{Name: "silent", Runtime: "process"}
	_ = m.Validate()
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		p, err := rt.Load(ctx, host.Spec{Manifest: m, Entry: silent})
		if err == nil {
			p.Close()
			t.Fatal("loaded")
		}
		if !strings.Contains(err.Error(), "timeout") && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want a timeout", err)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		_ = os.Remove(started)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		done := make(chan error, 1)
		go func() {
			p, err := rt.Load(ctx, host.Spec{Manifest: m, Entry: silent})
			if err == nil {
				p.Close()
			}
			done <- err
		}()
		waitFor(t, "the process to start", func() bool {
			_, err := os.Stat(started)
			return err == nil
		})
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}

func TestClose(t *testing.T) {
	// Close waits up to the manifest's timeout for the calls in flight.
	p, logs := load(t, &Runtime{}, faultyBin, func(m *host.Manifest) { m.Timeout = host.Duration(long) })
	pid := p.pid()
	// A call in flight finishes before the process is stopped: Close has
	// begun (the plugin takes no more calls) when the plugin lets the call
	// return.
	held := holdFile(t)
	done := make(chan error, 1)
	go func() {
		_, err := call(p, event("s1", "hold", `[`+strconv.Quote(held)+`]`), long)
		done <- err
	}()
	logs.wait(t, "holding", "socket=s1")
	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	waitFor(t, "Close to begin", func() bool { return p.cur.Load() == nil })
	release(t, held)
	if err := <-done; err != nil {
		t.Errorf("the call in flight: %v", err)
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(long):
		t.Fatal("Close did not return")
	}
	if _, err := call(p, event("s1", "echo", `[]`), long); !errors.Is(err, ErrUnavailable) {
		t.Errorf("after Close: %v, want ErrUnavailable", err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("the process %d is still there: %v", pid, err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestCloseWhileDying: Close as the process exits, or while it waits to be
// started again, returns promptly and leaves nothing running.
func TestCloseWhileDying(t *testing.T) {
	for i := range 5 {
		p, _ := load(t, &Runtime{RestartMin: time.Duration(i) * 20 * time.Millisecond}, faultyBin, nil)
		pid := p.pid()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		// Each round closes at another point of the exit and restart.
		time.Sleep(time.Duration(i) * 10 * time.Millisecond)
		if err := returns(t, "Close", p.Close); err != nil {
			t.Fatal(err)
		}
		// Only the supervisor starts a process again: once it is done,
		// none can appear.
		_ = returns(t, "the supervisor", func() error { p.supervisor.Wait(); return nil })
		if now := p.cur.Load(); now != nil {
			t.Errorf("an instance is left after Close")
		}
	}
}
