package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/internal/testnats"
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

// TestDaemonTapeReplay: hubd with plugins.tape records what its plugins
// decide for real clients, and the hubd binary's replay command runs the
// tape through the same plugins (exit 0) and through a changed one (exit
// 1, the changed decision printed).
func TestDaemonTapeReplay(t *testing.T) {
	dir := t.TempDir()
	same, changed := filepath.Join(dir, "same"), filepath.Join(dir, "changed")
	for p, reason := range map[string]string{same: "no secrets here", changed: "secrets dropped"} {
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, p, "guard.js", `hubd.on("event", (env) => {
  if (env.event === "secret") return { action: "drop", reason: "`+reason+`" };
});`)
	}
	tape := filepath.Join(dir, "hooks.tape")
	cfg := writeFile(t, dir, "hubd.json", fmt.Sprintf(`{"listen": "127.0.0.1:0",
		"plugins": {"dir": %q, "tape": {"file": %q, "hooks": ["event"], "redact": {"args": ["args.0.password"]}}}}`, same, tape))
	d := start(t, "-config", cfg)
	c := startClients(t)
	c.connect("a", d.addr)
	if r := c.ack("a", "secret", map[string]any{"password": "hunter2"}); r["ok"] != false {
		t.Fatalf("secret: %v", r)
	}
	if r := c.ack("a", "hello", "x"); r["ok"] != true {
		t.Fatalf("hello: %v", r)
	}
	// The tape is written off the hooks' path: wait for both records.
	waitCluster(t, func() bool {
		b, _ := os.ReadFile(tape)
		return strings.Contains(string(b), `"event":"secret"`) && strings.Contains(string(b), `"event":"hello"`)
	}, "the tape to hold both events")
	if b, _ := os.ReadFile(tape); strings.Contains(string(b), "hunter2") {
		t.Errorf("the tape kept a redacted password:\n%s", b)
	}

	replay := func(plugins string) (int, string) {
		cmd := exec.Command(hubdBinary(t), "replay", "-tape", tape, "-plugins", plugins)
		out, _ := cmd.CombinedOutput()
		return cmd.ProcessState.ExitCode(), string(out)
	}
	if code, out := replay(same); code != 0 || !strings.Contains(out, "0 differ") {
		t.Errorf("replay through the same plugins: exit %d\n%s", code, out)
	}
	if code, out := replay(changed); code != 1 || !strings.Contains(out, "1 differ") || !strings.Contains(out, "secrets dropped") {
		t.Errorf("replay through a changed plugin: exit %d\n%s", code, out)
	}
}

// TestDaemonRevoke: two hubd nodes on NATS with a JS join hook; once the
// hook refuses "vip" (a new file hubd reloads), POST /api/revoke on one
// node makes the members of "vip" on both nodes leave it, told with
// hub:revoked, and the answer counts them per node.
func TestDaemonRevoke(t *testing.T) {
	url, stop, err := testnats.Find()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	dir := t.TempDir()
	plugins := filepath.Join(dir, "plugins")
	if err := os.Mkdir(plugins, 0o755); err != nil {
		t.Fatal(err)
	}
	const allowAll = `hubd.on("join", () => {});`
	const denyVIP = `hubd.on("join", (env) => {
  if (env.rooms.includes("vip")) return { action: "deny", reason: "vip is closed" };
});`
	writeFile(t, plugins, "grants.js", allowAll)
	cfg := writeFile(t, dir, "hubd.json", fmt.Sprintf(`{"listen": "127.0.0.1:0", "api": {"key": "cluster-key"},
		"namespaces": [{"name": "/"}],
		"plugins": {"dir": %q, "revoke": {"timeout": "10s"}},
		"adapter": {"type": "nats", "nats_url": %q, "key": "hubd-revoke-%d"}}`, plugins, url, time.Now().UnixNano()))
	a := start(t, "-config", cfg)
	b := start(t, "-config", cfg)
	c := startClients(t)
	c.connect("a1", a.addr)
	c.connect("b1", b.addr)
	for _, n := range []string{"a1", "b1"} {
		if r := c.ack(n, "hub:join", []string{"vip", "lobby"}); r["ok"] != true {
			t.Fatalf("%s hub:join: %v", n, r)
		}
	}

	// The policy changes: both nodes reload it, which a fresh join shows.
	writeFile(t, plugins, "grants.js", denyVIP)
	c.connect("a2", a.addr)
	c.connect("b2", b.addr)
	for _, n := range []string{"a2", "b2"} {
		waitCluster(t, func() bool {
			if c.ack(n, "hub:join", "vip")["ok"] == false {
				return true
			}
			c.ack(n, "hub:leave", "vip") // the old policy still: out again
			return false
		}, n+"'s node to load the new policy")
	}

	code, body := api(t, a.addr, "POST", "/api/revoke", `{"rooms": ["vip"]}`)
	if code != 200 {
		t.Fatalf("revoke: %d %s", code, body)
	}
	var res struct {
		OK         bool
		Revocation struct {
			Matched, Left int
			Nodes         []struct{ Matched, Left int }
			Errors        []any
		}
	}
	if err := json.Unmarshal([]byte(body), &res); err != nil || !res.OK {
		t.Fatalf("revoke: %v %s", err, body)
	}
	if r := res.Revocation; r.Matched != 2 || r.Left != 2 || len(r.Nodes) != 2 || len(r.Errors) != 0 {
		t.Errorf("revocation %s: want 2 sockets matched and 2 rooms left over 2 nodes", body)
	}
	for _, n := range []string{"a1", "b1"} {
		if got := c.until(n, "hub:revoked"); got[len(got)-1] != "hub:revoked" {
			t.Errorf("%s: %v", n, got)
		}
		if r := c.ack(n, "hub:join", []string{}); fmt.Sprint(r["rooms"]) != "[lobby]" {
			t.Errorf("%s's rooms after the revocation: %v, want [lobby]", n, r["rooms"])
		}
	}
}

// TestDaemonShadow: a shadow plugin in hubd's plugin directory decides
// beside the live one without being enforced; GET /api/shadows and
// /metrics count where they agree and differ, and POST
// /api/shadows/{name}/promote makes it live with the client still
// connected.
func TestDaemonShadow(t *testing.T) {
	dir := t.TempDir()
	plugins := filepath.Join(dir, "plugins")
	next := filepath.Join(plugins, "next")
	if err := os.MkdirAll(next, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, plugins, "guard.js", `hubd.on("event", (env) => {
  if (env.event === "secret") return { action: "drop", reason: "no secrets" };
});`)
	writeFile(t, next, "plugin.json", `{"name": "next", "entry": "next.js", "hooks": ["event"], "shadow": "guard"}`)
	writeFile(t, next, "next.js", `hubd.on("event", (env) => {
  if (env.event === "secret" || env.event === "gossip") return { action: "drop", reason: "not here" };
});`)
	d := start(t, "-listen", "127.0.0.1:0", "-plugins", plugins, "-api-key", "cluster-key")
	c := startClients(t)
	id := c.connect("a", d.addr)
	// The live plugin decides: gossip passes although the shadow would drop it.
	for ev, ok := range map[string]bool{"hello": true, "gossip": true, "secret": false} {
		if r := c.ack("a", ev, "x"); r["ok"] != ok {
			t.Fatalf("%s: %v", ev, r)
		}
	}
	var shadows struct {
		Shadows []struct {
			Shadow, Plugin string
			Results        map[string]int
		}
	}
	waitCluster(t, func() bool {
		_, body := api(t, d.addr, "GET", "/api/shadows", "")
		shadows.Shadows = nil
		_ = json.Unmarshal([]byte(body), &shadows)
		if len(shadows.Shadows) != 1 {
			return false
		}
		r := shadows.Shadows[0].Results
		return r["agree"]+r["action"]+r["reason"] == 3
	}, "the shadow's three comparisons")
	if s := shadows.Shadows[0]; s.Shadow != "next" || s.Plugin != "guard" || s.Results["agree"] != 1 || s.Results["action"] != 1 || s.Results["reason"] != 1 {
		t.Errorf("shadows: %+v, want next shadowing guard: 1 agree (hello), 1 action (gossip), 1 reason (secret)", shadows.Shadows)
	}
	code, body := get(t, "http://"+d.addr+"/metrics")
	if code != 200 || !strings.Contains(body, `hubd_shadow_decisions_total{plugin="guard",result="action",runtime="js",shadow="next"} 1`) {
		t.Errorf("/metrics has no shadow count:\n%s", body)
	}

	if code, body := api(t, d.addr, "POST", "/api/shadows/next/promote", ""); code != 200 {
		t.Fatalf("promote: %d %s", code, body)
	}
	// Same socket (its client does not reconnect), new policy.
	if r := c.ack("a", "gossip", "x"); r["ok"] != false || r["error"] != "not here" {
		t.Errorf("gossip after the promotion: %v", r)
	}
	if code, body := api(t, d.addr, "GET", "/api/sockets?room="+id, ""); code != 200 || !strings.Contains(body, id) {
		t.Errorf("socket %s after the promotion: %d %s", id, code, body)
	}
}
