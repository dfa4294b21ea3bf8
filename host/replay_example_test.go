package host_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/host/js"
	"github.com/hubd/hubd/host/process"
	"github.com/hubd/hubd/host/wasm"
)

// A tape of two events, the second denied when it was recorded, replayed
// through a policy that now denies neither: the second decision differs.
func ExampleReplay() {
	dir, err := os.MkdirTemp("", "plugins")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	policy := `hubd.on("event", (env) => { if (env.event === "secret") return { action: "drop", reason: "later" }; });`
	if err := os.WriteFile(filepath.Join(dir, "policy.js"), []byte(policy), 0o644); err != nil {
		panic(err)
	}
	tape := `{"hubd_tape":1,"created":"2026-12-07T07:00:00Z","redact":{}}
{"time":"2026-12-07T07:00:01Z","hook":"event","envelope":{"v":1,"hook":"event","ns":"/","socket":{"id":"s1","rooms":[]},"event":"hello","args":[1]},"decision":{"action":"allow"}}
{"time":"2026-12-07T07:00:02Z","hook":"event","envelope":{"v":1,"hook":"event","ns":"/","socket":{"id":"s1","rooms":[]},"event":"secret","args":[2]},"decision":{"action":"deny","reason":"no secrets"}}
`
	rep, err := host.Replay(context.Background(), strings.NewReader(tape), dir, host.ReplayOptions{
		Runtimes: func(c host.Clock) map[string]host.Runtime {
			return map[string]host.Runtime{"js": js.Runtime{Clock: c}, "wasm": wasm.New(wasm.WithClock(c)), "process": &process.Runtime{}}
		},
	})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d records, %d differ\n", rep.Records, rep.Differ)
	for _, d := range rep.Differences {
		fmt.Println(d)
	}
	// Output:
	// 2 records, 1 differ
	// #1 event secret ns=/ socket=s1: recorded {"action":"deny","reason":"no secrets"}, now {"action":"drop","reason":"later"}
}
