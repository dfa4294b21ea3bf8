package host_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/host/js"
	"github.com/hubd/hubd/host/wasm"
	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/httpapi"
	"github.com/hubd/hubd/hub/relay"
)

// shadowEvents are the events the shadow tests' plugins handle.
var shadowEvents = []string{"shout", "secret"}

// shadowAPIKey is the HTTP API's key in the shadow tests.
const shadowAPIKey = "shadow-key"

// shadowServer serves h's hooks, the relay and the HTTP API with h's
// shadow providers; it returns the server's URL.
func shadowServer(t *testing.T, h *host.Host) string {
	t.Helper()
	srv := hub.New(hub.Options{})
	srv.SetHooks(h.Hooks())
	if err := relay.Attach(srv, relay.Config{}); err != nil {
		t.Fatal(err)
	}
	api, err := httpapi.New(srv, httpapi.Config{
		Key:   shadowAPIKey,
		Trace: func(id string) (any, bool) { return h.Trace(id) },
		Shadows: func() any {
			return h.ShadowStats()
		},
		ShadowDivergences: func(shadow string, limit int) any { return h.ShadowDivergences(shadow, limit) },
		PromoteShadow:     h.PromoteShadow,
	})
	if err != nil {
		t.Fatal(err)
	}
	return serveWithAPI(t, srv, api)
}

// apiCall makes an authorised call to the HTTP API and decodes its answer
// into v.
func apiCall(t *testing.T, method, url string, v any) {
	t.Helper()
	status, b := apiRequest(t, method, url, "Bearer "+shadowAPIKey, "")
	if status != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, url, status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s %s: %s: %v", method, url, b, err)
	}
}

// runShadowClient runs testdata/shadow/client.cjs against base. between
// is called with what the client saw in its first phase, and the second
// starts when it returns; the second phase's observations are returned.
func runShadowClient(t *testing.T, base string, between func(first map[string][]json.RawMessage)) map[string][]json.RawMessage {
	t.Helper()
	cmd := nodeClient(t, 3*time.Minute, "host/testdata/shadow/client.cjs", base)
	stdin, stdout, stderr := startPiped(t, cmd)
	seen := map[string][]json.RawMessage{}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var o traceObservation
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			t.Fatalf("client line %q: %v", sc.Text(), err)
		}
		if o.Kind == "phase" {
			between(seen)
			seen = map[string][]json.RawMessage{}
			if _, err := io.WriteString(stdin, "go\n"); err != nil {
				t.Fatal(err)
			}
			continue
		}
		seen[o.Kind] = append(seen[o.Kind], o.Value)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("client: %v\n%s", err, stderr.Bytes())
	}
	return seen
}

// checkSeen checks what the client saw against want, by kind.
func checkSeen(t *testing.T, phase string, seen map[string][]json.RawMessage, want map[string][]string) {
	t.Helper()
	for kind, values := range want {
		var got []string
		for _, v := range seen[kind] {
			got = append(got, compactJSON(t, v))
		}
		var canon []string
		for _, v := range values {
			canon = append(canon, compactJSON(t, json.RawMessage(v)))
		}
		if !slices.Equal(got, canon) {
			t.Errorf("%s, %s: the client saw %s, want %s", phase, kind, got, canon)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// liveSaw is what the clients see of the open plugin, which lets
// everything through: no shadow's decision shows.
var liveSaw = map[string][]string{
	"join":         {`{"ok":true,"rooms":["lobby"]}`, `{"ok":true,"rooms":["lobby"]}`},
	"join_private": {`{"ok":true,"rooms":["lobby","private:x"]}`},
	"shout_ack":    {`{"ok":true}`},
	"shout_heard":  {`["hello"]`},
	"secret_ack":   {`{"ok":true}`},
}

// waitShadowStats waits until the comparisons of shadow add up to n with
// pending calls left.
func waitShadowStats(t *testing.T, h *host.Host, shadow string, n uint64, pending int) host.ShadowStats {
	t.Helper()
	deadline := time.Now().Add(traceWait)
	for {
		for _, st := range h.ShadowStats() {
			var sum uint64
			for _, c := range st.Results {
				sum += c
			}
			if st.Shadow == shadow && sum >= n && st.Pending == pending {
				return st
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the comparisons of %q did not reach %d: %+v", shadow, n, h.ShadowStats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkResults checks a shadow's counters: want's, zero for the rest.
func checkResults(t *testing.T, st host.ShadowStats, want map[string]uint64) {
	t.Helper()
	for _, name := range host.ShadowResults() {
		if st.Results[name] != want[name] {
			t.Errorf("%s: %d %s, want %d (all: %v)", st.Shadow, st.Results[name], name, want[name], st.Results)
		}
	}
}

// TestShadowPlugins: a live JS plugin that lets everything through and,
// in every runtime, a shadow of it — the policy of testdata/trace, which
// refuses and transforms — driven by the real socket.io-client. The
// clients see only the live decisions; the shadow's agreements and
// divergences are counted right, listed by the HTTP API with the envelope
// (auth redacted) and shown in the socket's trace as shadow steps. A
// promotion through the API keeps every connection, and the policy's
// decisions are the clients' from the next call on.
func TestShadowPlugins(t *testing.T) {
	specs := buildRuntimePlugins(t, "trace", host.HookConnect, host.HookJoin, host.HookEvent)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	open := host.Spec{
		Manifest: host.Manifest{Name: "open", Runtime: "js", Timeout: testTimeout, PoolSize: 1, Events: shadowEvents,
			Hooks: []host.Hook{host.HookConnect, host.HookJoin, host.HookEvent}},
		Entry: filepath.Join(root, "host/testdata/shadow/open.js"),
	}
	wasmRT := wasm.New(wasm.WithCacheDir(t.TempDir()))
	for _, name := range recoveryRuntimes {
		t.Run(name, func(t *testing.T) {
			shadow := specs[name]
			shadow.Manifest.Events = shadowEvents
			shadow.Manifest.Shadow = "open"
			sname := shadow.Manifest.Name
			h := runtimesHost(t, wasmRT, open, shadow)
			base := shadowServer(t, h)
			var ids map[string]string
			second := runShadowClient(t, base, func(first map[string][]json.RawMessage) {
				checkSeen(t, "before the promotion", first, liveSaw)
				if err := json.Unmarshal(first["ids"][0], &ids); err != nil {
					t.Fatal(err)
				}
				// connect: the anonymous client (action), ann and bob
				// (socket_data); join: lobby twice (agree), private:x
				// (action); shout (transform), secret (action).
				st := waitShadowStats(t, h, sname, 8, 0)
				checkResults(t, st, map[string]uint64{"agree": 2, "action": 3, "data": 2, "transform": 1})
				if st.Plugin != "open" || !st.Live {
					t.Errorf("stats %+v", st)
				}
				checkShadowAPI(t, base, h, sname, ids)

				var promoted struct {
					OK       bool   `json:"ok"`
					Promoted string `json:"promoted"`
				}
				apiCall(t, http.MethodPost, base+"/api/shadows/"+sname+"/promote", &promoted)
				if !promoted.OK || promoted.Promoted != sname || !slices.Equal(h.Plugins(), []string{sname}) || len(h.ShadowStats()) != 0 {
					t.Fatalf("promotion: %+v, plugins %v, shadows %+v", promoted, h.Plugins(), h.ShadowStats())
				}
			})
			checkPromoted(t, second, ids)
		})
	}
}

// checkShadowAPI checks the divergences and the shadow list the HTTP API
// gives, and the shadow steps of ann's trace.
func checkShadowAPI(t *testing.T, base string, h *host.Host, sname string, ids map[string]string) {
	t.Helper()
	var divs struct {
		Divergences []host.ShadowDivergence `json:"divergences"`
	}
	apiCall(t, http.MethodGet, base+"/api/shadows/divergences?shadow="+sname, &divs)
	var got []string
	bySocketEvent := map[string]host.ShadowDivergence{}
	for _, d := range divs.Divergences {
		got = append(got, string(d.Hook)+" "+d.Event+" "+d.Result.String()+" "+strings.Join(d.Kinds, ","))
		bySocketEvent[d.Socket+" "+string(d.Hook)+" "+d.Event] = d
	}
	slices.Sort(got)
	want := []string{
		"connect  action action,reason", "connect  data data", "connect  data data",
		"event secret action action,reason", "event shout transform transform,route", "join  action action,reason",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("divergences\n%q\nwant\n%q", got, want)
	}
	anon := bySocketEvent[ids["anon"]+" connect "]
	var env struct {
		Handshake struct {
			Auth json.RawMessage `json:"auth"`
		} `json:"handshake"`
	}
	if err := json.Unmarshal(anon.Envelope, &env); err != nil || string(env.Handshake.Auth) != `"[redacted]"` ||
		compactJSON(t, anon.ShadowDecision) != `{"action":"deny","data":{"code":401},"reason":"token required"}` || string(anon.LiveDecision) != `{}` {
		t.Errorf("the anonymous connect's divergence: %+v (%v)", anon, err)
	}
	shout := bySocketEvent[ids["ann"]+" event shout"]
	var sd host.Decision // a runtime may spell out "action":"allow"
	if err := json.Unmarshal(shout.ShadowDecision, &sd); err != nil || !bytes.Contains(shout.Envelope, []byte(`"args":["hello"]`)) ||
		(sd.Action != "" && sd.Action != host.Allow) || compactJSON(t, json.RawMessage(sd.Args)) != `[{"shout":"hello"}]` || !slices.Equal(sd.Rooms, []string{"lobby"}) {
		t.Errorf("the shout's divergence: envelope %s, shadow %s", shout.Envelope, shout.ShadowDecision)
	}

	var list struct {
		Shadows []host.ShadowStats `json:"shadows"`
	}
	apiCall(t, http.MethodGet, base+"/api/shadows", &list)
	if len(list.Shadows) != 1 || list.Shadows[0].Shadow != sname || list.Shadows[0].Results["action"] != 3 {
		t.Errorf("GET shadows: %+v", list.Shadows)
	}

	recs, _ := h.Trace(ids["ann"])
	var steps []string
	for _, r := range recs {
		for _, s := range r.Steps {
			if s.Shadow {
				steps = append(steps, string(r.Hook)+" "+r.Event+" "+s.Plugin+" "+s.Verdict.String()+" "+s.Compared)
			}
		}
		if r.Outcome != host.Allow {
			t.Errorf("ann's record %+v: the shadow's refusal reached the outcome", r)
		}
	}
	wantSteps := []string{
		"connect  " + sname + " allow data", "join  " + sname + " allow agree", "join  " + sname + " deny action",
		"event shout " + sname + " allow transform", "event secret " + sname + " deny action",
	}
	if !slices.Equal(steps, wantSteps) {
		t.Errorf("ann's shadow steps\n%q\nwant\n%q", steps, wantSteps)
	}
}

// checkPromoted checks the client's second phase, after the promotion:
// the policy's decisions, on the same connections, none dropped.
func checkPromoted(t *testing.T, second map[string][]json.RawMessage, ids map[string]string) {
	t.Helper()
	checkSeen(t, "after the promotion", second, map[string][]string{
		"shout_ack":     {`{"ok":true}`},
		"shout_heard":   {`[{"shout":"again"}]`},
		"secret_ack":    {`{"ok":false,"error":"no secrets"}`},
		"join_private":  {`{"ok":false,"error":"private room"}`},
		"connect_error": {`{"message":"token required","data":{"code":401}}`},
	})
	var after struct {
		IDs         map[string]string `json:"ids"`
		Connected   []bool            `json:"connected"`
		Disconnects []any             `json:"disconnects"`
	}
	if err := json.Unmarshal(second["after"][0], &after); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(after.IDs, ids) || !slices.Equal(after.Connected, []bool{true, true, true}) || len(after.Disconnects) != 0 {
		t.Fatalf("the connections after the promotion: %+v, before %v", after, ids)
	}
}

// TestShadowPromotionByFile: in a watched plugin directory, the shadow's
// manifest losing its "shadow" field promotes it: the live plugin is
// retired though its files stay, and every connection is kept.
func TestShadowPromotionByFile(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	copyFile := func(from, to string) {
		b, err := os.ReadFile(filepath.Join(root, from))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	manifest := func(path, entry, shadow string) {
		m := map[string]any{"entry": entry, "hooks": []string{"connect", "join", "event"}, "events": shadowEvents, "timeout": "10s", "pool_size": 1}
		if shadow != "" {
			m["shadow"] = shadow
		}
		b, _ := json.Marshal(m)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyFile("host/testdata/shadow/open.js", filepath.Join(dir, "open", "open.js"))
	manifest(filepath.Join(dir, "open", host.ManifestFile), "open.js", "")
	copyFile("host/testdata/trace/trace.js", filepath.Join(dir, "policy", "trace.js"))
	manifest(filepath.Join(dir, "policy", host.ManifestFile), "trace.js", "open")

	h := host.New(nil)
	generousBudgets(h)
	h.Register("js", js.Runtime{})
	t.Cleanup(func() { _ = h.Close() })
	if err := h.LoadDir(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	reloaded := make(chan error, 16)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if err := h.WatchNotify(ctx, dir, func(err error) { reloaded <- err }); err != nil {
		t.Fatal(err)
	}
	base := shadowServer(t, h)
	var ids map[string]string
	second := runShadowClient(t, base, func(first map[string][]json.RawMessage) {
		checkSeen(t, "before the promotion", first, liveSaw)
		if err := json.Unmarshal(first["ids"][0], &ids); err != nil {
			t.Fatal(err)
		}
		checkResults(t, waitShadowStats(t, h, "policy", 8, 0), map[string]uint64{"agree": 2, "action": 3, "data": 2, "transform": 1})
		manifest(filepath.Join(dir, "policy", host.ManifestFile), "trace.js", "")
		deadline := time.After(traceWait)
		for !slices.Equal(h.Plugins(), []string{"policy"}) {
			select {
			case err := <-reloaded:
				if err != nil {
					t.Fatal(err)
				}
			case <-deadline:
				t.Fatalf("no promotion after the manifest changed: plugins %v", h.Plugins())
			}
		}
	})
	checkPromoted(t, second, ids)
	if _, err := os.Stat(filepath.Join(dir, "open", "open.js")); err != nil {
		t.Fatal(err)
	}
}

// TestShadowUnruly: a shadow that throws, returns garbage and loops
// forever changes nothing the clients see, and holds up nothing: the
// client has the live answer to its secret while the shadow's call on it
// still runs (it loops to its 30 s timeout); the failures are counted.
func TestShadowUnruly(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	hooks := []host.Hook{host.HookConnect, host.HookJoin, host.HookEvent}
	open := host.Spec{
		Manifest: host.Manifest{Name: "open", Runtime: "js", Timeout: testTimeout, PoolSize: 1, Events: shadowEvents, Hooks: hooks},
		Entry:    filepath.Join(root, "host/testdata/shadow/open.js"),
	}
	unruly := host.Spec{
		Manifest: host.Manifest{Name: "unruly", Runtime: "js", Timeout: host.Duration(30 * time.Second), PoolSize: 2, Events: shadowEvents,
			Hooks: hooks, Shadow: "open"},
		Entry: filepath.Join(root, "host/testdata/shadow/unruly.js"),
	}
	h := jsHost(t, open, unruly)
	base := shadowServer(t, h)
	second := runShadowClient(t, base, func(first map[string][]json.RawMessage) {
		checkSeen(t, "first phase", first, liveSaw)
		// Three connects (throw), three joins (agree), the shout
		// (garbage): the secret's comparison is not among them, its call
		// still runs.
		st := waitShadowStats(t, h, "unruly", 7, 1)
		checkResults(t, st, map[string]uint64{"agree": 3, "shadow_error": 4})
		divs := h.ShadowDivergences("unruly", 0)
		if len(divs) != 4 || !strings.Contains(divs[0].ShadowError, "explode") {
			t.Errorf("divergences %+v", divs)
		}
	})
	checkSeen(t, "second phase", second, map[string][]string{
		"shout_ack":    {`{"ok":true}`},
		"shout_heard":  {`["again"]`},
		"secret_ack":   {`{"ok":true}`},
		"join_private": {`{"ok":true,"rooms":["lobby","private:x","private:y"]}`},
		"connect":      {`"connected without a token"`},
	})
}
