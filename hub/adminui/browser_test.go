package adminui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/adminui"
	"golang.org/x/crypto/bcrypt"
)

const chromium = "/usr/bin/chromium"

// TestBrowser: the admin UI's own page, served by Handler on one origin,
// in headless Chromium, logs in to a hub on another origin (CORS with
// credentials for its long-polling), lists the hub's sockets and rooms,
// makes a socket join a room with its form, and its emit reaches the
// client. The screenshot is test-artifacts/adminui.png.
func TestBrowser(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("%s is missing: install it with `apt-get install -y chromium`", chromium)
	}
	dir := nodeDir(t)
	ui, err := adminui.Handler(filepath.Join(dir, "node_modules", "@socket.io", "admin-ui"))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/", http.StripPrefix("/admin/", ui))
	page := httptest.NewServer(mux)
	defer page.Close()

	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	srv, _, url := server(t, hub.Options{CORS: &hub.CORS{Origins: []string{page.URL}, Credentials: true}}, adminui.Options{
		Auth: &adminui.BasicAuth{Username: "admin", PasswordHash: string(hash)},
	})
	if page.URL == url {
		t.Fatal("the page and the hub share an origin")
	}
	c := dial(t, url)
	id := connect(t, c, "/", nil)
	if _, err := c.EmitWithAck("/", "join", "lobby"); err != nil {
		t.Fatal(err)
	}

	shot, err := filepath.Abs(filepath.Join("..", "..", "test-artifacts", "adminui.png"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "node", "browser.mjs", page.URL+"/admin/", url, "admin", "s3cret", id, "lobby", shot)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("browser.mjs: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	var seen struct {
		Rows  []string `json:"rows"`
		Rooms []string `json:"rooms"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &seen); err != nil {
		t.Fatalf("browser.mjs printed no JSON: %v\n%s", err, stdout.String())
	}
	if len(seen.Rows) == 0 || !strings.Contains(strings.Join(seen.Rows, "\n"), id) {
		t.Fatalf("the Sockets page shows %q, not the socket %s", seen.Rows, id)
	}
	if !strings.Contains(strings.Join(seen.Rooms, "\n"), "lobby") {
		t.Errorf("the Rooms page shows %q, not lobby", seen.Rooms)
	}
	if s := srv.Of("/").Socket(id); s == nil || !s.In("joined-from-the-ui") {
		t.Error("the socket page's join form did not make the socket join")
	}
	p, err := c.WaitEvent("/", "news", testWait)
	if err != nil || p.Str(0) != "from the admin UI" {
		t.Fatalf("the UI's emit: %v %v", p, err)
	}
	t.Logf("screenshot: %s", shot)
}
