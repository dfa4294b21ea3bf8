package host_test

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/host/js"
	"github.com/hubd/hubd/host/process"
)

// TestRevokeFromProcess: a process plugin (testdata/revoke/process, the
// grants plugin's "kick" in Go) asks for revocations from its event hook
// with process.Revoke. Socket.IO clients over WebSocket see the effect: a
// banned socket is told and disconnected, another leaves the room it lost
// its grant to, the others keep theirs. Without the capability, with a bad
// revocation and past its rate, the plugin gets the error of that kind,
// in the host's words.
func TestRevokeFromProcess(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	kickBin := filepath.Join(t.TempDir(), "kick")
	build := exec.Command("go", "build", "-o", kickBin, "./host/testdata/revoke/process")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the process plugin: %v\n%s", err, out)
	}

	h := host.New(nil)
	generousBudgets(h)
	h.Register("js", js.Runtime{})
	h.Register("process", &process.Runtime{})
	t.Cleanup(func() { _ = h.Close() })
	load := func(grants string, capabilities ...string) {
		t.Helper()
		g := grantsSpec(t, grants)
		g.Manifest.Hooks = []host.Hook{host.HookConnect, host.HookJoin}
		kick := host.Spec{Manifest: host.Manifest{Name: "kick", Runtime: "process", Hooks: []host.Hook{host.HookEvent},
			Events: []string{"kick"}, Timeout: testTimeout, Capabilities: capabilities}, Entry: kickBin}
		if err := h.Load(t.Context(), []host.Spec{g, kick}); err != nil {
			t.Fatal(err)
		}
	}
	load(`{}`) // everyone connects and joins first
	// Two revocations per plugin.
	ts := serveRevoking(t, h, 2)

	clients := map[string]*wsSocket{}
	for name, rooms := range map[string]string{"ann": `["vip","news"]`, "bob": `["vip","news"]`, "cat": `["vip"]`} {
		s := dialSocketAuth(t, ts.URL, `{"user":"`+name+`"}`)
		if ack := s.emit("hub:join", json.RawMessage(`[`+rooms+`]`)); ack["ok"] != true {
			t.Fatalf("%s joining %s: %v", name, rooms, ack)
		}
		clients[name] = s
	}
	ann, bob, cat := clients["ann"], clients["bob"], clients["cat"]
	kick := func(arg, want string) {
		t.Helper()
		ack := ann.emit("kick", json.RawMessage(`[`+arg+`]`))
		msg, _ := ack["error"].(string)
		if ack["ok"] != (want == "") || !strings.Contains(msg, want) {
			t.Fatalf("kick %s: the plugin answered %v, want %q", arg, ack, want)
		}
	}
	rooms := func(s *wsSocket) []any {
		t.Helper()
		ack := s.emit("hub:leave", json.RawMessage(`["none"]`))
		r, ok := ack["rooms"].([]any)
		if ack["ok"] != true || !ok {
			t.Fatalf("hub:leave: %v", ack)
		}
		return r
	}
	revoked := func(s *wsSocket, name, want string) {
		t.Helper()
		p := s.until(`42["hub:revoked",`)
		got := compactJSON(t, json.RawMessage(p[len(`42["hub:revoked",`):len(p)-1]))
		if got != compactJSON(t, json.RawMessage(want)) {
			t.Fatalf("%s was told %s, want %s", name, got, want)
		}
	}

	const grants = `{"banned": ["bob"], "denied": ["cat:vip"]}`
	load(grants)
	kick(`"bob"`, `hubd: revoke needs the "revoke" capability`)
	load(grants, host.CapabilityRevoke)
	kick(`{"rooms": ["vip"], "recheck": "all"}`, `hubd: bad revocation: recheck "all": use "join" (the default) or "connect"`)
	kick(`{"rooms": ["vip"], "everything": true}`, `hubd: bad revocation: unknown field "everything"`)

	// A connect recheck: bob, banned now, is disconnected.
	kick(`"bob"`, "")
	revoked(bob, "bob", `{"disconnected": true, "reason": "banned"}`)
	bob.until("41")

	// A join recheck of vip: cat loses it; ann keeps hers.
	kick(`{"rooms": ["vip"]}`, "")
	revoked(cat, "cat", `{"rooms": ["vip"], "reason": "no grant for vip"}`)
	if got := rooms(cat); len(got) != 0 {
		t.Fatalf("cat's rooms after the revocation: %v", got)
	}
	if got := rooms(ann); !reflect.DeepEqual(got, []any{"news", "vip"}) {
		t.Fatalf("ann's rooms: %v, want [news vip]", got)
	}

	// Past its rate, the plugin is refused, and says so.
	kick(`"ann"`, "hubd: revocation refused: plugin kick asks for more than 1e-06 revocations per second (burst 2)")
	if got := rooms(ann); !reflect.DeepEqual(got, []any{"news", "vip"}) {
		t.Fatalf("ann's rooms after a refused revocation: %v", got)
	}

	// Reloaded without the capability, the plugin's new process is served
	// nothing, and the host service of the processes the reloads retired
	// is gone once they are closed.
	load(grants)
	kick(`"ann"`, `hubd: revoke needs the "revoke" capability`)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		stacks := make([]byte, 1<<20)
		stacks = stacks[:runtime.Stack(stacks, true)]
		if !bytes.Contains(stacks, []byte("google.golang.org/grpc.(*Server)")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a gRPC server still runs after the processes it served were retired:\n%s", stacks)
		}
	}
}
