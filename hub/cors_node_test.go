package hub_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/internal/nodeproc"
)

// corsNodeDir holds Node's socket.io server that TestCORSAsNode compares
// hubd with (server.mjs).
const corsNodeDir = "testdata/corsnode"

// corsHeaders are the response headers a browser's CORS check reads.
var corsHeaders = []string{
	"Access-Control-Allow-Origin",
	"Access-Control-Allow-Credentials",
	"Access-Control-Expose-Headers",
	"Access-Control-Allow-Methods",
	"Access-Control-Allow-Headers",
}

// TestCORSAsNode sends the same requests (a polling handshake and a
// preflight, from an allowed origin, another origin, and no origin) to
// Node's socket.io 4.8 with a cors option and to a hub.Server with the
// equivalent hub.CORS, and wants the same CORS headers and status from
// both: a list, patterns, a function deciding the origin, credentials,
// exposed headers, and any origin.
//
// Where hubd differs on purpose (deliberate), both must still tell the
// browser the same thing: allowed, or not.
func TestCORSAsNode(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node is not installed: install Node.js 20 or newer, then run `make test`")
	}
	if _, err := os.Stat(filepath.Join(corsNodeDir, "node_modules", "socket.io", "package.json")); err != nil {
		t.Fatalf("socket.io is missing in %s: run `make test` (it runs `npm ci` there)", corsNodeDir)
	}
	allowed := map[string]bool{"https://app.example": true, "https://b.example": true}
	cases := []struct {
		name string
		node map[string]any
		hub  hub.CORS
	}{
		{"list", map[string]any{"origins": []string{"https://app.example"}},
			hub.CORS{Origins: []string{"https://app.example"}}},
		{"pattern", map[string]any{"patterns": []string{`^https://[a-z]+\.example$`}},
			hub.CORS{OriginPatterns: []*regexp.Regexp{regexp.MustCompile(`^https://[a-z]+\.example$`)}}},
		{"list and pattern with credentials", map[string]any{"origins": []string{"https://app.example"}, "patterns": []string{`^https://b\.example$`}, "credentials": true},
			hub.CORS{Origins: []string{"https://app.example"}, OriginPatterns: []*regexp.Regexp{regexp.MustCompile(`^https://b\.example$`)}, Credentials: true}},
		{"function", map[string]any{"allow": []string{"https://app.example", "https://b.example"}},
			hub.CORS{AllowOrigin: func(o string) bool { return allowed[o] }}},
		{"exposed headers", map[string]any{"origins": []string{"https://app.example"}, "exposedHeaders": "X-Trace-Id,X-Region"},
			hub.CORS{Origins: []string{"https://app.example"}, ExposedHeaders: "X-Trace-Id,X-Region"}},
		{"any origin", map[string]any{"any": true},
			hub.CORS{Origins: []string{"*"}}},
		{"echo every origin", map[string]any{},
			hub.CORS{}},
	}
	type request struct {
		name, method, origin string
	}
	requests := []request{
		{"handshake from an allowed origin", http.MethodGet, "https://app.example"},
		{"handshake from another origin", http.MethodGet, "https://evil.test"},
		{"handshake without origin", http.MethodGet, ""},
		{"preflight from an allowed origin", http.MethodOptions, "https://app.example"},
		{"preflight from another origin", http.MethodOptions, "https://evil.test"},
	}
	// When Node's origin function refuses an origin, its cors middleware
	// leaves the answer alone: no Vary: Origin, so a cache may give the
	// refusal to an allowed origin, and a refused preflight falls through
	// to Engine.IO, which answers 400. hubd keeps Vary and answers the
	// preflight 204 without Allow-Origin. The browser blocks both.
	deliberate := map[string]bool{
		"function/handshake from another origin": true,
		"function/handshake without origin":      true,
		"function/preflight from another origin": true,
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			nodeURL := startCORSNode(t, c.node)
			cors := c.hub
			srv := hub.New(hub.Options{CORS: &cors})
			ts := httptest.NewServer(srv)
			t.Cleanup(func() { ts.Close(); srv.Close() })
			for _, r := range requests {
				node := corsAnswer(t, nodeURL, r.method, r.origin)
				ours := corsAnswer(t, ts.URL, r.method, r.origin)
				if deliberate[c.name+"/"+r.name] {
					if allows(node) != allows(ours) {
						t.Errorf("%s: Node allows it: %v, hubd: %v\n  Node: %s\n  hubd: %s", r.name, allows(node), allows(ours), node, ours)
					}
					continue
				}
				if node != ours {
					t.Errorf("%s:\n  Node: %s\n  hubd: %s", r.name, node, ours)
				}
			}
		})
	}
}

// corsAnswer sends one request to the server's Engine.IO path and returns
// its status and CORS headers, in a form to compare.
func corsAnswer(t *testing.T, base, method, origin string) string {
	t.Helper()
	req, err := http.NewRequest(method, base+"/socket.io/?EIO=4&transport=polling", nil)
	if err != nil {
		t.Fatal(err)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if method == http.MethodOptions {
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type, x-token")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, base, err)
	}
	res.Body.Close()
	status := res.StatusCode
	if method == http.MethodGet && status == http.StatusOK {
		status = 200 // an open packet; its sid differs, its status does not
	}
	var b strings.Builder
	b.WriteString(http.StatusText(status))
	for _, h := range corsHeaders {
		if v := res.Header.Values(h); len(v) > 0 {
			b.WriteString(" | " + h + ": " + strings.Join(v, ", "))
		}
	}
	if vary := strings.ToLower(strings.Join(res.Header.Values("Vary"), ",")); strings.Contains(vary, "origin") {
		b.WriteString(" | Vary: Origin")
	}
	return b.String()
}

// allows reports whether a corsAnswer lets the browser read the answer.
func allows(answer string) bool {
	return strings.Contains(answer, "Access-Control-Allow-Origin:")
}

// startCORSNode starts server.mjs with the cors option cfg describes and
// returns its base URL; it stops with the test.
func startCORSNode(t *testing.T, cfg map[string]any) string {
	t.Helper()
	js, _ := json.Marshal(cfg)
	cmd := exec.Command("node", "server.mjs", string(js))
	cmd.Dir = corsNodeDir
	port := make(chan string, 1)
	nodeproc.StartCommand(t, cmd, func(line []byte) {
		select {
		case port <- strings.TrimSpace(string(line)):
		default:
		}
	})
	select {
	case p := <-port:
		return "http://127.0.0.1:" + p
	case <-time.After(30 * time.Second):
		t.Fatal("server.mjs printed no port")
		return ""
	}
}
