package adminui

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// Handler serves the admin UI's page: the files of the ui/dist folder of
// an installed @socket.io/admin-ui package (dir may name that folder or
// the package's own, node_modules/@socket.io/admin-ui). Nothing of the UI
// is built into the hub: the files are read from dir as they are asked
// for. Mount it under a prefix of its own:
//
//	h, err := adminui.Handler("node_modules/@socket.io/admin-ui")
//	mux.Handle("/admin/", http.StripPrefix("/admin/", h))
//
// The page then asks for the server's URL and the credentials, and
// connects to the admin namespace as the hosted UI (admin.socket.io)
// does. A UI served from another origin than the Socket.IO server, the
// hosted one included, needs the server's CORS to allow that origin with
// credentials (hub.Options.CORS: Origins and Credentials).
func Handler(dir string) (http.Handler, error) {
	if _, err := os.Stat(filepath.Join(dir, "ui", "dist", "index.html")); err == nil {
		dir = filepath.Join(dir, "ui", "dist")
	}
	if _, err := os.Stat(filepath.Join(dir, "index.html")); err != nil {
		return nil, fmt.Errorf("adminui: %s holds no admin UI (no index.html): install @socket.io/admin-ui with npm and give its folder or its ui/dist: %w", dir, err)
	}
	files := http.FileServerFS(os.DirFS(dir))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		p := r.URL.Path
		switch {
		case strings.HasPrefix(strings.TrimPrefix(p, "/"), "js/") || strings.HasPrefix(strings.TrimPrefix(p, "/"), "css/"):
			// Named after their content's hash.
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		default:
			h.Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(w, r)
	}), nil
}
