package main

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strings"
)

// staticFiles serves the regular files of a directory, and nothing else:
//
//   - a path with a part starting with a dot (.env, .git/config) is not
//     found, so that what a deploy leaves in the directory stays private;
//   - a path is resolved inside the directory (os.Root): a symbolic link
//     that leads out of it, or "..", is not found, one that stays inside
//     is followed;
//   - a directory is served as its index.html, and is not found without
//     one: directories are never listed;
//   - only GET and HEAD are answered (405 otherwise).
//
// The directory is opened again for every request, so that one renamed
// into place by a deploy is served at once.
type staticFiles struct {
	dir string
}

// indexFile is served for a directory.
const indexFile = "index.html"

func (s staticFiles) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	upath := r.URL.Path
	if !strings.HasPrefix(upath, "/") {
		upath = "/" + upath
	}
	name := strings.TrimPrefix(path.Clean(upath), "/")
	if name == "" {
		name = "."
	}
	for part := range strings.SplitSeq(name, "/") {
		if part != "." && strings.HasPrefix(part, ".") {
			http.NotFound(w, r)
			return
		}
	}
	f, st, err := s.open(name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	if st.IsDir() {
		_ = f.Close()
		// Relative links in the index resolve against the directory, as
		// with http.FileServer.
		if !strings.HasSuffix(upath, "/") {
			target := path.Base(upath) + "/"
			if r.URL.RawQuery != "" {
				target += "?" + r.URL.RawQuery
			}
			http.Redirect(w, r, target, http.StatusMovedPermanently)
			return
		}
		f, st, err = s.open(path.Join(name, indexFile))
		if err != nil || st.IsDir() {
			if err == nil {
				_ = f.Close()
			}
			http.NotFound(w, r)
			return
		}
	}
	defer f.Close()
	http.ServeContent(w, r, st.Name(), st.ModTime(), f)
}

// open opens name inside the directory. What is neither a regular file
// nor a directory (a device; a FIFO, which would block the open) is not
// found: it is refused before it is opened.
func (s staticFiles) open(name string) (*os.File, fs.FileInfo, error) {
	root, err := os.OpenRoot(s.dir)
	if err != nil {
		return nil, nil, err
	}
	defer root.Close()
	st, err := root.Stat(name)
	if err != nil {
		return nil, nil, err
	}
	if !st.Mode().IsRegular() && !st.IsDir() {
		return nil, nil, errNotServed
	}
	f, err := root.Open(name)
	if err != nil {
		return nil, nil, err
	}
	if st, err = f.Stat(); err != nil || (!st.Mode().IsRegular() && !st.IsDir()) {
		_ = f.Close()
		return nil, nil, errNotServed
	}
	return f, st, nil
}

// errNotServed is a file of a kind the static handler does not serve.
var errNotServed = errors.New("not a regular file")
