package host_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/host/js"
	"github.com/hubd/hubd/host/process"
	"github.com/hubd/hubd/host/wasm"
	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/relay"
)

// tapeSecrets are the values testdata/tape/client.cjs sends that the
// tape must not keep.
var tapeSecrets = []string{"pin-secret-4321", "bearer-secret-7781", "header-secret-9924", "password-secret-5566"}

// tapeRedact redacts them.
var tapeRedact = host.TapeRedact{
	Auth:    []string{"pin"},
	Headers: []string{"Authorization", "x-api-secret"},
	Args:    []string{"args.0.password"},
}

// pluginDir makes a plugin directory holding files (name: contents).
func pluginDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func readTestdata(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// recordTape serves the plugins of dir to testdata/tape/client.cjs, the
// real socket.io-client, with a tape of o recording into a temporary
// file, and returns the file once the host closed it.
func recordTape(t *testing.T, dir string, o host.TapeOptions) string {
	t.Helper()
	h := host.New(nil)
	generousBudgets(h)
	h.Register("js", js.Runtime{})
	if err := h.LoadDir(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	o.File = filepath.Join(t.TempDir(), "hubd.tape")
	if err := h.SetTape(o); err != nil {
		t.Fatal(err)
	}
	srv := hub.New(hub.Options{})
	srv.SetHooks(h.Hooks())
	if err := relay.Attach(srv, relay.Config{}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	ts := httptest.NewServer(mux)
	defer ts.Close()
	defer srv.Close()
	if out := runNodeClient(t, "host/testdata/tape/client.cjs", ts.URL); !bytes.Contains(out, []byte("done")) {
		t.Fatalf("client: %s", out)
	}
	// Each record was queued before its call was answered; Close writes
	// them all.
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	return o.File
}

// tapeLines returns the records of a tape file, header first.
func tapeLines(t *testing.T, file string) []map[string]json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]json.RawMessage
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, host.MaxTapeRecordBytes)
	for sc.Scan() {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("tape line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func replayFile(t *testing.T, file, dir string, wasmRT *wasm.Runtime) host.Report {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := host.Replay(t.Context(), f, dir, host.ReplayOptions{Runtimes: func(c host.Clock) map[string]host.Runtime {
		rt := wasmRT
		if rt == nil {
			rt = wasm.New(wasm.WithCacheDir(t.TempDir()), wasm.WithClock(c))
		}
		return map[string]host.Runtime{"js": js.Runtime{Clock: c}, "wasm": rt, "process": &process.Runtime{}}
	}})
	if err != nil {
		t.Fatalf("replaying %s through %s: %v", file, dir, err)
	}
	return rep
}

// TestTapeRecordReplay records the policy of testdata/trace, in
// JavaScript, serving the real socket.io-client, and replays the tape:
// through the same policy every decision agrees; through a changed one the
// changed decision, and only it, is reported. The tape keeps no redacted
// value, and says in its header what it redacted.
func TestTapeRecordReplay(t *testing.T) {
	policy := readTestdata(t, "trace/trace.js")
	dir := pluginDir(t, map[string]string{"trace.js": policy})
	file := recordTape(t, dir, host.TapeOptions{Redact: tapeRedact})

	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range tapeSecrets {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("the tape keeps %q, which it was told to redact", s)
		}
	}
	lines := tapeLines(t, file)
	var head host.TapeHeader
	if err := json.Unmarshal(mustJSONRaw(t, lines[0]), &head); err != nil || head.Version != host.TapeVersion ||
		!reflect.DeepEqual(head.Redact, tapeRedact) {
		t.Fatalf("header %s: %v", mustJSON(t, lines[0]), err)
	}
	// connect refused, connect, two joins (the hub:join event, then the
	// join), four events: the client's calls the policy handles
	// (disconnect it does not).
	var got []string
	for _, l := range lines[1:] {
		var hook string
		_ = json.Unmarshal(l["hook"], &hook)
		got = append(got, hook)
	}
	want := []string{"connect", "connect", "event", "join", "event", "join", "event", "event", "event", "event"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("recorded hooks %v, want %v", got, want)
	}
	// The redacted fields stay, with the marker for their values; the
	// others are as the client sent them.
	var conn struct {
		Envelope host.Envelope `json:"envelope"`
	}
	if err := json.Unmarshal(mustJSONRaw(t, lines[2]), &conn); err != nil {
		t.Fatal(err)
	}
	hs := conn.Envelope.Handshake
	if hs == nil || compactJSON(t, json.RawMessage(hs.Auth)) != `{"pin":"[redacted]","token":"ann"}` ||
		hs.Headers["authorization"] != host.Redacted || hs.Headers["x-api-secret"] != host.Redacted || hs.Headers["upgrade"] != "websocket" {
		t.Fatalf("connect envelope's handshake %s", mustJSON(t, hs))
	}
	if !bytes.Contains(raw, []byte(`"args":[{"password":"[redacted]","user":"ann"}]`)) {
		t.Fatalf("the login event's args are not redacted as expected:\n%s", raw)
	}

	rep := replayFile(t, file, dir, nil)
	if rep.Records != len(want) || rep.Differ != 0 {
		t.Fatalf("replay through the same policy: %d records, %d differ: %v", rep.Records, rep.Differ, rep.Differences)
	}

	changed := strings.Replace(policy, `{ action: "deny", reason: "no secrets" }`, `{ action: "drop", reason: "secrets dropped" }`, 1)
	if changed == policy {
		t.Fatal("the policy to change is not as the test expects")
	}
	rep = replayFile(t, file, pluginDir(t, map[string]string{"trace.js": changed}), nil)
	if rep.Records != len(want) || rep.Differ != 1 || len(rep.Differences) != 1 {
		t.Fatalf("replay through a changed policy: %d records, %d differ: %v", rep.Records, rep.Differ, rep.Differences)
	}
	d := rep.Differences[0]
	if d.Index != 7 || d.Hook != host.HookEvent || d.Event != "secret" || d.Socket == "" ||
		d.Recorded.Action != host.Deny || d.Recorded.Reason != "no secrets" ||
		d.Replayed.Action != host.Drop || d.Replayed.Reason != "secrets dropped" {
		t.Fatalf("difference %v", d)
	}
}

// TestTapeReplayFixedClock: a policy that reads Date.now(), new Date() and
// Math.random() replays to the same decisions twice, its clock standing at
// each record's time.
func TestTapeReplayFixedClock(t *testing.T) {
	policy := readTestdata(t, "trace/trace.js")
	file := recordTape(t, pluginDir(t, map[string]string{"trace.js": policy}), host.TapeOptions{Hooks: []host.Hook{host.HookEvent}})
	var roll time.Time
	for _, l := range tapeLines(t, file)[1:] {
		if bytes.Contains(l["envelope"], []byte(`"event":"roll"`)) {
			if err := json.Unmarshal(l["time"], &roll); err != nil {
				t.Fatal(err)
			}
		}
	}
	if roll.IsZero() {
		t.Fatal("no roll event on the tape")
	}
	dir := pluginDir(t, map[string]string{"trace.js": policy, "clock.js": readTestdata(t, "tape/clock.js")})
	first := replayFile(t, file, dir, nil)
	second := replayFile(t, file, dir, nil)
	if first.Differ != 1 || !reflect.DeepEqual(first, second) {
		t.Fatalf("two replays differ:\n%s\n%s", mustJSON(t, first), mustJSON(t, second))
	}
	var reply []json.RawMessage
	if err := json.Unmarshal(first.Differences[0].Replayed.Reply, &reply); err != nil || len(reply) != 3 {
		t.Fatalf("roll's reply %s: %v", first.Differences[0].Replayed.Reply, err)
	}
	if got, want := string(reply[1]), mustJSON(t, roll.UnixMilli()); got != want {
		t.Errorf("Date.now() gave %s, want the record's time %s", got, want)
	}
	if got, want := string(reply[2]), mustJSON(t, roll.UTC().Truncate(time.Millisecond).Format("2006-01-02T15:04:05.000Z")); got != want {
		t.Errorf("new Date() gave %s, want the record's time %s", got, want)
	}
}

// TestTapeReplayRuntimes: a tape recorded with the JavaScript policy of
// testdata/trace replays with no difference through its Go and C Wasm
// guests and its process.
func TestTapeReplayRuntimes(t *testing.T) {
	policy := readTestdata(t, "trace/trace.js")
	file := recordTape(t, pluginDir(t, map[string]string{"trace.js": policy}), host.TapeOptions{Redact: tapeRedact})
	specs := buildRuntimePlugins(t, "trace", host.HookConnect, host.HookJoin, host.HookEvent)
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	dirs := map[string]string{
		"js":      pluginDir(t, map[string]string{"trace.js": policy}),
		"wasm-go": pluginDir(t, map[string]string{"trace.wasm": read(specs["wasm-go"].Entry)}),
		"wasm-c":  pluginDir(t, map[string]string{"trace.wasm": read(specs["wasm-c"].Entry)}),
		"process": pluginDir(t, map[string]string{
			"trace/plugin.json":   `{"entry": "trace-process", "runtime": "process", "hooks": ["connect", "join", "event"]}`,
			"trace/trace-process": read(specs["process"].Entry),
		}),
	}
	var reports []host.Report
	for _, name := range recoveryRuntimes {
		rep := replayFile(t, file, dirs[name], nil)
		if rep.Records != 10 || rep.Differ != 0 {
			t.Errorf("%s: %d records, %d differ: %v", name, rep.Records, rep.Differ, rep.Differences)
		}
		reports = append(reports, rep)
	}
	for i := range reports {
		if !reflect.DeepEqual(reports[i], reports[0]) {
			t.Errorf("%s's report differs from %s's", recoveryRuntimes[i], recoveryRuntimes[0])
		}
	}
}

// TestTapeReplayFixedClockWasm: a Go Wasm guest that reads hubd.Now(),
// time.Now() (WASI's wall clock) and crypto/rand (WASI's random_get)
// replays to the same decisions twice, its clocks standing at each
// record's time.
func TestTapeReplayFixedClockWasm(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	guest := filepath.Join(t.TempDir(), "clock.wasm")
	build := exec.Command("go", "build", "-buildmode=c-shared", "-o", guest, "./host/testdata/tape/clockgo")
	build.Dir = root
	build.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the guest: %v\n%s", err, out)
	}
	wasmBin, err := os.ReadFile(guest)
	if err != nil {
		t.Fatal(err)
	}
	policy := readTestdata(t, "trace/trace.js")
	file := recordTape(t, pluginDir(t, map[string]string{"trace.js": policy}), host.TapeOptions{Hooks: []host.Hook{host.HookEvent}})
	var roll time.Time
	for _, l := range tapeLines(t, file)[1:] {
		if bytes.Contains(l["envelope"], []byte(`"event":"roll"`)) {
			if err := json.Unmarshal(l["time"], &roll); err != nil {
				t.Fatal(err)
			}
		}
	}
	dir := pluginDir(t, map[string]string{"trace.js": policy, "clock.wasm": string(wasmBin)})
	first := replayFile(t, file, dir, nil)
	second := replayFile(t, file, dir, nil)
	if first.Differ != 1 || !reflect.DeepEqual(first, second) {
		t.Fatalf("two replays differ:\n%s\n%s", mustJSON(t, first), mustJSON(t, second))
	}
	var reply []int64
	if err := json.Unmarshal(first.Differences[0].Replayed.Reply, &reply); err != nil || len(reply) != 3 {
		t.Fatalf("roll's reply %s: %v", first.Differences[0].Replayed.Reply, err)
	}
	if reply[0] != roll.UnixMilli() || reply[1] != roll.UnixMilli() {
		t.Errorf("hubd.Now() and time.Now() gave %d and %d, want the record's time %d", reply[0], reply[1], roll.UnixMilli())
	}
}

func mustJSONRaw(t *testing.T, v any) json.RawMessage {
	t.Helper()
	return json.RawMessage(mustJSON(t, v))
}
