package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
	"time"
)

// contractPluginJS is the policy the contract test runs hubd with: a token
// is required to connect, "private:*" rooms are refused, and three events
// are dropped, denied and answered by the plugin.
const contractPluginJS = `
hubd.on("connect", (env) =>
  env.handshake.auth && env.handshake.auth.token
    ? { socket_data: { user: env.handshake.auth.token } }
    : { action: "deny", reason: "token required" });
hubd.on("join", (env) => {
  for (const r of env.rooms) {
    if (r.startsWith("private:")) return { action: "deny", reason: "private room" };
  }
});
hubd.on("event", (env) => {
  if (env.event === "drop-me") return { action: "drop" };
  if (env.event === "deny-me") return { action: "deny", reason: "nope" };
  if (env.event === "echo-me") return { action: "reply", reply: [{ echo: env.args[0] }] };
});
`

// contractObs is one line testdata/contract.cjs printed.
type contractObs struct {
	Kind  string `json:"kind"`
	Value any    `json:"value"`
}

// TestContract runs the hubd binary and drives it with the real
// socket.io-client through hubd's client contract (hub/relay): connect,
// hub:join and hub:leave, relaying (once per recipient, in order, binary
// over both transports, large payloads, a room of 100), acks (routed,
// dropped, denied, replied by a plugin) and the HTTP publish API.
func TestContract(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node is not installed: install Node.js 20 or newer, then run `make test`")
	}
	modules, err := filepath.Abs("../../hub/testdata/client/node_modules")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(modules, "socket.io-client", "package.json")); err != nil {
		t.Fatalf("socket.io-client is not installed in %s: run `make test`, which runs npm ci there", modules)
	}

	plugins := t.TempDir()
	writeJSPlugin(t, plugins, "policy", contractPluginJS)
	cfg, err := json.Marshal(map[string]any{
		"listen":     "127.0.0.1:0",
		"namespaces": []map[string]any{{"name": "/", "route": "rooms"}},
		"plugins":    map[string]any{"dir": plugins},
		"api":        map[string]any{"key": "contract-key"},
	})
	if err != nil {
		t.Fatal(err)
	}
	d := start(t, "-config", writeFile(t, t.TempDir(), "hubd.json", string(cfg)))

	// A bound against hangs; the client bounds itself at 150 s.
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "testdata/contract.cjs", "http://"+d.addr, "contract-key")
	cmd.Env = append(cleanEnv(), "NODE_PATH="+modules)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, runErr := cmd.Output()

	var got []contractObs
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		var o contractObs
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			t.Fatalf("bad line %q: %v", sc.Text(), err)
		}
		got = append(got, o)
	}
	if runErr != nil {
		t.Fatalf("client: %v\n%s\nobservations so far:\n%s\nhubd:\n%s", runErr, stderr.String(), stdout, d.stderr)
	}

	type m = map[string]any
	type l = []any
	notOK := m{"ok": false, "has_error": true}
	want := []contractObs{
		// Connect.
		{"connect_denied", "token required"},
		{"connect_allowed", true},
		// Join / leave.
		{"join_single", m{"ok": true, "rooms": l{"lobby"}}},
		{"join_array", m{"ok": true, "rooms": l{"lobby", "lobby2"}}},
		{"join_b", m{"ok": true, "rooms": l{"lobby"}}},
		{"join_c", m{"ok": true, "rooms": l{"other"}}},
		{"join_private", m{"ok": false, "error": "private room"}},
		{"membership_after_private", m{"ok": true, "rooms": l{"lobby", "lobby2"}}},
		{"join_own_id", notOK},
		{"join_other_id", notOK},
		{"join_number", notOK},
		{"join_empty_string", notOK},
		{"join_array_with_number", notOK},
		{"join_object", notOK},
		{"membership_after_bad", m{"ok": true, "rooms": l{"lobby", "lobby2"}}},
		{"leave_not_in", m{"ok": true, "rooms": l{"lobby", "lobby2"}}},
		{"unknown_command", m{"ok": false, "error": "unknown command"}},
		// Relay: once to B, never to A or C.
		{"chat_ack", m{"ok": true}},
		{"chat_received", l{"hello"}},
		{"chat_counts", m{"A": 0.0, "B": 1.0, "C": 0.0}},
		{"join_b_lobby2", m{"ok": true, "rooms": l{"lobby", "lobby2"}}},
		{"chat2_ack", m{"ok": true}},
		{"chat2_received", l{"again"}},
		{"chat2_counts", m{"A": 0.0, "B": 1.0, "C": 0.0}},
		// Ordering.
		{"order", m{"received": 200.0, "in_order": true}},
		// Acks from the plugin.
		{"ack_drop", m{"ok": false, "error": "dropped"}},
		{"ack_deny", m{"ok": false, "error": "nope"}},
		{"ack_echo", m{"echo": "hi"}},
		{"plugin_events_relayed", m{"drop": 0.0, "deny": 0.0, "echo": 0.0}},
		// Binary over both transports.
		{"polling_transport", "polling"},
		{"join_p", m{"ok": true, "rooms": l{"bin"}}},
		{"join_b_bin", m{"ok": true, "rooms": l{"bin", "lobby", "lobby2"}}},
		{"join_a_bin", m{"ok": true, "rooms": l{"bin", "lobby", "lobby2"}}},
		{"bin_ws_ack", m{"ok": true}},
		{"bin_ws_to_ws", true},
		{"bin_ws_to_polling", true},
		{"bin_polling_ack", m{"ok": true}},
		{"bin_polling_to_ws_a", true},
		{"bin_polling_to_ws_b", true},
		{"leave_a_bin", m{"ok": true, "rooms": l{"lobby", "lobby2"}}},
		{"leave_b_bin", m{"ok": true, "rooms": l{"lobby", "lobby2"}}},
		// Large payload.
		{"big_ack", m{"ok": true}},
		{"big_received", m{"length": 500000.0, "intact": true}},
		// A room of 100.
		{"join_sender", m{"ok": true, "rooms": l{"crowd"}}},
		{"crowd_joined", 100.0},
		{"bcast_ack", m{"ok": true}},
		{"crowd_counts", m{"exactly_once": 100.0, "bad_args": 0.0, "sender_got": 0.0}},
		// HTTP publish.
		{"api_status", m{"status": 200.0, "ok": true}},
		{"api_received_a", l{"from api"}},
		{"api_counts", m{"A": 1.0, "B": 0.0, "C": 0.0}},
	}
	n := len(got)
	if len(want) > n {
		n = len(want)
	}
	for i := 0; i < n; i++ {
		switch {
		case i >= len(got):
			t.Errorf("missing observation %d: %s %v", i, want[i].Kind, want[i].Value)
		case i >= len(want):
			t.Errorf("unexpected observation %d: %s %v", i, got[i].Kind, got[i].Value)
		case !reflect.DeepEqual(got[i], want[i]):
			t.Errorf("observation %d:\n got  %s %s\n want %s %s", i, got[i].Kind, jsonText(got[i].Value), want[i].Kind, jsonText(want[i].Value))
		}
	}

	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := d.wait(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM:\n%s", code, d.stderr)
	}
}

// writeJSPlugin writes the JavaScript plugin name into the plugin
// directory dir, as a folder whose manifest raises the call limit far
// above the 50 ms default: these tests are not about timing, and a call
// slowed by a loaded machine would get the failure policy's answer.
func writeJSPlugin(t *testing.T, dir, name, src string) {
	t.Helper()
	folder := filepath.Join(dir, name)
	if err := os.MkdirAll(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, folder, "plugin.json", `{"entry": "`+name+`.js", "timeout": "10s"}`)
	writeFile(t, folder, name+".js", src)
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}
