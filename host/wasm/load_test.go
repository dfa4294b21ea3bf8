package wasm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/host"
)

// tryLoad loads entry with its own runtime and returns the error; a plugin
// that loads is closed.
func tryLoad(ctx context.Context, entry string, opts ...Option) error {
	m := host.Manifest{Name: "load", Runtime: "wasm", PoolSize: 2}
	if err := m.Validate(); err != nil {
		return err
	}
	rt := New(append([]Option{WithCompilationCache(testCache)}, opts...)...)
	p, err := rt.Load(ctx, host.Spec{Manifest: m, Entry: entry})
	if err == nil {
		_ = p.Close()
	}
	return err
}

// TestLoadLoopingGuest: a guest whose hubd_hooks or _initialize never
// returns fails to load with an error that says where and within what
// limit, in either way of stopping calls. Before hubd_hooks ran under the
// load deadline, this test hung.
func TestLoadLoopingGuest(t *testing.T) {
	needC(t)
	for _, c := range []struct {
		name, entry, where string
	}{
		{"hooks", guestCHooks, "hubd_hooks"},
		{"initialize", guestCInit, "_initialize"},
	} {
		for _, mode := range []Termination{Interrupt, CloseOnDone} {
			t.Run(c.name+"/"+mode.String(), func(t *testing.T) {
				err := tryLoad(t.Context(), c.entry, WithLoadTimeout(100*time.Millisecond), WithTermination(mode))
				if !errors.Is(err, host.ErrTimeout) {
					t.Fatalf("err = %v, want ErrTimeout", err)
				}
				for _, want := range []string{c.where, "100ms", "time limit for loading"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("the error does not say %q: %v", want, err)
					}
				}
			})
		}
	}
}

// TestLoadContextEnds: the load's context bounds it too: its deadline, and
// its cancellation while the guest spins.
func TestLoadContextEnds(t *testing.T) {
	needC(t)
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		err := tryLoad(ctx, guestCHooks, WithLoadTimeout(time.Hour))
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, host.ErrTimeout) {
			t.Fatalf("err = %v, want the context's deadline", err)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		rt := New(WithCompilationCache(testCache), WithLoadTimeout(time.Hour))
		m := host.Manifest{Name: "load", Runtime: "wasm", PoolSize: 1}
		_ = m.Validate()
		done := make(chan error, 1)
		go func() {
			p, err := rt.Load(ctx, host.Spec{Manifest: m, Entry: guestCHooks})
			if err == nil {
				_ = p.Close()
			}
			done <- err
		}()
		// Cancel once the guest is being initialised under the watchdog.
		waitFor(t, "the guest to start initialising", func() bool {
			rt.wd.mu.Lock()
			defer rt.wd.mu.Unlock()
			for in := range rt.wd.insts {
				if in.deadline.Load() > 0 {
					return true
				}
			}
			return false
		})
		cancel()
		err := <-done
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}

// TestLoadStartFunction: a module with a start function is refused before
// it runs (instantiation would run it outside any deadline; this one
// loops forever).
func TestLoadStartFunction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "start.wasm")
	if err := os.WriteFile(path, startLoopPlugin(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []Termination{Interrupt, CloseOnDone} {
		err := tryLoad(t.Context(), path, WithTermination(mode))
		if err == nil || !strings.Contains(err.Error(), "start function") {
			t.Fatalf("%v: err = %v, want the start function refused", mode, err)
		}
	}
}

// TestLoadDirKeepsOldVersion: through the host, a new version that never
// finishes loading is reported with the plugin's name and the old version
// goes on answering.
func TestLoadDirKeepsOldVersion(t *testing.T) {
	needC(t)
	// The plugin in a folder whose manifest raises the 50 ms call limit,
	// and the chain budget alike: the old version's call, slowed by a
	// loaded machine, would get the failure policy's answer instead.
	dir := t.TempDir()
	folder := filepath.Join(dir, "guard")
	if err := os.Mkdir(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(folder, host.ManifestFile), []byte(`{"entry":"guard.wasm","timeout":"10s"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	entry := filepath.Join(folder, "guard.wasm")
	copyFile(t, guestFaults, entry)
	h := host.New(nil)
	defer h.Close()
	h.SetChainBudget(host.HookEvent, 10*time.Second)
	// The first version loads with the default limit, which a loaded
	// machine cannot reach; the short one is for the looping version.
	h.Register("wasm", New(WithCompilationCache(testCache)))
	if err := h.LoadDir(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	h.Register("wasm", New(WithCompilationCache(testCache), WithLoadTimeout(100*time.Millisecond)))
	copyFile(t, guestCHooks, entry)
	err := h.LoadDir(t.Context(), dir)
	if !errors.Is(err, host.ErrTimeout) || !strings.Contains(err.Error(), `plugin "guard"`) || !strings.Contains(err.Error(), "hubd_hooks") {
		t.Fatalf("err = %v, want the plugin named and its hubd_hooks timed out", err)
	}
	if got := h.Plugins(); len(got) != 1 || got[0] != "guard" {
		t.Fatalf("plugins %v, want the old guard", got)
	}
	// The old version (testdata/faults) answers "echo" with a reply.
	d := h.Run(t.Context(), eventEnv("echo", `["x"]`))
	if d.Action != host.Reply {
		t.Fatalf("decision %s, want the old version's reply", show(&d))
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
