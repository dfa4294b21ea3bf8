package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/internal/logtest"
)

// TestRecoveryConfig: recovery is off by default; the block turns it on
// with the hub's defaults for what it leaves out; HUBD_RECOVERY over the
// file and -recovery over both, 0 turning it off whatever the file says.
func TestRecoveryConfig(t *testing.T) {
	load := func(args []string, e map[string]string) Config {
		t.Helper()
		cfg, err := Load(args, env(e), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	if cfg := load(nil, nil); cfg.Recovery != nil || cfg.Recovery.hubOptions() != nil {
		t.Fatalf("recovery on by default: %v", cfg.Recovery)
	}

	dir := t.TempDir()
	empty := writeFile(t, dir, "empty.json", `{"recovery": {}}`)
	cfg := load([]string{"-config", empty}, nil)
	if cfg.Recovery == nil || *cfg.Recovery != defaultRecovery() {
		d := defaultRecovery()
		t.Fatalf("an empty block: %v, want the defaults %v", cfg.Recovery, &d)
	}
	if d := defaultRecovery(); time.Duration(d.Duration) != 2*time.Minute || d.MaxPackets != 100_000 || d.MaxBytes != 64<<20 ||
		d.MaxSessions != 100_000 || d.MaxSessionPackets != 10_000 || d.MaxSessionBytes != 4<<20 || d.RunMiddlewares {
		t.Fatalf("defaults %v, want those documented", &d)
	}

	full := writeFile(t, dir, "full.json", `{"recovery": {"duration": "30s", "run_middlewares": true, "max_packets": 10,
		"max_bytes": 2000, "max_sessions": 3, "max_session_packets": 4, "max_session_bytes": 500}}`)
	cfg = load([]string{"-config", full}, nil)
	want := RecoveryConfig{Duration(30 * time.Second), true, 10, 2000, 3, 4, 500}
	if cfg.Recovery == nil || *cfg.Recovery != want {
		t.Fatalf("file: %v, want %v", cfg.Recovery, &want)
	}
	if o := cfg.Recovery.hubOptions(); *o != (hub.RecoveryOptions{MaxDisconnectionDuration: 30 * time.Second, RunMiddlewares: true,
		MaxPackets: 10, MaxBytes: 2000, MaxSessions: 3, MaxSessionPackets: 4, MaxSessionBytes: 500}) {
		t.Fatalf("hub options %+v", *o)
	}
	partial := writeFile(t, dir, "partial.json", `{"recovery": {"max_packets": 7}}`)
	cfg = load([]string{"-config", partial}, nil)
	want = defaultRecovery()
	want.MaxPackets = 7
	if *cfg.Recovery != want {
		t.Fatalf("a block with one key: %v, want %v", cfg.Recovery, &want)
	}

	// The environment and the flag set the duration and keep the rest.
	cfg = load([]string{"-config", full}, map[string]string{"HUBD_RECOVERY": "90s"})
	want = RecoveryConfig{Duration(90 * time.Second), true, 10, 2000, 3, 4, 500}
	if *cfg.Recovery != want {
		t.Fatalf("env over file: %v, want %v", cfg.Recovery, &want)
	}
	cfg = load([]string{"-config", full, "-recovery", "5m"}, map[string]string{"HUBD_RECOVERY": "90s"})
	want.Duration = Duration(5 * time.Minute)
	if *cfg.Recovery != want {
		t.Fatalf("flag over env: %v, want %v", cfg.Recovery, &want)
	}
	cfg = load([]string{"-recovery", "1m"}, nil)
	want = defaultRecovery()
	want.Duration = Duration(time.Minute)
	if cfg.Recovery == nil || *cfg.Recovery != want {
		t.Fatalf("flag without the block: %v, want %v", cfg.Recovery, &want)
	}
	for _, off := range []struct {
		args []string
		env  map[string]string
	}{
		{[]string{"-config", full, "-recovery", "0"}, nil},
		{[]string{"-config", full}, map[string]string{"HUBD_RECOVERY": "0s"}},
		{[]string{"-config", full, "-recovery", "0"}, map[string]string{"HUBD_RECOVERY": "1m"}},
	} {
		if cfg := load(off.args, off.env); cfg.Recovery != nil {
			t.Errorf("%v %v: recovery %v, want off", off.args, off.env, cfg.Recovery)
		}
	}
	// A flag turns on what the environment turned off.
	if cfg := load([]string{"-recovery", "10s"}, map[string]string{"HUBD_RECOVERY": "0"}); cfg.Recovery == nil ||
		time.Duration(cfg.Recovery.Duration) != 10*time.Second {
		t.Errorf("flag over an env that turns it off: %v", cfg.Recovery)
	}
}

// TestRecoveryValidation: every problem of the recovery settings is
// reported, with the key, at once with the others.
func TestRecoveryValidation(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  map[string]string
		file string
		want []string
	}{
		{"zero and negative", nil, nil, `{"recovery": {"duration": "0s", "max_packets": 0, "max_bytes": -1, "max_sessions": -2,
			"max_session_packets": 0, "max_session_bytes": -3}}`,
			[]string{"recovery.duration 0s: it must be positive", "recovery.max_packets 0", "recovery.max_bytes -1",
				"recovery.max_sessions -2", "recovery.max_session_packets 0", "recovery.max_session_bytes -3"}},
		{"negative duration", nil, nil, `{"recovery": {"duration": "-1m"}}`, []string{"recovery.duration -1m0s"}},
		{"session bytes over half the buffer", nil, nil, `{"recovery": {"max_session_bytes": 8388609}}`,
			[]string{"recovery.max_session_bytes 8388609: at most 8388608"}},
		{"unparsable duration", nil, nil, `{"recovery": {"duration": "soon"}}`, []string{`recovery.duration: time: invalid duration "soon"`}},
		{"duration as a number", nil, nil, `{"recovery": {"duration": 120}}`, []string{"recovery.duration: a duration is a string"}},
		{"not an object", nil, nil, `{"recovery": true}`, []string{`recovery: an object such as {"duration": "2m"}, not true`}},
		{"wrong type", nil, nil, `{"recovery": {"max_packets": "many"}}`, []string{"recovery.max_packets: a number, not a string"}},
		{"unknown key", nil, nil, `{"recovery": {"duration": "1m", "max_age": "1m"}}`, []string{"recovery.max_age: unknown key"}},
		{"redis adapter", nil, nil, `{"recovery": {}, "adapter": {"type": "redis"}}`, []string{"recovery: adapter redis keeps no sessions"}},
		{"bad flag and more", []string{"-recovery", "later", "-log-format", "xml"}, nil, "",
			[]string{`-recovery "later": not a duration`, `log.format "xml"`}},
		{"negative flag", []string{"-recovery", "-5s"}, nil, "", []string{`-recovery "-5s": it must be 0 (off) or positive`}},
		{"bad env", nil, map[string]string{"HUBD_RECOVERY": "2"}, "", []string{`HUBD_RECOVERY "2": not a duration`}},
		{"empty flag", []string{"-recovery", ""}, nil, "", []string{`-recovery "": not a duration`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := c.args
			if c.file != "" {
				args = append([]string{"-config", writeFile(t, t.TempDir(), "c.json", c.file)}, args...)
			}
			_, err := Load(args, env(c.env), io.Discard)
			wantProblems(t, c.name, err, c.want)
		})
	}
}

// TestReloadKeepsRecovery: a SIGHUP that changes recovery logs that it
// needs a restart, and the hub keeps the settings it started with.
func TestReloadKeepsRecovery(t *testing.T) {
	start := Defaults()
	r := defaultRecovery()
	start.Recovery = &r
	var logs logtest.Buffer
	l := newLive(start, nil, slog.New(slog.NewJSONHandler(&logs, nil)), new(slog.LevelVar))
	l.srv = hub.New(l.hubOptions())
	t.Cleanup(func() { _ = l.srv.Close() })

	next := start
	next.Recovery = nil
	l.apply(context.Background(), next)
	if !strings.Contains(logs.String(), `"setting":"recovery","old":"duration=2m0s run_middlewares=false max_packets=100000`) ||
		!strings.Contains(logs.String(), `"new":"off"`) {
		t.Fatalf("no restart notice for recovery:\n%s", logs.String())
	}
	if l.cfg.Recovery == nil {
		t.Fatal("the configuration in force lost its recovery block")
	}
}

// dialSIO opens a WebSocket Engine.IO connection to hubd at addr and
// sends a CONNECT to "/" with auth. It returns the events that arrived
// before the answer (a recovered socket's missed events), and the answer.
func dialSIO(t *testing.T, addr, auth string) (c *websocket.Conn, before []string, answer string) {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if open := nextMsg(t, c); !strings.HasPrefix(open, `0{"sid"`) {
		t.Fatalf("open packet: %s", open)
	}
	send(t, c, "40"+auth)
	for {
		m := nextMsg(t, c)
		if strings.HasPrefix(m, "40") || strings.HasPrefix(m, "44") {
			return c, before, m
		}
		before = append(before, m)
	}
}

// session is a CONNECT answer's socket and private ids.
type session struct{ SID, PID string }

func parseSession(t *testing.T, answer string) session {
	t.Helper()
	var s session
	if !strings.HasPrefix(answer, "40") || json.Unmarshal([]byte(answer[2:]), &s) != nil || s.SID == "" {
		t.Fatalf("CONNECT answer %s, want 40{\"sid\",...}", answer)
	}
	return s
}

// eventOffset returns an event's name, its arguments before the offset,
// and the offset, its last argument.
func eventOffset(t *testing.T, msg string) (name string, args []json.RawMessage, offset string) {
	t.Helper()
	var all []json.RawMessage
	if !strings.HasPrefix(msg, "42") || json.Unmarshal([]byte(msg[2:]), &all) != nil || len(all) < 2 ||
		json.Unmarshal(all[0], &name) != nil || json.Unmarshal(all[len(all)-1], &offset) != nil || offset == "" {
		t.Fatalf("%s: want an event whose last argument is an offset", msg)
	}
	return name, all[1 : len(all)-1], offset
}

// cutAndWait closes c's connection without a word, as a network cut
// does, and waits until hubd counts sockets in "/".
func cutAndWait(t *testing.T, d *daemon, c *websocket.Conn, sockets float64) {
	t.Helper()
	_ = c.Close()
	waitCluster(t, func() bool {
		_, body := get(t, "http://"+d.addr+"/metrics")
		v, ok := metricValue(t, body, "hubd_sockets", `namespace="/"`)
		return ok && v == sockets
	}, "hubd to see the connection go")
}

// recoveryMetrics checks the recovery counters at /metrics: every reason
// has its series, refused those of want, 0 the others.
func recoveryMetrics(t *testing.T, d *daemon, attempted, succeeded float64, refused map[string]float64) {
	t.Helper()
	_, body := get(t, "http://"+d.addr+"/metrics")
	for _, c := range []struct {
		name string
		want float64
	}{{"hubd_recovery_attempted_total", attempted}, {"hubd_recovery_succeeded_total", succeeded}} {
		if v, ok := metricValue(t, body, c.name); !ok || v != c.want {
			t.Errorf("%s = %v (found %v), want %v", c.name, v, ok, c.want)
		}
	}
	for _, reason := range []string{"unknown_session", "unknown_offset", "offset_expired", "too_many_missed", "refused", "unavailable"} {
		if v, ok := metricValue(t, body, "hubd_recovery_refused_total", `reason="`+reason+`"`); !ok || v != refused[reason] {
			t.Errorf("hubd_recovery_refused_total{reason=%q} = %v (found %v), want %v", reason, v, ok, refused[reason])
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
}

// TestDaemonRecovery: with recovery on, a client cut from the network
// comes back to its socket (same id, its room) and first gets what was
// relayed and published to it meanwhile, in order; the plugins' connect
// hook is not run again (the client sends no token this time). A session
// recovers once. /metrics counts it all.
func TestDaemonRecovery(t *testing.T) {
	plugins := t.TempDir()
	writeJSPlugin(t, plugins, "policy", policyJS)
	cfgFile := writeFile(t, t.TempDir(), "hubd.json", `{"listen": "127.0.0.1:0", "plugins": {"dir": "`+plugins+`"},
		"api": {"key": "k"}, "recovery": {"duration": "1m"}}`)
	d := start(t, "-config", cfgFile)

	a, _, ans := dialSIO(t, d.addr, `{"token":"a"}`)
	sa := parseSession(t, ans)
	if sa.PID == "" || sa.PID == sa.SID {
		t.Fatalf("CONNECT answer %s: want a private id of its own", ans)
	}
	b, _, ans := dialSIO(t, d.addr, `{"token":"b"}`)
	parseSession(t, ans)
	for _, c := range []*websocket.Conn{a, b} {
		if _, ack := emitAck(t, c, "1", `["hub:join","lobby"]`); ack != `431[{"ok":true,"rooms":["lobby"]}]` {
			t.Fatalf("join: %s", ack)
		}
	}
	if _, ack := emitAck(t, b, "2", `["chat","first"]`); ack != `432[{"ok":true}]` {
		t.Fatalf("chat: %s", ack)
	}
	name, args, offset := eventOffset(t, nextMsg(t, a))
	if name != "chat" || len(args) != 1 || string(args[0]) != `"first"` {
		t.Fatalf("a got %s %s", name, args)
	}
	recoveryMetrics(t, d, 0, 0, nil)

	// The cut; meanwhile b relays to the room and the API publishes.
	cutAndWait(t, d, a, 1)
	if _, ack := emitAck(t, b, "3", `["chat","missed"]`); ack != `433[{"ok":true}]` {
		t.Fatalf("chat: %s", ack)
	}
	if code := apiEmit(t, d.addr, "k", "news"); code != 200 {
		t.Fatalf("api emit: %d", code)
	}

	a2, missed, ans := dialSIO(t, d.addr, `{"pid":"`+sa.PID+`","offset":"`+offset+`"}`)
	if s := parseSession(t, ans); s != sa {
		t.Fatalf("back with %+v, want the socket %+v", s, sa)
	}
	if len(missed) != 2 {
		t.Fatalf("missed %q, want the chat and the news", missed)
	}
	if name, args, _ := eventOffset(t, missed[0]); name != "chat" || string(args[0]) != `"missed"` {
		t.Errorf("first missed event %s", missed[0])
	}
	if name, _, _ := eventOffset(t, missed[1]); name != "news" {
		t.Errorf("second missed event %s", missed[1])
	}
	// Back in its room: b's next relay reaches it.
	if _, ack := emitAck(t, b, "4", `["chat","after"]`); ack != `434[{"ok":true}]` {
		t.Fatalf("chat: %s", ack)
	}
	if name, args, _ := eventOffset(t, nextMsg(t, a2)); name != "chat" || string(args[0]) != `"after"` {
		t.Errorf("after recovery a got %s %s", name, args)
	}
	recoveryMetrics(t, d, 1, 1, nil)

	// The session was taken: asked again, it is unknown and the client
	// must pass the connect hook as a new one.
	_, _, ans = dialSIO(t, d.addr, `{"pid":"`+sa.PID+`","offset":"`+offset+`"}`)
	if !strings.HasPrefix(ans, `44{"message":"token required"`) {
		t.Fatalf("a second recovery of the session: %s, want the connect hook's refusal", ans)
	}
	_, _, ans = dialSIO(t, d.addr, `{"token":"c","pid":"`+sa.PID+`"}`)
	if s := parseSession(t, ans); s.SID == sa.SID || s.PID == sa.PID || s.PID == "" {
		t.Fatalf("a second recovery of the session with a token: %+v, want a fresh socket", s)
	}
	recoveryMetrics(t, d, 3, 1, map[string]float64{"unknown_session": 2})
}

// TestDaemonRecoveryRunMiddlewares: with run_middlewares, the connect hook
// judges a recovered socket too; its refusal is counted as "refused".
func TestDaemonRecoveryRunMiddlewares(t *testing.T) {
	plugins := t.TempDir()
	writeJSPlugin(t, plugins, "policy", policyJS)
	cfgFile := writeFile(t, t.TempDir(), "hubd.json", `{"listen": "127.0.0.1:0", "plugins": {"dir": "`+plugins+`"},
		"recovery": {"duration": "1m", "run_middlewares": true}}`)
	d := start(t, "-config", cfgFile)
	a, _, ans := dialSIO(t, d.addr, `{"token":"a"}`)
	sa := parseSession(t, ans)
	cutAndWait(t, d, a, 0)
	_, _, ans = dialSIO(t, d.addr, `{"pid":"`+sa.PID+`"}`)
	if !strings.HasPrefix(ans, `44{"message":"token required"`) {
		t.Fatalf("recovery without a token: %s, want the connect hook's refusal", ans)
	}
	recoveryMetrics(t, d, 1, 0, map[string]float64{"refused": 1})
}

// TestDaemonRecoveredSocketFollowsReload: a socket recovered after a
// SIGHUP changed its namespace's echo gets the new setting, though its
// middlewares do not run again; the reload's change of recovery itself
// needs a restart, and recovery goes on as started.
func TestDaemonRecoveredSocketFollowsReload(t *testing.T) {
	file := writeFile(t, t.TempDir(), "hubd.json", `{"listen": "127.0.0.1:0", "namespaces": [{"name": "/"}],
		"recovery": {"duration": "1m"}}`)
	d := start(t, "-config", file)
	a, _, ans := dialSIO(t, d.addr, "")
	sa := parseSession(t, ans)
	b, _, _ := dialSIO(t, d.addr, "")
	for _, c := range []*websocket.Conn{a, b} {
		if _, ack := emitAck(t, c, "1", `["hub:join","lobby"]`); ack != `431[{"ok":true,"rooms":["lobby"]}]` {
			t.Fatalf("join: %s", ack)
		}
	}
	reloadWith(t, d, file, `{"listen": "127.0.0.1:0", "namespaces": [{"name": "/", "echo": true}]}`, "SIGHUP: config reloaded", 1)
	if !strings.Contains(d.stderr.String(), `"setting":"recovery","old":"duration=1m0s`) {
		t.Errorf("no restart notice for recovery:\n%s", d.stderr)
	}

	cutAndWait(t, d, a, 1)
	a2, _, ans := dialSIO(t, d.addr, `{"pid":"`+sa.PID+`"}`)
	if s := parseSession(t, ans); s != sa {
		t.Fatalf("back with %+v, want the socket %+v", s, sa)
	}
	before, ack := emitAck(t, a2, "2", `["chat","echoed"]`)
	if ack != `432[{"ok":true}]` || len(before) != 1 {
		t.Fatalf("echo on: ack %s, a got %q before it, want its own event", ack, before)
	}
	if name, args, _ := eventOffset(t, before[0]); name != "chat" || string(args[0]) != `"echoed"` {
		t.Fatalf("echo on: a got %s", before[0])
	}
	if name, args, _ := eventOffset(t, nextMsg(t, b)); name != "chat" || string(args[0]) != `"echoed"` {
		t.Fatalf("b got %s %s", name, args)
	}
}
