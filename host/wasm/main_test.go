package wasm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/internal/logtest"
	"github.com/hubd/hubd/internal/waitfor"
)

// The guests, built from source once by TestMain into a temporary
// directory (no .wasm file is committed).
var (
	guestGo     string // examples/wasm/go: the policy in Go
	guestC      string // examples/wasm/c: the policy in C
	guestFaults string // testdata/faults: misbehaviours (Go)
	guestCTest  string // testdata/cfaults: misbehaviours (C)
	guestCHooks string // testdata/cload: hubd_hooks never returns (C)
	guestCInit  string // testdata/cload: _initialize never returns (C)
	guestCErr   error  // why the C guests could not be built

	// testCache is one compilation cache shared by every test, so each
	// module is compiled once per run.
	testCache = wazero.NewCompilationCache()
)

// cToolchainHelp says what to install when the C guests cannot be built.
const cToolchainHelp = "the C guest needs clang, wasm-ld, wasi-libc and the wasm32 compiler-rt builtins: " +
	"run `bash scripts/wasm-toolchain.sh` or, as root, " +
	"`apt-get update && apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32`"

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "hubd-wasm-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	root, err := filepath.Abs("../..")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	guestGo = filepath.Join(dir, "policy-go.wasm")
	guestFaults = filepath.Join(dir, "faults.wasm")
	guestC = filepath.Join(dir, "policy-c.wasm")
	guestCTest = filepath.Join(dir, "cfaults.wasm")
	guestCHooks = filepath.Join(dir, "cload-hooks.wasm")
	guestCInit = filepath.Join(dir, "cload-init.wasm")

	var wg sync.WaitGroup
	var goErr [2]error
	wg.Add(3)
	go func() {
		defer wg.Done()
		goErr[0] = buildGo(root, "./examples/wasm/go", guestGo)
	}()
	go func() {
		defer wg.Done()
		goErr[1] = buildGo(root, "./host/wasm/testdata/faults", guestFaults)
	}()
	go func() {
		defer wg.Done()
		if guestCErr = buildC(root, filepath.Join(root, "examples/wasm/c/policy.c"), guestC); guestCErr == nil {
			guestCErr = buildC(root, filepath.Join(root, "host/wasm/testdata/cfaults/cfaults.c"), guestCTest)
		}
		cload := filepath.Join(root, "host/wasm/testdata/cload/cload.c")
		if guestCErr == nil {
			guestCErr = buildC(root, cload, guestCHooks, "-DLOOP_IN_HOOKS")
		}
		if guestCErr == nil {
			guestCErr = buildC(root, cload, guestCInit, "-DLOOP_IN_INIT")
		}
	}()
	wg.Wait()
	for _, err := range goErr {
		if err != nil {
			fmt.Fprintln(os.Stderr, "building the Go guests:", err)
			return 1
		}
	}
	return m.Run()
}

func buildGo(root, pkg, out string) error {
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// buildC compiles a C guest with the same command examples/wasm/c/build.sh
// uses, plus extra flags.
func buildC(root, src, out string, extra ...string) error {
	clang, err := exec.LookPath("clang")
	if err != nil {
		return fmt.Errorf("clang not found: %s", cToolchainHelp)
	}
	cmd := exec.Command(clang, append(cFlags(root, src, out), extra...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("clang %s: %v\n%s\n%s", filepath.Base(src), err, b, cToolchainHelp)
	}
	return nil
}

// cFlags are the clang arguments for a hubd C guest.
func cFlags(root, src, out string) []string {
	return []string{
		"--target=wasm32-wasi", "-O2", "-mexec-model=reactor",
		"-I", filepath.Join(root, "sdk/wasm/c"),
		"-Wl,--strip-debug",
		"-o", out, src,
	}
}

// needC fails the test when the C toolchain is missing: the C guest is
// part of the contract, so its absence is a failure, never a skip.
func needC(t testing.TB) {
	t.Helper()
	if guestCErr != nil {
		t.Fatalf("C guest unavailable: %v", guestCErr)
	}
}

// load loads a plugin with the test runtime.
func load(t testing.TB, entry string, mod func(*host.Manifest), opts ...Option) *Plugin {
	t.Helper()
	p, _ := loadLogged(t, entry, mod, opts...)
	return p
}

// loadLogged also returns what the plugin logs.
func loadLogged(t testing.TB, entry string, mod func(*host.Manifest), opts ...Option) (*Plugin, *logBuffer) {
	t.Helper()
	m := host.Manifest{Name: strings.TrimSuffix(filepath.Base(entry), ".wasm"), Runtime: "wasm", PoolSize: 1}
	if mod != nil {
		mod(&m)
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	lb := &logBuffer{}
	rt := New(append([]Option{WithCompilationCache(testCache)}, opts...)...)
	pl, err := rt.Load(context.Background(), host.Spec{Manifest: m, Entry: entry, Logger: slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatalf("loading %s: %v", entry, err)
	}
	p := pl.(*Plugin)
	t.Cleanup(func() { _ = p.Close() })
	return p, lb
}

// logBuffer collects log output safely.
type logBuffer = logtest.Buffer

// call runs one hook call with a deadline.
func call(p *Plugin, env *host.Envelope, timeout time.Duration) (*host.Decision, error) {
	ctx := host.WithDeadline(context.Background(), time.Now().Add(timeout))
	d, err := p.Handle(ctx, env)
	if d == nil && err == nil {
		d = &host.Decision{} // allowed unchanged
	}
	return d, err
}

func eventEnv(event string, args string) *host.Envelope {
	e := &host.Envelope{
		Hook:      host.HookEvent,
		Namespace: "/",
		Socket:    host.Socket{ID: "AbCdEfGhIjKlMnOpQrSt", Rooms: []string{"lobby"}, Data: []byte(`{"user":"alice"}`)},
		Event:     event,
		Rooms:     []string{"lobby"},
	}
	if args != "" {
		e.Args = []byte(args)
	}
	return e
}

// waitFor polls cond for up to 30 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	limit := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(limit) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func isTimeout(err error) bool { return errors.Is(err, host.ErrTimeout) }

// returns waits for f to return (see waitfor.Return).
func returns(t testing.TB, what string, f func() error) error {
	t.Helper()
	return waitfor.Return(t, what, f)
}
