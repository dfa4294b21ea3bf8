package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/hub"
)

const metricsJS = `hubd.on("event", (env) => {
  if (env.event === "ping") return { action: "reply", reply: ["pong"] };
});
`

// metricValue finds the sample of name whose labels include every one of
// labels (each written as key="value") and returns its value.
func metricValue(t *testing.T, body, name string, labels ...string) (float64, bool) {
	t.Helper()
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		sp := strings.LastIndexByte(rest, ' ')
		if sp < 0 {
			continue
		}
		lbls := rest[:sp]
		match := true
		for _, l := range labels {
			if !strings.Contains(lbls, l) {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		v, err := strconv.ParseFloat(rest[sp+1:], 64)
		if err != nil {
			t.Fatalf("bad sample %q: %v", line, err)
		}
		return v, true
	}
	return 0, false
}

// readUntil reads WebSocket messages, answering pings, until one is want.
func readUntil(t *testing.T, c *websocket.Conn, want string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for %s: %v", want, err)
		}
		switch string(msg) {
		case "2":
			_ = c.WriteMessage(websocket.TextMessage, []byte("3"))
		case want:
			return
		default:
			t.Fatalf("got %s, want %s", msg, want)
		}
	}
}

func TestDaemonMetrics(t *testing.T) {
	plugins := t.TempDir()
	writeJSPlugin(t, plugins, "metrics", metricsJS)
	cfgFile := writeFile(t, t.TempDir(), "hubd.json", `{
		"listen": "127.0.0.1:0",
		"plugins": {"dir": "`+plugins+`"},
		"api": {"key": "secret"}
	}`)
	d := start(t, "-config", cfgFile)
	base := "http://" + d.addr

	conn, ans := sioConnect(t, d.addr, "")
	if !strings.HasPrefix(ans, `40{"sid"`) {
		t.Fatalf("connect: %s", ans)
	}
	// A room, then an event that the plugin answers.
	if err := conn.WriteMessage(websocket.TextMessage, []byte(`421["hub:join","lobby"]`)); err != nil {
		t.Fatal(err)
	}
	readUntil(t, conn, `431[{"ok":true,"rooms":["lobby"]}]`)
	if err := conn.WriteMessage(websocket.TextMessage, []byte(`422["ping"]`)); err != nil {
		t.Fatal(err)
	}
	readUntil(t, conn, `432["pong"]`)

	// One API request, counted.
	req, _ := http.NewRequest("POST", base+"/api/emit", strings.NewReader(`{"event":"news","args":["hello"]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer secret")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("emit: %d", res.StatusCode)
	}

	// /metrics needs no key.
	res, err = http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	body := string(raw)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %s\n%s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}

	check := func(name string, ok func(float64) bool, want string, labels ...string) {
		t.Helper()
		v, found := metricValue(t, body, name, labels...)
		if !found {
			t.Errorf("no %s%v in /metrics:\n%s", name, labels, body)
			return
		}
		if !ok(v) {
			t.Errorf("%s%v = %v, want %s", name, labels, v, want)
		}
	}
	eq := func(n float64) func(float64) bool { return func(v float64) bool { return v == n } }
	ge := func(n float64) func(float64) bool { return func(v float64) bool { return v >= n } }
	plugin := []string{`plugin="metrics"`, `runtime="js"`, `hook="event"`}

	check("hubd_connections", eq(1), "1")
	check("hubd_sockets", eq(1), "1", `namespace="/"`)
	check("hubd_rooms", eq(1), "1 (lobby; the socket's own room not counted)", `namespace="/"`)
	check("hubd_events_received_total", ge(2), ">= 2")
	check("hubd_plugin_hook_calls_total", ge(1), ">= 1", append(plugin, `outcome="reply"`)...)
	check("hubd_plugin_hook_calls_total", ge(1), ">= 1", append(plugin, `outcome="allow"`)...)
	check("hubd_plugin_hook_duration_seconds_bucket", ge(2), ">= 2", append(plugin, `le="+Inf"`)...)
	check("hubd_plugin_hook_duration_seconds_bucket", ge(0), ">= 0", append(plugin, `le="1e-06"`)...)
	check("hubd_plugin_hook_duration_seconds_count", ge(2), ">= 2", plugin...)
	check("hubd_plugin_hook_duration_seconds_sum", func(v float64) bool { return v > 0 }, "> 0", plugin...)
	check("hubd_api_requests_total", eq(1), "1", `code="200"`, `method="post"`)
	// The emit reached the one client; acks are not events.
	check("hubd_events_sent_total", eq(1), "1 (the API's news)")
	check("hubd_events_dropped_total", eq(0), "0", `reason="volatile"`)
	check("hubd_events_dropped_total", eq(0), "0", `reason="closed"`)
	check("hubd_panics_recovered_total", eq(0), "0")
	check("hubd_slow_client_writes_total", eq(0), "0")
	check("go_goroutines", ge(1), ">= 1")
	if strings.Contains(body, "hubd_recovery_") {
		t.Errorf("recovery counters with recovery off:\n%s", body)
	}
	if !strings.Contains(body, "# TYPE hubd_plugin_hook_duration_seconds histogram") {
		t.Errorf("no histogram type line:\n%s", body)
	}

	// Buckets are cumulative: never decreasing with le.
	var prev float64
	for _, b := range latencyBounds {
		le := strconv.FormatFloat(b, 'g', -1, 64)
		v, found := metricValue(t, body, "hubd_plugin_hook_duration_seconds_bucket", append(plugin, `le="`+le+`"`)...)
		if !found {
			t.Fatalf("no bucket le=%s:\n%s", le, body)
		}
		if v < prev {
			t.Fatalf("bucket le=%s: %v after %v, not cumulative", le, v, prev)
		}
		prev = v
	}

	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := d.wait(t); code != 0 {
		t.Fatalf("exit code %d:\n%s", code, d.stderr)
	}
}

func TestDaemonMetricsOff(t *testing.T) {
	cfgFile := writeFile(t, t.TempDir(), "hubd.json", `{"listen": "127.0.0.1:0", "metrics": {"enabled": false}}`)
	d := start(t, "-config", cfgFile)
	if code, _ := get(t, "http://"+d.addr+"/metrics"); code != 404 {
		t.Fatalf("/metrics with metrics.enabled false: %d, want 404", code)
	}
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := d.wait(t); code != 0 {
		t.Fatalf("exit code %d:\n%s", code, d.stderr)
	}
}

// TestPluginCollector checks the conversion of host.Stats: cumulative
// buckets, the slower-than-every-bound calls only in +Inf, the sum in
// seconds, one counter per outcome.
func TestPluginCollector(t *testing.T) {
	buckets := make([]uint64, len(host.LatencyBuckets())+1)
	buckets[0] = 1                          // <= 1µs
	buckets[9] = 2                          // <= 1ms
	buckets[len(host.LatencyBuckets())] = 3 // > 1s
	reg := prometheus.NewRegistry()
	reg.MustRegister(&pluginCollector{stats: func() []host.HookStats {
		return []host.HookStats{{
			Plugin: "p", Runtime: "wasm", Hook: host.HookConnect,
			Outcomes: map[string]uint64{"allow": 5, "timeout": 1},
			Buckets:  buckets,
			Sum:      3500 * time.Millisecond,
		}}
	}})
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	p := []string{`plugin="p"`, `runtime="wasm"`, `hook="connect"`}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"hubd_plugin_hook_calls_total", append(p, `outcome="allow"`), 5},
		{"hubd_plugin_hook_calls_total", append(p, `outcome="timeout"`), 1},
		{"hubd_plugin_hook_duration_seconds_bucket", append(p, `le="1e-06"`), 1},
		{"hubd_plugin_hook_duration_seconds_bucket", append(p, `le="0.0005"`), 1},
		{"hubd_plugin_hook_duration_seconds_bucket", append(p, `le="0.001"`), 3},
		{"hubd_plugin_hook_duration_seconds_bucket", append(p, `le="1"`), 3},
		{"hubd_plugin_hook_duration_seconds_bucket", append(p, `le="+Inf"`), 6},
		{"hubd_plugin_hook_duration_seconds_count", p, 6},
		{"hubd_plugin_hook_duration_seconds_sum", p, 3.5},
	} {
		v, ok := metricValue(t, body, c.name, c.labels...)
		if !ok || v != c.want {
			t.Errorf("%s%v = %v (found %v), want %v\n%s", c.name, c.labels, v, ok, c.want, body)
		}
	}
}

// pollClient connects a long-polling client to srv's main namespace and
// leaves it without a pending GET, so that the server queues what it sends
// and a volatile send finds it busy.
func pollClient(t *testing.T, base string) {
	t.Helper()
	url := base + "/socket.io/?EIO=4&transport=polling"
	do := func(method, u, body string) string {
		req, _ := http.NewRequest(method, u, strings.NewReader(body))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("%s %s: %d %s", method, u, res.StatusCode, b)
		}
		return string(b)
	}
	open := do("GET", url, "")
	const prefix = `0{"sid":"`
	if !strings.HasPrefix(open, prefix) {
		t.Fatalf("handshake: %s", open)
	}
	url += "&sid=" + open[len(prefix):len(prefix)+20]
	do("POST", url, "40")
	if ans := do("GET", url, ""); !strings.HasPrefix(ans, `40{"sid"`) {
		t.Fatalf("connect: %s", ans)
	}
}

// TestMetricsEventsSentAndDropped checks the hub's delivery counters at
// /metrics: sent, dropped as volatile, dropped for a closed connection.
func TestMetricsEventsSentAndDropped(t *testing.T) {
	srv := hub.New(hub.Options{PingInterval: time.Hour, PingTimeout: time.Hour, MaxBufferedBytes: 1000})
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		_ = srv.Close()
		ts.Close()
	})
	for range 3 {
		pollClient(t, ts.URL)
	}
	if err := srv.Emit("news", 1); err != nil { // queued for all 3
		t.Fatal(err)
	}
	if err := srv.Volatile().Emit("tick", 2); err != nil { // all 3 busy
		t.Fatal(err)
	}
	if err := srv.Emit("big", strings.Repeat("x", 2000)); err != nil { // over the buffer: closed
		t.Fatal(err)
	}
	m := newMetrics(srv, nil, newNamespaceLabels(Defaults().Namespaces))
	rec := httptest.NewRecorder()
	m.handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, c := range []struct {
		name  string
		label string
		want  float64
	}{
		{"hubd_events_sent_total", "", 3},
		{"hubd_events_dropped_total", `reason="volatile"`, 3},
		{"hubd_events_dropped_total", `reason="closed"`, 3},
	} {
		var labels []string
		if c.label != "" {
			labels = append(labels, c.label)
		}
		if v, ok := metricValue(t, body, c.name, labels...); !ok || v != c.want {
			t.Errorf("%s{%s} = %v (found %v), want %v", c.name, c.label, v, ok, c.want)
		}
	}
	if !strings.Contains(body, "# TYPE hubd_events_dropped_total counter") {
		t.Errorf("no counter type line for hubd_events_dropped_total:\n%s", body)
	}
}

// TestDaemonNamespaceMetricsBounded: clients that ask for many children
// of a pattern, refused or connected and gone, leave no namespace behind
// (cleanup_empty_child_namespaces is on by default), and /metrics has one
// series per entry of the config, whatever the children; with cleanup
// off, the children that had a socket stay, still in one series.
func TestDaemonNamespaceMetricsBounded(t *testing.T) {
	const children = 40 // refused, and as many connected then gone
	for _, cleanup := range []bool{true, false} {
		t.Run("cleanup="+strconv.FormatBool(cleanup), func(t *testing.T) {
			plugins := t.TempDir()
			writeJSPlugin(t, plugins, "policy", policyJS)
			conf := `"listen": "127.0.0.1:0", "plugins": {"dir": "` + plugins + `"},
				"namespaces": [{"name": "/"}, {"pattern": "/team-\\d+"}]`
			if !cleanup { // on by default
				conf += `, "socketio": {"cleanup_empty_child_namespaces": false}`
			}
			cfgFile := writeFile(t, t.TempDir(), "hubd.json", "{"+conf+"}")
			d := start(t, "-config", cfgFile)
			c, ans := sioConnect(t, d.addr, `{"token":"x"}`)
			if !strings.HasPrefix(ans, `40{"sid"`) {
				t.Fatalf("connect: %s", ans)
			}
			for i := range children {
				nsp := "/team-" + strconv.Itoa(i)
				send(t, c, "40"+nsp+",")
				if m := nextMsg(t, c); !strings.HasPrefix(m, "44"+nsp+`,{"message":"token required"`) {
					t.Fatalf("refused connect to %s: %s", nsp, m)
				}
				nsp = "/team-" + strconv.Itoa(children+i)
				send(t, c, "40"+nsp+`,{"token":"x"}`)
				if m := nextMsg(t, c); !strings.HasPrefix(m, "40"+nsp+`,{"sid"`) {
					t.Fatalf("connect to %s: %s", nsp, m)
				}
				send(t, c, "41"+nsp+",")
			}

			want := 0.0
			if !cleanup {
				want = children
			}
			pattern := `namespace="/team-\\d+"`
			deadline := time.Now().Add(20 * time.Second)
			var body string
			for {
				_, body = get(t, "http://"+d.addr+"/metrics")
				// The last disconnect may still be on its way.
				v, ok := metricValue(t, body, "hubd_namespaces", pattern)
				if socks, _ := metricValue(t, body, "hubd_sockets", pattern); ok && v == want && socks == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("hubd_namespaces{%s} never %v:\n%s", pattern, want, body)
				}
				time.Sleep(20 * time.Millisecond)
			}
			for _, name := range []string{"hubd_namespaces", "hubd_sockets", "hubd_rooms"} {
				if n := strings.Count(body, "\n"+name+"{"); n != 2 {
					t.Errorf("%d series of %s, want 2 (/ and the pattern):\n%s", n, name, body)
				}
			}
			if v, _ := metricValue(t, body, "hubd_sockets", pattern); v != 0 {
				t.Errorf("hubd_sockets{%s} = %v, want 0", pattern, v)
			}
			if v, _ := metricValue(t, body, "hubd_sockets", `namespace="/"`); v != 1 {
				t.Errorf(`hubd_sockets{namespace="/"} = %v, want 1`, v)
			}
		})
	}
}

// TestNamespaceLabels: a name of the config is its own label, before any
// pattern; a child is labelled by the first pattern that matches it; a
// namespace the config does not mention keeps its name.
func TestNamespaceLabels(t *testing.T) {
	nl := newNamespaceLabels([]NamespaceConfig{
		{Pattern: `/team-\d+`}, {Name: "/team-0"}, {Pattern: `/team-.*`}, {Name: "/"},
	})
	for name, want := range map[string]string{
		"/team-0": "/team-0", "/team-12": `/team-\d+`, "/team-x": `/team-.*`, "/": "/", "/other": "/other",
	} {
		if got := nl.of(name); got != want {
			t.Errorf("%s: label %s, want %s", name, got, want)
		}
	}
	if got := strings.Join(nl.entries, " "); got != `/team-\d+ /team-0 /team-.* /` {
		t.Errorf("entries %s", got)
	}
}

// TestDaemonMaxChildNamespaces: socketio.max_child_namespaces bounds the
// children that exist at once; one more is an invalid namespace.
func TestDaemonMaxChildNamespaces(t *testing.T) {
	cfgFile := writeFile(t, t.TempDir(), "hubd.json", `{"listen": "127.0.0.1:0",
		"namespaces": [{"name": "/"}, {"pattern": "/team-\\d+"}],
		"socketio": {"max_child_namespaces": 2}}`)
	d := start(t, "-listen", "127.0.0.1:0", "-config", cfgFile)
	c, ans := sioConnect(t, d.addr, "")
	if !strings.HasPrefix(ans, `40{"sid"`) {
		t.Fatalf("connect: %s", ans)
	}
	for _, nsp := range []string{"/team-1", "/team-2"} {
		send(t, c, "40"+nsp+",")
		if m := nextMsg(t, c); !strings.HasPrefix(m, "40"+nsp+`,{"sid"`) {
			t.Fatalf("connect to %s: %s", nsp, m)
		}
	}
	send(t, c, "40/team-3,")
	if m := nextMsg(t, c); m != `44/team-3,{"message":"Invalid namespace"}` {
		t.Fatalf("third child: %s", m)
	}
}
