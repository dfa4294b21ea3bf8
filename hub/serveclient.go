package hub

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ClientBundle is the browser bundles of an installed socket.io-client
// package, which a server serves as Node's serveClient does when
// Options.ServeClient holds one: under Options.Path, socket.io.js,
// socket.io.min.js, socket.io.msgpack.min.js and socket.io.esm.min.js, and
// each one's .map. Answers carry the package's version as their ETag
// (`"4.8.4"`; a request whose If-None-Match names it, or its weak form,
// gets 304), "Cache-Control: public, max-age=0", and gzip when the client
// takes it. The files are read once, by LoadClientBundle.
type ClientBundle struct {
	version string
	etag    string
	files   map[string]*bundleFile
}

type bundleFile struct {
	body, gzipped []byte
	contentType   string
}

// clientFiles are the files Node's serveClient serves (its
// clientPathRegex): socket.io(.msgpack|.esm)?(.min)?.js(.map)?, those the
// package ships.
var clientFiles = []string{
	"socket.io.js", "socket.io.min.js", "socket.io.msgpack.min.js", "socket.io.esm.min.js",
}

// LoadClientBundle reads the bundles of the socket.io-client package in
// dir (the folder with its package.json, e.g.
// node_modules/socket.io-client). A file the package does not ship is not
// served; a package without socket.io.js or a version is an error.
func LoadClientBundle(dir string) (*ClientBundle, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return nil, fmt.Errorf("hub: socket.io-client package: %w", err)
	}
	var pkg struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	if err := json.Unmarshal(raw, &pkg); err != nil || pkg.Version == "" {
		return nil, fmt.Errorf("hub: %s has no version", filepath.Join(dir, "package.json"))
	}
	if pkg.Name != "socket.io-client" {
		return nil, fmt.Errorf("hub: %s is the package %q, not socket.io-client", dir, pkg.Name)
	}
	b := &ClientBundle{version: pkg.Version, etag: `"` + pkg.Version + `"`, files: make(map[string]*bundleFile)}
	for _, name := range clientFiles {
		for _, f := range []string{name, name + ".map"} {
			body, err := os.ReadFile(filepath.Join(dir, "dist", f))
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("hub: socket.io-client bundle: %w", err)
			}
			ct := "application/javascript; charset=utf-8"
			if strings.HasSuffix(f, ".map") {
				ct = "application/json; charset=utf-8"
			}
			var gz bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
			_, _ = zw.Write(body)
			_ = zw.Close()
			b.files[f] = &bundleFile{body: body, gzipped: gz.Bytes(), contentType: ct}
		}
	}
	if b.files["socket.io.js"] == nil {
		return nil, fmt.Errorf("hub: %s has no dist/socket.io.js", dir)
	}
	return b, nil
}

// Version is the socket.io-client version the bundle is from.
func (b *ClientBundle) Version() string { return b.version }

// serve answers a request for one of the bundle's files and reports
// whether it was one. name is the path after Options.Path.
func (b *ClientBundle) serve(w http.ResponseWriter, r *http.Request, name string) bool {
	f := b.files[name]
	if f == nil || r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	h := w.Header()
	if inm := r.Header.Get("If-None-Match"); inm == b.etag || inm == "W/"+b.etag {
		w.WriteHeader(http.StatusNotModified)
		return true
	}
	h.Set("Cache-Control", "public, max-age=0")
	h.Set("Content-Type", f.contentType)
	h.Set("ETag", b.etag)
	h.Add("Vary", "Accept-Encoding")
	if !strings.HasSuffix(name, ".map") {
		h.Set("X-SourceMap", name+".map")
	}
	body := f.body
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		body = f.gzipped
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
	return true
}

// acceptsGzip reports whether an Accept-Encoding header takes gzip (a q of
// 0 refuses it).
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name != "gzip" && name != "*" {
			continue
		}
		if q, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			v, err := strconv.ParseFloat(q, 64)
			return err == nil && v > 0
		}
		return true
	}
	return false
}
