package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestDaemonDecisionTrace: with plugins loaded, GET /api/sockets/{id}/trace
// (behind the API key) tells what each plugin decided for a socket: here
// a JS plugin that drops one event and lets another pass.
func TestDaemonDecisionTrace(t *testing.T) {
	dir := t.TempDir()
	plugins := filepath.Join(dir, "plugins")
	if err := os.Mkdir(plugins, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, plugins, "guard.js", `hubd.on("event", (env) => {
  if (env.event === "secret") return { action: "drop", reason: "no secrets here" };
});`)
	d := start(t, "-listen", "127.0.0.1:0", "-plugins", plugins, "-api-key", "cluster-key") // the key api sends
	c := startClients(t)
	id := c.connect("a", d.addr)
	if r := c.ack("a", "secret", "x"); r["ok"] != false || r["error"] != "no secrets here" {
		t.Fatalf("secret: %v", r)
	}
	if r := c.ack("a", "hello", "x"); r["ok"] != true {
		t.Fatalf("hello: %v", r)
	}

	code, body := api(t, d.addr, "GET", "/api/sockets/"+id+"/trace", "")
	if code != 200 {
		t.Fatalf("trace: %d %s", code, body)
	}
	var got struct {
		OK    bool
		Trace []struct {
			Hook, Event, Outcome string
			Steps                []struct{ Plugin, Runtime, Verdict, Reason string }
		}
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("trace: %v\n%s", err, body)
	}
	var seen []string
	for _, r := range got.Trace {
		if r.Hook != "event" {
			continue
		}
		for _, s := range r.Steps {
			seen = append(seen, fmt.Sprintf("%s %s/%s: %s %q", r.Event, s.Plugin, s.Runtime, s.Verdict, s.Reason))
		}
	}
	want := []string{`secret guard/js: drop "no secrets here"`, `hello guard/js: allow ""`}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("event steps %q, want %q\n%s", seen, want, body)
	}
	// The key guards it; an unknown socket is a 404.
	if code, _ := get(t, "http://"+d.addr+"/api/sockets/"+id+"/trace"); code != 401 {
		t.Errorf("trace without the key: %d, want 401", code)
	}
	if code, body := api(t, d.addr, "GET", "/api/sockets/nobody/trace", ""); code != 404 {
		t.Errorf("trace of an unknown socket: %d %s, want 404", code, body)
	}
}
