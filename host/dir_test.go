package host

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

// TestWatchFolderMovedIntoPlace: a plugin folder made elsewhere and renamed
// into the plugin directory, as deploy tools do, is loaded, and an edit
// made in it afterwards is loaded too. The temporary folder is made in
// the directory under a dotted name, in the directory under a plain name,
// or outside it; and it may replace a folder of the same plugin moved
// away first.
func TestWatchFolderMovedIntoPlace(t *testing.T) {
	for _, c := range []struct {
		name    string
		tmp     string // where the folder is made: "in" or "out" of the directory
		tmpName string
		replace bool
	}{
		{"dotted name inside", "in", ".p.tmp", false},
		{"plain name inside", "in", "p.new", false},
		{"outside", "out", "p", false},
		{"dotted name inside, replacing", "in", ".p.tmp", true},
		{"outside, replacing", "out", "p", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, rt := dirHost(t)
			rt.set("a", func(context.Context, *Envelope) (*Decision, error) { return nil, nil })
			base := t.TempDir()
			dir := filepath.Join(base, "plugins")
			final := filepath.Join(dir, "p")
			if c.replace {
				writeFile(t, filepath.Join(final, ManifestFile), `{"entry":"a.js"}`)
				writeFile(t, filepath.Join(final, "a.js"), "// old")
			} else if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := h.LoadDir(context.Background(), dir); err != nil {
				t.Fatal(err)
			}
			reloads := watchReloads(t, h, dir)

			tmp := filepath.Join(base, "staging", c.tmpName)
			if c.tmp == "in" {
				tmp = filepath.Join(dir, c.tmpName)
			}
			writeFile(t, filepath.Join(tmp, ManifestFile), `{"name":"p","entry":"a.js"}`)
			writeFile(t, filepath.Join(tmp, "a.js"), "// 1")
			if c.replace {
				if err := os.Rename(final, filepath.Join(base, "p.old")); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Rename(tmp, final); err != nil {
				t.Fatal(err)
			}
			waitVersion(t, h, reloads, "p", final)

			// An edit in the folder moved into place is seen.
			writeFile(t, filepath.Join(final, "a.js"), "// 2")
			waitVersion(t, h, reloads, "p", final)
		})
	}
}

// waitVersion waits for the reload after which plugin name is loaded from
// folder as its files are now.
func waitVersion(t *testing.T, h *Host, reloads <-chan error, name, folder string) {
	t.Helper()
	want, err := hashFiles(filepath.Join(folder, ManifestFile), filepath.Join(folder, "a.js"))
	if err != nil {
		t.Fatal(err)
	}
	timeout := time.After(20 * time.Second)
	for {
		for _, l := range h.current.Load().plugins {
			if l.m.Name == name && l.version == want {
				return
			}
		}
		select {
		case err := <-reloads:
			if err != nil {
				t.Logf("reload: %v", err)
			}
		case <-timeout:
			t.Fatalf("plugin %s not reloaded at version %s; plugins %v", name, want, h.Plugins())
		}
	}
}

// TestWatchEntryInSubfolder: an edit to an entry kept in a subfolder of
// its plugin's folder is seen.
func TestWatchEntryInSubfolder(t *testing.T) {
	h, rt := dirHost(t)
	rt.set("a", func(context.Context, *Envelope) (*Decision, error) { return nil, nil })
	dir := t.TempDir()
	folder := filepath.Join(dir, "p")
	writeFile(t, filepath.Join(folder, ManifestFile), `{"entry":"dist/a.js"}`)
	writeFile(t, filepath.Join(folder, "dist", "a.js"), "// 1")
	if err := h.LoadDir(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	reloads := watchReloads(t, h, dir)
	writeFile(t, filepath.Join(folder, "dist", "a.js"), "// 2")
	want, err := hashFiles(filepath.Join(folder, ManifestFile), filepath.Join(folder, "dist", "a.js"))
	if err != nil {
		t.Fatal(err)
	}
	timeout := time.After(20 * time.Second)
	for {
		if ps := h.current.Load().plugins; len(ps) == 1 && ps[0].version == want {
			return
		}
		select {
		case <-reloads:
		case <-timeout:
			t.Fatalf("edit in dist/ not reloaded")
		}
	}
}

// TestSyncWatches: the watch set follows the plugin folders, dotted ones
// left out, gone ones dropped.
func TestSyncWatches(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"a", "b", ".tmp"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	list := func() string {
		l := w.WatchList()
		for i := range l {
			l[i], _ = filepath.Rel(dir, l[i])
		}
		slices.Sort(l)
		return strings.Join(l, ",")
	}
	syncWatches(w, dir, slog.New(slog.DiscardHandler))
	if got := list(); got != ".,a,b" {
		t.Fatalf("watched %s, want .,a,b", got)
	}
	if err := os.Remove(filepath.Join(dir, "a")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "b"), filepath.Join(dir, "c")); err != nil {
		t.Fatal(err)
	}
	syncWatches(w, dir, slog.New(slog.DiscardHandler))
	if got := list(); got != ".,c" {
		t.Fatalf("watched %s, want .,c", got)
	}
}

// watchReloads watches dir until the test ends and returns the outcome of
// each reload.
func watchReloads(t *testing.T, h *Host, dir string) <-chan error {
	t.Helper()
	reloads := make(chan error, 64)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := h.WatchNotify(ctx, dir, func(err error) { reloads <- err }); err != nil {
		t.Fatal(err)
	}
	return reloads
}
