package host_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/host/js"
	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/relay"
)

const policyJS = `
hubd.on("connect", (env) => {
  const token = env.handshake.auth && env.handshake.auth.token;
  if (!token) return { action: "deny", reason: "token required", data: { code: 401 } };
  return { socket_data: { user: token } };
});
hubd.on("join", (env) => {
  for (const r of env.rooms) {
    if (r.startsWith("private:")) return { action: "deny", reason: "private room" };
  }
});
hubd.on("event", (env) => {
  if (env.event === "shout") return { args: [String(env.args[0]).toUpperCase()] };
  if (env.event === "ping") return { action: "reply", reply: [{ pong: env.socket.data.user }] };
});
`

// TestEndToEnd wires a JavaScript plugin to a hub through the host and
// drives it with the real socket.io-client.
func TestEndToEnd(t *testing.T) {
	// The plugin in a folder, with a manifest that raises the 50 ms call
	// limit, and the host's chain budgets raised alike: the race detector
	// on a loaded machine can take longer, and a timed-out call would be
	// answered by the failure policy instead.
	dir := t.TempDir()
	folder := filepath.Join(dir, "policy")
	if err := os.Mkdir(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(folder, host.ManifestFile), []byte(`{"entry":"policy.js","timeout":"10s"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(folder, "policy.js"), []byte(policyJS), 0o644); err != nil {
		t.Fatal(err)
	}
	h := host.New(nil)
	generousBudgets(h)
	h.Register("js", js.Runtime{})
	defer h.Close()
	if err := h.LoadDir(context.Background(), dir); err != nil {
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

	stdout := runNodeClient(t, "host/testdata/e2e-client.cjs", ts.URL)
	var got []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("bad line %q: %v", sc.Text(), err)
		}
		got = append(got, line)
	}
	want := []map[string]any{
		{"kind": "connect_error", "value": map[string]any{"message": "token required", "data": map[string]any{"code": 401.0}}},
		{"kind": "join", "value": map[string]any{"ok": true, "rooms": []any{"lobby"}}},
		{"kind": "join", "value": map[string]any{"ok": true, "rooms": []any{"lobby"}}},
		{"kind": "join_private", "value": map[string]any{"ok": false, "error": "private room"}},
		{"kind": "shout_ack", "value": map[string]any{"ok": true}},
		{"kind": "shout_received", "value": []any{"HELLO"}},
		{"kind": "ping_ack", "value": map[string]any{"pong": "ann"}},
	}
	if !reflect.DeepEqual(got, want) {
		gj, _ := json.MarshalIndent(got, "", " ")
		t.Fatalf("observations:\n%s", gj)
	}
}
