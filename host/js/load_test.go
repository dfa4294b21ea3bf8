package js

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/host"
)

// Scripts that never finish loading: their top level, or the lookup of
// their handlers, loops.
var endlessLoads = map[string]struct{ src, step string }{
	"top level": {`hubd.on("event", () => {}); for (;;) {}`, "top level"},
	"handler getter": {`Object.defineProperty(globalThis, "onEvent", {get() { for (;;) {} }});`,
		"looking up the script's handlers"},
	"inherited getter": {`hubd.on("event", () => {});
		Object.defineProperty(Object.prototype, "onJoin", {get() { for (;;) {} }});`,
		"looking up the script's handlers"},
}

// TestLoadEndless: a script that does not finish loading fails within the
// load time limit, with an error that says where and which limit. Before
// the lookup of handlers ran under the limit, the getter and proxy cases
// hung.
func TestLoadEndless(t *testing.T) {
	for name, c := range endlessLoads {
		t.Run(name, func(t *testing.T) {
			_, err := tryLoad(c.src, withRuntime(func(r *Runtime) { r.LoadTimeout = 50 * time.Millisecond }))
			if !errors.Is(err, host.ErrTimeout) {
				t.Fatalf("err = %v, want ErrTimeout", err)
			}
			for _, want := range []string{"did not finish loading within 50ms", c.step} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the error does not say %q: %v", want, err)
				}
			}
		})
	}
}

// TestLoadContextEnds: the load's context bounds it too, by its deadline
// and by its cancellation (hubd's shutdown) while the script runs.
func TestLoadContextEnds(t *testing.T) {
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		spec := host.Spec{Manifest: host.Manifest{Name: "test", Runtime: "js", PoolSize: 1}}
		_, err := Runtime{LoadTimeout: time.Hour}.LoadSource(ctx, spec, "test.js", endlessLoads["handler getter"].src)
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, host.ErrTimeout) {
			t.Fatalf("err = %v, want the context's deadline", err)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		started := make(chan struct{})
		logger := slog.New(&signalHandler{on: "started", c: started})
		done := make(chan error, 1)
		go func() {
			spec := host.Spec{Manifest: host.Manifest{Name: "test", Runtime: "js", PoolSize: 1}, Logger: logger}
			p, err := Runtime{LoadTimeout: time.Hour}.LoadSource(ctx, spec, "test.js", `console.log("started"); for (;;) {}`)
			if err == nil {
				p.Close()
			}
			done <- err
		}()
		<-started
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}

// TestLoadDirKeepsOldVersion: through the host, a new version that never
// finishes loading is reported with the plugin's name, and the old version
// goes on answering.
func TestLoadDirKeepsOldVersion(t *testing.T) {
	// The plugin in a folder whose manifest raises the 50 ms call limit,
	// and the chain budget alike: the old version's call, slowed by a
	// loaded machine, would get the failure policy's answer instead.
	dir := t.TempDir()
	folder := filepath.Join(dir, "guard")
	if err := os.Mkdir(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(folder, host.ManifestFile), []byte(`{"entry":"guard.js","timeout":"10s"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(folder, "guard.js")
	write := func(src string) {
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`function onEvent() { return {action: "drop", reason: "old"}; }`)
	h := host.New(nil)
	defer h.Close()
	h.SetChainBudget(host.HookEvent, 10*time.Second)
	// The first version loads with the default limit, which a loaded
	// machine cannot reach; the short one is for the endless version.
	h.Register("js", Runtime{})
	if err := h.LoadDir(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	h.Register("js", Runtime{LoadTimeout: 50 * time.Millisecond})
	write(endlessLoads["handler getter"].src)
	err := h.LoadDir(t.Context(), dir)
	if !errors.Is(err, host.ErrTimeout) || !strings.Contains(err.Error(), `plugin "guard"`) {
		t.Fatalf("err = %v, want the plugin named and timed out", err)
	}
	if d := h.Run(t.Context(), eventEnv("s", "chat", `[]`)); d.Action != host.Drop || d.Reason != "old" {
		t.Fatalf("decision %+v, want the old version's", d)
	}
}

// signalHandler is a slog handler that closes c at the first record whose
// message is on.
type signalHandler struct {
	on string
	c  chan struct{}
}

func (h *signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *signalHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *signalHandler) WithGroup(string) slog.Handler            { return h }
func (h *signalHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.on {
		close(h.c)
		h.on = "\x00" // once
	}
	return nil
}
