package policytest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/host/js"
	"github.com/hubd/hubd/host/process"
	"github.com/hubd/hubd/host/wasm"
	"github.com/hubd/hubd/internal/plugintest"
	"github.com/hubd/hubd/sdk/wire"
)

// runtimes are the policy as each runtime loads it, built in TestMain.
var (
	specs    = map[string]host.Spec{}
	buildErr error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "policytest")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildErr = build(dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func build(dir string) error {
	root, err := filepath.Abs("../..")
	if err != nil {
		return err
	}
	run := func(env []string, name string, args ...string) error {
		cmd := exec.Command(name, args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s %v: %v\n%s", name, args, err, out)
		}
		return nil
	}
	goWasm := filepath.Join(dir, "policy-go.wasm")
	if err := run([]string{"GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0"}, "go", "build", "-buildmode=c-shared", "-o", goWasm, "./examples/wasm/go"); err != nil {
		return err
	}
	cWasm := filepath.Join(dir, "policy-c.wasm")
	if err := run(nil, "bash", "examples/wasm/c/build.sh", cWasm); err != nil {
		return fmt.Errorf("%w\n(the C guest needs clang, lld, wasi-libc and libclang-rt-14-dev-wasm32: bash scripts/wasm-toolchain.sh installs them)", err)
	}
	proc := filepath.Join(dir, "policy-process")
	if err := run(nil, "go", "build", "-o", proc, "./examples/process/policy"); err != nil {
		return err
	}
	// Timeouts far above the defaults (50 ms, 200 ms for a process), and
	// the hosts' chain budgets alike: a call slowed by a loaded machine
	// would get the failure policy's deny.
	manifest := func(name, runtime string) host.Manifest {
		return host.Manifest{Name: name, Runtime: runtime, Hooks: []host.Hook{host.HookConnect, host.HookJoin, host.HookEvent}, OnError: "deny",
			Timeout: host.Duration(10 * time.Second)}
	}
	specs["js"] = host.Spec{Manifest: manifest("policy-js", "js"), Entry: filepath.Join(root, "examples/js/policy/policy.js")}
	specs["wasm-go"] = host.Spec{Manifest: manifest("policy-go", "wasm"), Entry: goWasm}
	specs["wasm-c"] = host.Spec{Manifest: manifest("policy-c", "wasm"), Entry: cWasm}
	specs["process"] = host.Spec{Manifest: manifest("policy-process", "process"), Entry: proc}
	return nil
}

func env(hook host.Hook, mod func(*host.Envelope)) host.Envelope {
	e := host.Envelope{
		Hook: hook, Namespace: "/",
		Socket: host.Socket{ID: "s1", Rooms: []string{"lobby"}, Data: wire.Raw(`{"user":"ann"}`)},
	}
	mod(&e)
	return e
}

func connect(auth string) host.Envelope {
	return env(host.HookConnect, func(e *host.Envelope) {
		e.Socket = host.Socket{ID: "s1", Rooms: []string{}}
		e.Handshake = &host.Handshake{Auth: wire.Raw(auth), Query: map[string]string{}, Headers: map[string]string{}, Address: "127.0.0.1"}
	})
}

func join(rooms ...string) host.Envelope {
	return env(host.HookJoin, func(e *host.Envelope) { e.Rooms = rooms })
}

func event(name, args string) host.Envelope {
	return env(host.HookEvent, func(e *host.Envelope) {
		e.Event, e.Args, e.Ack, e.Rooms = name, wire.Raw(args), true, []string{"lobby"}
	})
}

// table is the shared policy: examples/process/README.md states it.
var table = []struct {
	name string
	env  host.Envelope
	want string // the decision as canonical JSON
}{
	{"connect without auth", connect(`{}`), `{"action":"deny","reason":"token required"}`},
	{"connect with an empty token", connect(`{"token":""}`), `{"action":"deny","reason":"token required"}`},
	{"connect with a number token", connect(`{"token":7}`), `{"action":"deny","reason":"token required"}`},
	{"connect with a token", connect(`{"token":"ann"}`), `{"socket_data":{"user":"ann"}}`},
	{"connect with an escaped token", connect(`{"token":"a\"n\u00e9"}`), `{"socket_data":{"user":"a\"né"}}`},
	{"join a public room", join("lobby"), `{}`},
	{"join a private room", join("private:x"), `{"action":"deny","reason":"private room"}`},
	{"join rooms with a private one", join("lobby", "private:y"), `{"action":"deny","reason":"private room"}`},
	{"shout a string", event("shout", `["hello",1]`), `{"args":["HELLO",1]}`},
	{"shout a number", event("shout", `[42]`), `{}`},
	{"ping", event("ping", `[]`), `{"action":"reply","reply":["pong"]}`},
	{"spam", event("spam", `["buy"]`), `{"action":"drop"}`},
	{"alert", event("alert", `["fire"]`), `{"rooms":["alerts"]}`},
	{"anything else", event("chat", `["hi"]`), `{}`},
}

// TestSamePolicyEveryRuntime runs the table through a host holding the
// policy in each runtime; every runtime must give the expected decision.
func TestSamePolicyEveryRuntime(t *testing.T) {
	if buildErr != nil {
		t.Fatalf("building the policy plugins: %v", buildErr)
	}
	wasmRT := wasm.New(wasm.WithCacheDir(t.TempDir()))
	got := map[string][]string{}
	for _, name := range []string{"js", "wasm-go", "wasm-c", "process"} {
		h := host.New(nil)
		for _, hook := range []host.Hook{host.HookConnect, host.HookJoin, host.HookLeave, host.HookEvent, host.HookDisconnect} {
			h.SetChainBudget(hook, 10*time.Second) // as the timeouts
		}
		h.Register("js", js.Runtime{})
		h.Register("wasm", wasmRT)
		h.Register("process", &process.Runtime{})
		if err := h.Load(context.Background(), []host.Spec{specs[name]}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, c := range table {
			e := c.env
			d := h.Run(context.Background(), &e)
			got[name] = append(got[name], plugintest.Canonical(t, d))
		}
		_ = h.Close()
	}
	for i, c := range table {
		for name, decisions := range got {
			if decisions[i] != c.want {
				t.Errorf("%s / %s: got %s, want %s", c.name, name, decisions[i], c.want)
			}
		}
	}
}
