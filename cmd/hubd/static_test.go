package main

import (
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestStatic: the static directory's regular files are served, and
// nothing else: no dotfile, no link out of the directory, no listing.
func TestStatic(t *testing.T) {
	base := t.TempDir()
	outside := writeFile(t, base, "secret.txt", "outside")
	dir := filepath.Join(base, "www")
	for _, d := range []string{"docs", "empty", ".git", "sub"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, dir, "index.html", "<h1>home</h1>")
	writeFile(t, dir, "app.js", "console.log(1)")
	writeFile(t, dir, ".env", "KEY=secret")
	writeFile(t, filepath.Join(dir, ".git"), "config", "[core]")
	writeFile(t, filepath.Join(dir, "docs"), "index.html", "<h1>docs</h1>")
	writeFile(t, filepath.Join(dir, "empty"), "notes.txt", "listed?")
	for link, target := range map[string]string{
		"out.txt":      outside,              // absolute, out
		"sub/up.txt":   "../../secret.txt",   // relative, out
		"outdir":       base,                 // a directory out
		"alias.js":     "app.js",             // inside: followed
		"sub/home.htm": "../docs/index.html", // inside, through ..
	} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}

	l := newLive(Defaults(), nil, slog.New(slog.DiscardHandler), new(slog.LevelVar))
	l.setStatic(dir)
	h := swapped(&l.static)
	for _, c := range []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", "/", 200, "<h1>home</h1>"},
		{"GET", "/index.html", 200, "<h1>home</h1>"},
		{"GET", "/app.js", 200, "console.log(1)"},
		{"HEAD", "/app.js", 200, ""},
		{"GET", "/docs/", 200, "<h1>docs</h1>"},
		{"GET", "/docs", 301, ""},
		{"GET", "/alias.js", 200, "console.log(1)"},
		{"GET", "/sub/home.htm", 200, "<h1>docs</h1>"},
		// Dotfiles, at any depth.
		{"GET", "/.env", 404, ""},
		{"GET", "/.git/config", 404, ""},
		{"GET", "/.git/", 404, ""},
		{"GET", "/sub/../.env", 404, ""},
		// Links out of the directory.
		{"GET", "/out.txt", 404, ""},
		{"GET", "/sub/up.txt", 404, ""},
		{"GET", "/outdir/secret.txt", 404, ""},
		{"GET", "/../secret.txt", 404, ""},
		// No listing.
		{"GET", "/empty/", 404, ""},
		{"GET", "/sub/", 404, ""},
		// No FIFO (which would block), no other method.
		{"GET", "/pipe", 404, ""},
		{"POST", "/app.js", 405, ""},
		{"GET", "/missing", 404, ""},
	} {
		req := httptest.NewRequest(c.method, "http://hubd"+c.path, nil)
		req.URL.Path = c.path // as sent, not cleaned
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		body := rec.Body.String()
		if rec.Code != c.code || (c.code == 200 && body != c.body) {
			t.Errorf("%s %s: %d %q, want %d %q", c.method, c.path, rec.Code, body, c.code, c.body)
		}
		if c.code == 404 && (strings.Contains(body, "secret") || strings.Contains(body, "<a href")) {
			t.Errorf("%s %s: body tells %q", c.method, c.path, body)
		}
	}
}
