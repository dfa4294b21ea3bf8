package host

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// ManifestFile is the name of a plugin folder's manifest.
const ManifestFile = "plugin.json"

// found is a plugin found in a directory, before it is loaded.
type found struct {
	spec    Spec
	version string // hash of the manifest and the entry file
	err     error
}

// scanDir lists the plugins of dir: each *.js and *.wasm file, and each
// folder holding a plugin.json.
func scanDir(dir string) ([]found, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("plugin directory %s does not exist", dir)
		}
		return nil, fmt.Errorf("reading plugin directory: %w", err)
	}
	var out []found
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		path := filepath.Join(dir, name)
		switch {
		case e.IsDir():
			if _, err := os.Stat(filepath.Join(path, ManifestFile)); err != nil {
				continue
			}
			out = append(out, scanFolder(path))
		case strings.HasSuffix(name, ".js"):
			out = append(out, scanFile(path, strings.TrimSuffix(name, ".js"), "js"))
		case strings.HasSuffix(name, ".wasm"):
			out = append(out, scanFile(path, strings.TrimSuffix(name, ".wasm"), "wasm"))
		}
	}
	return out, nil
}

func scanFile(path, name, runtime string) found {
	f := found{spec: Spec{Manifest: Manifest{Name: name, Runtime: runtime, Entry: filepath.Base(path)}, Entry: path}}
	f.version, f.err = hashFiles(path)
	if f.err == nil {
		f.err = f.spec.Manifest.Validate()
	}
	return f
}

// ReadManifest reads a plugin folder's manifest as LoadDir does: unknown
// fields are refused, the name defaults to the folder's and the runtime to
// the entry's kind (.js, .wasm, else a process), and the result is
// validated. The returned manifest is filled as far as it was read, also
// with an error.
func ReadManifest(path string) (Manifest, error) {
	m := Manifest{}
	raw, err := os.ReadFile(path)
	if err != nil {
		return m, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, fmt.Errorf("%s: %w", path, err)
	}
	if m.Name == "" {
		if abs, err := filepath.Abs(path); err == nil {
			m.Name = filepath.Base(filepath.Dir(abs))
		}
	}
	if m.Entry == "" {
		return m, fmt.Errorf("%s: entry is missing", path)
	}
	if m.Runtime == "" {
		switch filepath.Ext(m.Entry) {
		case ".js":
			m.Runtime = "js"
		case ".wasm":
			m.Runtime = "wasm"
		default:
			m.Runtime = "process"
		}
	}
	if err := m.Validate(); err != nil {
		return m, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

func scanFolder(dir string) found {
	f := found{spec: Spec{Manifest: Manifest{Name: filepath.Base(dir)}}}
	mpath := filepath.Join(dir, ManifestFile)
	m, err := ReadManifest(mpath)
	if m.Name == "" {
		m.Name = filepath.Base(dir)
	}
	f.spec.Manifest = m
	if m.Entry != "" {
		f.spec.Entry = filepath.Join(dir, m.Entry)
	}
	if err != nil {
		f.err = err
		return f
	}
	f.version, f.err = hashFiles(mpath, f.spec.Entry)
	return f
}

func hashFiles(paths ...string) (string, error) {
	h := sha256.New()
	for _, p := range paths {
		fh, err := os.Open(p)
		if err != nil {
			return "", err
		}
		_, err = io.Copy(h, fh)
		fh.Close()
		if err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("%x", h.Sum(nil))[:16], nil
}

// LoadDir loads the plugins of dir, replacing what was loaded before.
// Plugins whose files did not change are kept as they are. A plugin that
// fails to load is reported in the returned error and, if an older version
// of it was loaded, that version stays. Plugins whose files are gone are
// unloaded. The new set is swapped in atomically.
//
// A shadow plugin whose manifest lost its shadow field is promoted: the
// live plugin it shadowed is retired, though its files stay, until the
// files of either change (see PromoteShadow).
func (h *Host) LoadDir(ctx context.Context, dir string) error {
	list, err := scanDir(dir)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.current.Load()
	byName := make(map[string]*loaded, len(old.plugins))
	for _, l := range old.plugins {
		byName[l.m.Name] = l
	}
	var errs []error
	var next []*loaded
	kept := make(map[*loaded]bool)
	retired := h.retiredByPromotion(list) // for their shadows, unchanged since
	for _, f := range list {
		name := f.spec.Manifest.Name
		if retired[name] {
			continue
		}
		prev := byName[name]
		if f.err == nil && prev != nil && prev.version == f.version {
			next = append(next, prev)
			kept[prev] = true
			continue
		}
		var l *loaded
		if f.err != nil {
			f.err = fmt.Errorf("plugin %q: %w", name, f.err)
		} else {
			var fresh []*loaded
			fresh, f.err = h.loadAll(ctx, []Spec{f.spec}) // names the plugin
			if f.err == nil {
				l = fresh[0]
				l.setVersion(f.version)
			}
		}
		if f.err != nil {
			errs = append(errs, f.err)
			if prev != nil {
				h.logger.Error("plugin failed to load; keeping the loaded version", "plugin", name, "err", f.err)
				next = append(next, prev)
				kept[prev] = true
			} else {
				h.logger.Error("plugin failed to load", "plugin", name, "err", f.err)
			}
			continue
		}
		h.logger.Info("plugin loaded", "plugin", name, "runtime", l.m.Runtime, "version", l.version)
		next = append(next, l)
	}
	next = h.promoteByFile(old, next, kept)
	h.current.Store(newTable(next, h.logger))
	var gone []*loaded
	for _, l := range old.plugins {
		if !kept[l] {
			gone = append(gone, l)
		}
	}
	h.retire(gone)
	return errors.Join(errs...)
}

// Watch reloads dir whenever it changes (after a short quiet period), until
// ctx ends. Errors of each reload go to the host's logger; the first load
// is the caller's (LoadDir). See WatchNotify.
func (h *Host) Watch(ctx context.Context, dir string) error { return h.WatchNotify(ctx, dir, nil) }

// WatchNotify is Watch that also calls reloaded, when not nil, after each
// reload it makes, with that reload's error (nil when every plugin
// loaded). reloaded runs on the watching goroutine: the next reload waits
// for it.
//
// The directory and its plugin folders are watched (not folders whose
// name starts with a dot, which LoadDir skips), and the folder of a
// manifest's entry when that is a subfolder. A folder that appears, made
// in place or renamed into the directory as deploy tools do, is watched
// from then on; one that goes is dropped. The set is made right again
// before every reload, so that a folder that moved in while the watch
// was being set up is still seen.
func (h *Host) WatchNotify(ctx context.Context, dir string, reloaded func(error)) error {
	dir = filepath.Clean(dir) // as the events name it
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	if err := w.Add(dir); err != nil {
		w.Close()
		return err
	}
	syncWatches(w, dir, h.logger)
	go h.watch(ctx, w, dir, reloaded)
	return nil
}

func (h *Host) watch(ctx context.Context, w *fsnotify.Watcher, dir string, reloaded func(error)) {
	defer w.Close()
	var timer *time.Timer
	fire := make(chan struct{}, 1)
	schedule := func() {
		if timer == nil {
			// The send does not block: a fire already pending is enough,
			// and one that comes after the loop ended leaks nothing.
			timer = time.AfterFunc(debounce, func() {
				select {
				case fire <- struct{}{}:
				default:
				}
			})
		} else {
			timer.Reset(debounce)
		}
	}
	for {
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			// A folder that appears is watched at once, so that what is
			// written in it next is seen; the full check runs before the
			// reload.
			if ev.Has(fsnotify.Create) && filepath.Dir(ev.Name) == dir && !strings.HasPrefix(filepath.Base(ev.Name), ".") {
				if st, err := os.Stat(ev.Name); err == nil && st.IsDir() {
					_ = w.Add(ev.Name)
				}
			}
			schedule()
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			// An overflow loses events: the reload that follows rescans.
			h.logger.Warn("watching plugin directory", "err", err)
			schedule()
		case <-fire:
			syncWatches(w, dir, h.logger)
			err := h.LoadDir(ctx, dir)
			if err != nil {
				h.logger.Error("reloading plugins", "dir", dir, "err", err)
			}
			if reloaded != nil {
				reloaded(err)
			}
		}
	}
}

// syncWatches makes w watch dir and the folders of dir's plugins
// (watchedDirs), and nothing else. Stale watches are dropped first: a
// folder renamed into place may share its watch with the name it had
// before, and the old name's watch must go for the new one to be made.
func syncWatches(w *fsnotify.Watcher, dir string, logger *slog.Logger) {
	want := watchedDirs(dir)
	for _, p := range w.WatchList() {
		if !want[p] {
			_ = w.Remove(p)
		}
	}
	have := make(map[string]bool)
	for _, p := range w.WatchList() {
		have[p] = true
	}
	for p := range want {
		if !have[p] {
			if err := w.Add(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				logger.Warn("watching plugin folder", "dir", p, "err", err)
			}
		}
	}
}

// watchedDirs are the directories whose changes make a reload: dir, its
// folders (not those whose name starts with a dot), and the folder of a
// manifest's entry when the entry is in a subfolder of its plugin's.
func watchedDirs(dir string) map[string]bool {
	want := map[string]bool{dir: true}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return want
	}
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		folder := filepath.Join(dir, e.Name())
		want[folder] = true
		m, err := ReadManifest(filepath.Join(folder, ManifestFile))
		if err != nil || m.Entry == "" {
			continue
		}
		sub := filepath.Dir(filepath.Join(folder, m.Entry))
		if rel, err := filepath.Rel(folder, sub); err == nil && rel != "." && filepath.IsLocal(rel) {
			if st, err := os.Stat(sub); err == nil && st.IsDir() {
				want[sub] = true
			}
		}
	}
	return want
}

// debounce is the quiet period before a changed directory is reloaded.
const debounce = 250 * time.Millisecond
