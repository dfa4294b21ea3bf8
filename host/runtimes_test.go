package host_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/host/js"
	"github.com/hubd/hubd/host/process"
	"github.com/hubd/hubd/host/wasm"
)

// buildRuntimePlugins builds the plugin of host/testdata/<name> from
// source for every runtime of recoveryRuntimes — <name>.js, wasmgo (a Go
// guest), wasmc/<name>.c (a C guest) and process — and returns the spec of
// each, named <name>-<runtime> and handling hooks. The C guest is part of
// the contract: a missing C toolchain fails the test.
func buildRuntimePlugins(t *testing.T, name string, hooks ...host.Hook) map[string]host.Spec {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := filepath.Join(root, "host/testdata", name)
	entries := map[string]string{
		"js":      filepath.Join(src, name+".js"),
		"wasm-go": filepath.Join(dir, name+"-go.wasm"),
		"wasm-c":  filepath.Join(dir, name+"-c.wasm"),
		"process": filepath.Join(dir, name+"-process"),
	}
	builds := []*exec.Cmd{
		exec.Command("go", "build", "-buildmode=c-shared", "-o", entries["wasm-go"], "./host/testdata/"+name+"/wasmgo"),
		exec.Command("clang", "--target=wasm32-wasi", "-O2", "-mexec-model=reactor", "-I", filepath.Join(root, "sdk/wasm/c"),
			"-Wl,--strip-debug", "-o", entries["wasm-c"], filepath.Join(src, "wasmc", name+".c")),
		exec.Command("go", "build", "-o", entries["process"], "./host/testdata/"+name+"/process"),
	}
	builds[0].Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	errs := make([]error, len(builds))
	var wg sync.WaitGroup
	for i, cmd := range builds {
		cmd.Dir = root
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("%v: %v\n%s", cmd.Args, err, out)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("building the %s plugins (the C guest needs clang, lld, wasi-libc and "+
				"libclang-rt-14-dev-wasm32: bash scripts/wasm-toolchain.sh installs them): %v", name, err)
		}
	}
	specs := make(map[string]host.Spec, len(entries))
	for rt, entry := range entries {
		runtime, _, _ := strings.Cut(rt, "-")
		specs[rt] = host.Spec{
			Manifest: host.Manifest{Name: name + "-" + rt, Runtime: runtime, Hooks: hooks,
				Timeout: testTimeout, PoolSize: 1},
			Entry: entry,
		}
	}
	return specs
}

// runtimesHost is a host with every runtime registered, whose chain
// budgets let a test's calls run, loaded with specs; it closes when the
// test ends.
func runtimesHost(t *testing.T, wasmRT *wasm.Runtime, specs ...host.Spec) *host.Host {
	t.Helper()
	h := host.New(nil)
	generousBudgets(h)
	h.Register("js", js.Runtime{})
	h.Register("wasm", wasmRT)
	h.Register("process", &process.Runtime{})
	t.Cleanup(func() { _ = h.Close() })
	if err := h.Load(t.Context(), specs); err != nil {
		t.Fatal(err)
	}
	return h
}
