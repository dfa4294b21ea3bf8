package js

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/host"
)

type logLine struct {
	Level   string `json:"level"`
	Msg     string `json:"msg"`
	Hook    string `json:"hook"`
	Socket  string `json:"socket"`
	Phase   string `json:"phase"`
	Dropped int    `json:"dropped"`
}

func logLines(t *testing.T, l *logBuffer) []logLine {
	t.Helper()
	var out []logLine
	for _, s := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		if s == "" {
			continue
		}
		var line logLine
		if err := json.Unmarshal([]byte(s), &line); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		out = append(out, line)
	}
	return out
}

func TestConsoleGoesToLogger(t *testing.T) {
	var logs logBuffer
	p := loadSource(t, `
console.log("loading", 1);
hubd.on("event", (env) => {
  console.log("log", env.event, {n: 1}, [1, "a"], null, undefined);
  console.info("info");
  console.warn("warn");
  console.error("error", new Error("bad"));
  console.debug("debug", () => 1);
  hubd.log("warn", "via hubd.log", 2);
});`, withLogger(logs.logger()))
	mustDecide(t, p, eventEnv("s7", "chat", `[]`))
	got := logLines(t, &logs)
	want := []logLine{
		{Level: "INFO", Msg: "loading 1", Phase: "load"},
		{Level: "INFO", Msg: `log chat {"n":1} [1,"a"] null undefined`, Hook: "event", Socket: "s7"},
		{Level: "INFO", Msg: "info", Hook: "event", Socket: "s7"},
		{Level: "WARN", Msg: "warn", Hook: "event", Socket: "s7"},
		{Level: "ERROR", Msg: "error Error: bad", Hook: "event", Socket: "s7"},
		{Level: "DEBUG", Msg: "debug [Function]", Hook: "event", Socket: "s7"},
		{Level: "WARN", Msg: "via hubd.log 2", Hook: "event", Socket: "s7"},
	}
	// The pool has two runtimes: the load line comes twice.
	if len(got) != len(want)+1 {
		t.Fatalf("got %d lines: %+v", len(got), got)
	}
	got = got[1:]
	for i := range want {
		g := got[i]
		if i == 4 { // an Error renders with its stack
			g.Msg = strings.SplitN(g.Msg, "\n", 2)[0]
		}
		if g != want[i] {
			t.Errorf("line %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestLogCap(t *testing.T) {
	var logs logBuffer
	p := loadSource(t, `
hubd.on("event", (env) => {
  console.log("x".repeat(3000));
  for (let i = 0; i < 1000; i++) console.log("line", i);
});
hubd.on("leave", () => { console.log("fresh budget"); });`,
		withLogger(logs.logger()), withRuntime(func(r *Runtime) { r.MaxLogBytes = 1000 }))
	mustDecide(t, p, eventEnv("s", "chat", `[]`))
	mustDecide(t, p, &host.Envelope{Hook: host.HookLeave, Socket: host.Socket{ID: "s"}})
	lines := logLines(t, &logs)
	if len(lines) != 3 {
		t.Fatalf("got %d lines: %+v", len(lines), lines)
	}
	if n := len(lines[0].Msg); n > 1010 || !strings.HasSuffix(lines[0].Msg, "…") {
		t.Errorf("first line not cut at the budget: %d bytes", n)
	}
	if lines[1].Level != "WARN" || lines[1].Dropped != 1000 {
		t.Errorf("no drop report: %+v", lines[1])
	}
	if lines[2].Msg != "fresh budget" {
		t.Errorf("the next call has no budget: %+v", lines[2])
	}
}

func TestHubdLogUnknownLevel(t *testing.T) {
	p := loadSource(t, `hubd.on("event", () => { hubd.log("loud", "x"); });`)
	if _, err := call(t, p, eventEnv("s", "chat", `[]`)); err == nil || !strings.Contains(err.Error(), "unknown level") {
		t.Fatalf("err = %v", err)
	}
}

func TestConfig(t *testing.T) {
	src := `
"use strict";
hubd.on("event", () => {
  let writable = true;
  try { hubd.config.limit = 1; } catch (e) { writable = false; }
  let deep = true;
  try { hubd.config.nested.list.push(1); } catch (e) { deep = false; }
  let host = true;
  try { hubd.on = null; } catch (e) { host = false; }
  return {data: {config: hubd.config, writable, deep, host, frozen: Object.isFrozen(hubd.config.nested.list)}};
});`
	p := loadSource(t, src, withConfig(`{"limit": 10, "nested": {"list": ["a"]}, "name": "x"}`))
	d := mustDecide(t, p, eventEnv("s", "chat", `[]`))
	want := `{"config":{"limit":10,"nested":{"list":["a"]},"name":"x"},"writable":false,"deep":false,"host":false,"frozen":true}`
	if string(d.Data) != want {
		t.Errorf("got  %s\nwant %s", d.Data, want)
	}
	p = loadSource(t, `hubd.on("event", () => ({data: hubd.config}));`)
	if d := mustDecide(t, p, eventEnv("s", "chat", `[]`)); string(d.Data) != `{}` {
		t.Errorf("no config: %s", d.Data)
	}
	if _, err := tryLoad(`hubd.on("event", () => {});`, withConfig(`{bad`)); err == nil {
		t.Error("bad config loaded")
	}
}

func TestNoHostGlobals(t *testing.T) {
	p := loadSource(t, `
hubd.on("event", () => ({data: [
  typeof setTimeout, typeof setInterval, typeof setImmediate, typeof clearTimeout, typeof require,
  typeof module, typeof exports, typeof process, typeof fetch, typeof XMLHttpRequest, typeof WebSocket,
  typeof Deno, typeof Bun, typeof global, typeof importScripts,
]}));`)
	d := mustDecide(t, p, eventEnv("s", "chat", `[]`))
	if strings.Count(string(d.Data), `"undefined"`) != 15 {
		t.Errorf("host globals: %s", d.Data)
	}
	for _, src := range []string{`require("fs")`, `setTimeout(() => {}, 1)`} {
		p := loadSource(t, `hubd.on("event", () => { `+src+` });`)
		if _, err := call(t, p, eventEnv("s", "chat", `[]`)); err == nil || !strings.Contains(err.Error(), "ReferenceError") {
			t.Errorf("%s: err = %v", src, err)
		}
	}
}

func TestThrow(t *testing.T) {
	p := loadSource(t, `
function check(x) {
  if (x === "bad") throw new TypeError("bad input " + x);
}
hubd.on("event", (env) => { check(env.args[0]); return {action: "drop"}; });`, withPool(1))
	_, err := call(t, p, eventEnv("s", "chat", `["bad"]`))
	if err == nil || errors.Is(err, host.ErrGarbage) || errors.Is(err, host.ErrTimeout) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"threw", "TypeError: bad input bad", "check", "test.js:3"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if d := mustDecide(t, p, eventEnv("s", "chat", `["good"]`)); d.Action != host.Drop {
		t.Errorf("next call: %+v", d)
	}
	// A value that is not an Error.
	p = loadSource(t, `hubd.on("event", () => { throw "plain"; });`)
	if _, err := call(t, p, eventEnv("s", "chat", `[]`)); err == nil || !strings.Contains(err.Error(), "plain") {
		t.Errorf("err = %v", err)
	}
}

func TestPromises(t *testing.T) {
	tests := []struct{ name, src, wantErr string }{
		{"pending", `hubd.on("event", async () => { await new Promise(() => {}); return {action: "deny"}; });`, "pending"},
		{"rejected", `hubd.on("event", async () => { throw new Error("nope"); });`, "rejected: Error: nope"},
		{"returned pending promise", `hubd.on("event", () => new Promise(() => {}));`, "pending"},
		{"resolved chain", `hubd.on("event", async (env) => { const x = await Promise.resolve(env.args[0]); return {args: [await x + 1]}; });`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := loadSource(t, tt.src)
			d, err := call(t, p, eventEnv("s", "chat", `[1]`))
			if tt.wantErr == "" {
				if err != nil || string(d.Args) != `[2]` {
					t.Fatalf("%+v %v", d, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestEndlessLoop: a runaway handler is stopped at its deadline, and the
// plugin goes on working.
func TestEndlessLoop(t *testing.T) {
	const timeout = 30 * time.Millisecond
	loops := map[string]string{
		"while":         `while (true) {}`,
		"catch":         `while (true) { try { while (true) {} } catch (e) {} }`,
		"finally":       `try { while (true) {} } finally { while (true) {} }`,
		"in a getter":   `return {get action() { while (true) {} }}`,
		"in toJSON":     `return {args: [{toJSON() { for (;;) {} }}]}`,
		"in a callback": `[1, 2, 3].forEach(() => { for (;;) {} })`,
	}
	for name, body := range loops {
		t.Run(name, func(t *testing.T) {
			p := loadSource(t, `hubd.on("event", (env) => { if (env.event === "loop") { `+body+` } return {action: "drop"}; });`,
				withPool(1), withTimeout(timeout))
			for range 2 {
				start := time.Now()
				var took time.Duration
				err := returns(t, "the endless handler", func() error {
					_, err := call(t, p, eventEnv("s", "loop", `[]`))
					took = time.Since(start)
					return err
				})
				if !errors.Is(err, host.ErrTimeout) {
					t.Fatalf("err = %v, want ErrTimeout", err)
				}
				if took < timeout {
					t.Errorf("stopped after %v, before its timeout %v", took, timeout)
				}
				if d := decideSoon(t, p, eventEnv("s", "chat", `[]`)); d.Action != host.Drop {
					t.Fatalf("next call: %+v", d)
				}
			}
		})
	}
}

// TestWatchdogTick: the watchdog looks at the calls in flight every
// timeout/20, between 1 and 5 ms, so a call past its deadline is stopped
// within a tick of it on a machine with a core to spare
// (BenchmarkTimeoutOvershoot measures it).
func TestWatchdogTick(t *testing.T) {
	for _, c := range []struct{ timeout, tick time.Duration }{
		{10 * time.Millisecond, time.Millisecond},
		{20 * time.Millisecond, time.Millisecond},
		{60 * time.Millisecond, 3 * time.Millisecond},
		{100 * time.Millisecond, 5 * time.Millisecond},
		{time.Hour, 5 * time.Millisecond},
	} {
		p := loadSource(t, `hubd.on("event", () => {});`, withPool(1), withTimeout(c.timeout))
		if p.tick != c.tick {
			t.Errorf("timeout %v: tick %v, want %v", c.timeout, p.tick, c.tick)
		}
	}
}

// TestDeadlineFromContext: the context's deadline ends a call long before
// the manifest's timeout of an hour.
func TestDeadlineFromContext(t *testing.T) {
	p := loadSource(t, `hubd.on("event", () => { for (;;) {} });`, withTimeout(time.Hour))
	err := returns(t, "a call past its context's deadline", func() error {
		ctx := host.WithDeadline(context.Background(), time.Now().Add(20*time.Millisecond))
		_, err := p.Handle(ctx, eventEnv("s", "chat", `[]`))
		return err
	})
	if !errors.Is(err, host.ErrTimeout) {
		t.Fatalf("err = %v", err)
	}
}

// TestMemoryBomb: handlers that pile up memory are stopped by the time
// limit or the output cap; the host lives on.
func TestMemoryBomb(t *testing.T) {
	bombs := map[string]string{
		"array":          `const a = []; for (;;) a.push({i: a.length, s: "xxxxxxxxxxxxxxxx"});`,
		"string":         `let s = "x"; for (;;) s += "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy";`,
		"global":         `globalThis.keep = []; for (;;) globalThis.keep.push(new Array(64).fill(1));`,
		"doubling":       `let s = "x"; for (let i = 0; i < 26; i++) s = s + s; return {args: [s]};`,
		"deep recursion": `const f = (n) => f(n + 1) + 1; f(0);`,
	}
	for name, body := range bombs {
		t.Run(name, func(t *testing.T) {
			p := loadSource(t, `hubd.on("event", (env) => { if (env.event === "bomb") { `+body+` } return {action: "drop"}; });`,
				withPool(1), withTimeout(30*time.Millisecond))
			_, err := call(t, p, eventEnv("s", "bomb", `[]`))
			if err == nil {
				t.Fatal("the bomb went through")
			}
			t.Logf("stopped: %.200v", err)
			// The host lives on: an ordinary call succeeds.
			if d := decideSoon(t, p, eventEnv("s", "chat", `[]`)); d.Action != host.Drop {
				t.Fatalf("next call: %+v", d)
			}
		})
	}
}

// TestPoolBusy: while the one runtime of the pool runs a call, another
// call waits for it until its deadline and times out; the pool then serves
// again.
func TestPoolBusy(t *testing.T) {
	p := loadSource(t, `hubd.on("event", (env) => { if (env.event === "slow") { const end = Date.now() + 1000; while (Date.now() < end) {} } return {action: "drop"}; });`,
		withPool(1))
	// The slow call holds the runtime for a second of the clock. On a
	// machine so loaded that it ended before the other call had waited
	// out its deadline, that call proves nothing: try again.
	for attempt := 1; ; attempt++ {
		done := make(chan error, 1)
		go func() {
			_, err := call(t, p, eventEnv("s", "slow", `[]`))
			done <- err
		}()
		waitUntil(t, "the slow call to take the runtime", func() bool { return len(p.pool) == 0 })
		ctx := host.WithDeadline(context.Background(), time.Now().Add(20*time.Millisecond))
		_, err := p.Handle(ctx, eventEnv("s", "chat", `[]`))
		var slowErr error
		slowEnded := false
		select {
		case slowErr = <-done:
			slowEnded = true
		default:
		}
		if !errors.Is(err, host.ErrTimeout) {
			if !slowEnded {
				t.Fatalf("busy pool: err = %v, want ErrTimeout", err)
			}
			if attempt == 10 {
				t.Fatalf("busy pool: err = %v, and the slow call had ended each of %d times", err, attempt)
			}
			continue
		}
		if !slowEnded {
			slowErr = <-done
		}
		if slowErr != nil {
			t.Fatal(slowErr)
		}
		break
	}
	if d := mustDecide(t, p, eventEnv("s", "chat", `[]`)); d.Action != host.Drop {
		t.Fatalf("%+v", d)
	}
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name, src string
		hooks     []host.Hook
		wantErr   string
	}{
		{"hubd.on", `hubd.on("connect", () => {}); hubd.on("event", () => {});`, []host.Hook{host.HookConnect, host.HookEvent}, ""},
		{"functions", `function onJoin(env) {} function onDisconnect(env) {} var onEvent = (env) => {};`,
			[]host.Hook{host.HookJoin, host.HookEvent, host.HookDisconnect}, ""},
		{"let and const", `const onConnect = () => {}; let onLeave = function () {};`, []host.Hook{host.HookConnect, host.HookLeave}, ""},
		{"not functions", `var onEvent = 1; const onJoin = {}; hubd.on("leave", () => {});`, []host.Hook{host.HookLeave}, ""},
		{"mixed", `function onLeave() {} hubd.on("event", () => {});`, []host.Hook{host.HookLeave, host.HookEvent}, ""},
		{"both forms", `function onEvent() {} hubd.on("event", () => {});`, nil, "both"},
		{"twice", `hubd.on("event", () => {}); hubd.on("event", () => {});`, nil, "twice"},
		{"unknown hook", `hubd.on("message", () => {});`, nil, "unknown hook"},
		{"not a function", `hubd.on("event", 42);`, nil, "not a function"},
		{"no handler", `const x = 1;`, nil, "registers no handler"},
		{"syntax error", `hubd.on("event", () => {`, nil, "js:"},
		{"module syntax", `export default function onEvent() {}`, nil, "js:"},
		{"throws", `throw new Error("init failed");`, nil, "init failed"},
		{"endless", `for (;;) {}`, nil, "did not finish loading"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := tryLoad(tt.src, withRuntime(func(r *Runtime) { r.LoadTimeout = 50 * time.Millisecond }))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if got := Hooks(p); !equalHooks(got, tt.hooks) {
				t.Errorf("hooks %v, want %v", got, tt.hooks)
			}
		})
	}
}

func equalHooks(a, b []host.Hook) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestOnOnlyWhileLoading(t *testing.T) {
	p := loadSource(t, `hubd.on("event", () => { hubd.on("join", () => {}); });`)
	if _, err := call(t, p, eventEnv("s", "chat", `[]`)); err == nil || !strings.Contains(err.Error(), "while the script loads") {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "deny.js")
	if err := os.WriteFile(path, []byte(`function onEvent(env) { return {action: "deny", reason: hubd.config.why}; }`), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := host.Spec{Entry: path, Manifest: host.Manifest{Name: "deny", Runtime: "js", Config: json.RawMessage(`{"why":"file"}`), Timeout: host.Duration(10 * time.Second)}}
	hp, err := Runtime{}.Load(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	defer hp.Close()
	d, err := hp.Handle(context.Background(), eventEnv("s", "chat", `[]`))
	if err != nil || d.Action != host.Deny || d.Reason != "file" {
		t.Fatalf("%+v %v", d, err)
	}
	spec.Entry = filepath.Join(dir, "missing.js")
	if _, err := (Runtime{}).Load(context.Background(), spec); err == nil {
		t.Error("a missing file loaded")
	}
	if Hooks(nil) != nil {
		t.Error("Hooks of a non-JS plugin")
	}
}

func TestClose(t *testing.T) {
	p, err := tryLoad(`hubd.on("event", () => ({action: "deny"}));`)
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	p.Close()
	if _, err := call(t, p, eventEnv("s", "chat", `[]`)); !errors.Is(err, ErrClosed) {
		t.Fatalf("err = %v", err)
	}
}
