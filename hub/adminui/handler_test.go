package adminui_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hubd/hubd/hub/adminui"
)

func TestHandler(t *testing.T) {
	if _, err := adminui.Handler(t.TempDir()); err == nil || !strings.Contains(err.Error(), "index.html") {
		t.Fatalf("a folder without the UI: %v", err)
	}
	pkg := filepath.Join(nodeDir(t), "node_modules", "@socket.io", "admin-ui")
	for _, dir := range []string{pkg, filepath.Join(pkg, "ui", "dist")} {
		h, err := adminui.Handler(dir)
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle("/admin/", http.StripPrefix("/admin/", h))
		ts := httptest.NewServer(mux)
		get := func(path string) (*http.Response, string) {
			t.Helper()
			res, err := http.Get(ts.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return res, string(b)
		}
		res, page := get("/admin/")
		if res.StatusCode != 200 || !strings.Contains(page, "Socket.IO Admin UI") || res.Header.Get("Cache-Control") != "no-cache" {
			t.Fatalf("%s: the page: %d %q %.80q", dir, res.StatusCode, res.Header.Get("Cache-Control"), page)
		}
		// Every script and style the page names is served, cached for good.
		for _, ref := range []string{`src="js/`, `href="css/`} {
			i := strings.Index(page, ref)
			if i < 0 {
				t.Fatalf("the page names no %s", ref)
			}
			i += strings.Index(ref, `"`) + 1
			name := page[i : i+strings.IndexByte(page[i:], '"')]
			res, body := get("/admin/" + name)
			if res.StatusCode != 200 || len(body) == 0 || !strings.Contains(res.Header.Get("Cache-Control"), "immutable") {
				t.Errorf("%s: %d, %d bytes, %q", name, res.StatusCode, len(body), res.Header.Get("Cache-Control"))
			}
		}
		if res, _ := get("/admin/../../../../etc/passwd"); res.StatusCode == 200 {
			t.Error("a path out of the folder was served")
		}
		ts.Close()
	}
}
