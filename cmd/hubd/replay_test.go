package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/host/js"
	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/relay"
)

// replayPolicy is a policy that refuses the event "secret"; the tests
// change it to drop it instead.
const replayPolicy = `hubd.on("connect", (env) => {
  if (typeof env.handshake.auth.token !== "string") return { action: "deny", reason: "token required" };
});
hubd.on("event", (env) => {
  if (env.event === "secret") return { action: "deny", reason: "no secrets" };
});`

// TestReplayCommand records a tape of a JS policy serving the real
// socket.io-client (host/testdata/tape/client.cjs), then runs hubd replay:
// through the same policy it exits 0, through a changed one 1 and prints
// the changed decision; a usage error, a missing or truncated tape and a
// plugin directory that does not load exit 2.
func TestReplayCommand(t *testing.T) {
	dir := t.TempDir()
	same := filepath.Join(dir, "same")
	changed := filepath.Join(dir, "changed")
	for p, body := range map[string]string{
		same:    replayPolicy,
		changed: strings.Replace(replayPolicy, `{ action: "deny", reason: "no secrets" }`, `{ action: "drop", reason: "secrets dropped" }`, 1),
	} {
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, p, "policy.js", body)
	}
	tape := filepath.Join(dir, "hubd.tape")
	recordReplayTape(t, same, tape)

	run := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := replayCommand(t.Context(), args, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	if code, out, errs := run("-tape", tape, "-plugins", same); code != exitOK || !strings.Contains(out, "8 records replayed, 0 differ") {
		t.Fatalf("same policy: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs := run("-tape", tape, "-plugins", changed)
	if code != exitDiffer || !strings.Contains(out, "1 differ") ||
		!strings.Contains(out, `#5 event secret ns=/ socket=`) ||
		!strings.Contains(out, `recorded {"action":"deny","reason":"no secrets"}, now {"action":"drop","reason":"secrets dropped"}`) {
		t.Fatalf("changed policy: exit %d\n%s%s", code, out, errs)
	}

	raw, err := os.ReadFile(tape)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.tape")
	if err := os.WriteFile(truncated, raw[:len(raw)-20], 0o600); err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(dir, "broken")
	if err := os.Mkdir(broken, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, broken, "policy.js", `hubd.on("event", (`)
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "usage: hubd replay"},
		{[]string{"-tape", tape}, "usage: hubd replay"},
		{[]string{"-tape", filepath.Join(dir, "none"), "-plugins", same}, "no such file"},
		{[]string{"-tape", truncated, "-plugins", same}, "line 9: truncated or malformed record"},
		{[]string{"-tape", tape, "-plugins", broken}, "loading " + broken},
	} {
		code, out, errs := run(c.args...)
		if code != exitConfig || !strings.Contains(errs, c.want) {
			t.Errorf("hubd replay %q: exit %d, stderr %q (want 2 and %q)\n%s", c.args, code, errs, c.want, out)
		}
	}
}

// recordReplayTape serves the plugins of dir to the client of
// host/testdata/tape with a tape recording into file.
func recordReplayTape(t *testing.T, dir, file string) {
	t.Helper()
	h := host.New(nil)
	h.Register("js", js.Runtime{})
	if err := h.LoadDir(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	if err := h.SetTape(host.TapeOptions{File: file}); err != nil {
		t.Fatal(err)
	}
	srv := hub.New(hub.Options{})
	srv.SetHooks(h.Hooks())
	if err := relay.Attach(srv, relay.Config{}); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Close()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(root, "host/testdata/tape/client.cjs"), ts.URL)
	cmd.Env = append(cleanEnv(), "NODE_PATH="+filepath.Join(root, "hub/testdata/client/node_modules"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if out, err := cmd.Output(); err != nil || !bytes.Contains(out, []byte("done")) {
		t.Fatalf("client: %v\n%s%s", err, out, stderr.Bytes())
	}
	if err := h.Close(); err != nil { // writes the queued records
		t.Fatal(err)
	}
}
