package hub_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/hubd/hubd/hub"
)

// clientPackage is the socket.io-client package the compatibility tests
// install (npm ci in testdata/client).
func clientPackage(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("testdata/client/node_modules/socket.io-client")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "package.json")); err != nil {
		t.Fatalf("socket.io-client is not installed in %s: run npm ci in hub/testdata/client (scripts/test.sh does)", dir)
	}
	return dir
}

// TestServeClient: with ServeClient, the server answers Node's client
// paths with the package's files, its version as ETag (304 for it, weak
// or not), gzip when asked; other paths under Path still reach Engine.IO.
func TestServeClient(t *testing.T) {
	dir := clientPackage(t)
	bundle, err := hub.LoadClientBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	if bundle.Version() != "4.8.4" {
		t.Fatalf("version %q, want the locked 4.8.4", bundle.Version())
	}
	srv := hub.New(hub.Options{ServeClient: bundle})
	defer srv.Close()
	get := func(path string, header map[string]string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		return rec
	}
	for _, name := range []string{"socket.io.js", "socket.io.min.js", "socket.io.msgpack.min.js", "socket.io.esm.min.js",
		"socket.io.js.map", "socket.io.min.js.map", "socket.io.msgpack.min.js.map", "socket.io.esm.min.js.map"} {
		want, err := os.ReadFile(filepath.Join(dir, "dist", name))
		if err != nil {
			t.Fatal(err)
		}
		ct := "application/javascript; charset=utf-8"
		if filepath.Ext(name) == ".map" {
			ct = "application/json; charset=utf-8"
		}
		rec := get("/socket.io/"+name+"?buster=1", nil)
		if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), want) {
			t.Errorf("%s: %d, %d bytes, want 200 and the file's %d", name, rec.Code, rec.Body.Len(), len(want))
		}
		if got := rec.Header().Get("Content-Type"); got != ct {
			t.Errorf("%s: Content-Type %q, want %q", name, got, ct)
		}
		if got := rec.Header().Get("ETag"); got != `"4.8.4"` {
			t.Errorf("%s: ETag %q", name, got)
		}
		if got := rec.Header().Get("Cache-Control"); got != "public, max-age=0" {
			t.Errorf("%s: Cache-Control %q", name, got)
		}
		for _, etag := range []string{`"4.8.4"`, `W/"4.8.4"`} {
			if rec := get("/socket.io/"+name, map[string]string{"If-None-Match": etag}); rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
				t.Errorf("%s with If-None-Match %s: %d, %d bytes, want 304", name, etag, rec.Code, rec.Body.Len())
			}
		}
		if rec := get("/socket.io/"+name, map[string]string{"If-None-Match": `"4.0.0"`}); rec.Code != 200 {
			t.Errorf("%s with another version's ETag: %d, want 200", name, rec.Code)
		}
		rec = get("/socket.io/"+name, map[string]string{"Accept-Encoding": "gzip, deflate"})
		zr, err := gzip.NewReader(rec.Body)
		if err != nil || rec.Header().Get("Content-Encoding") != "gzip" {
			t.Fatalf("%s gzipped: %v, Content-Encoding %q", name, err, rec.Header().Get("Content-Encoding"))
		}
		if got, _ := io.ReadAll(zr); !bytes.Equal(got, want) {
			t.Errorf("%s gzipped: not the file", name)
		}
	}
	// Not client files: Engine.IO answers (a bad request), as without
	// ServeClient.
	for _, path := range []string{"/socket.io/socket.io.jsx", "/socket.io/dist/socket.io.js", "/socket.io/../package.json"} {
		if rec := get(path, nil); rec.Code == 200 {
			t.Errorf("%s: 200, want Engine.IO's refusal", path)
		}
	}
	if rec := get("/socket.io/socket.io.js", nil); rec.Code != 200 {
		t.Fatalf("%d", rec.Code)
	}
	off := hub.New(hub.Options{})
	defer off.Close()
	rec := httptest.NewRecorder()
	off.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/socket.io/socket.io.js", nil))
	if rec.Code == 200 {
		t.Errorf("without ServeClient: 200")
	}

	if _, err := hub.LoadClientBundle(t.TempDir()); err == nil {
		t.Errorf("LoadClientBundle of an empty folder: no error")
	}
}
