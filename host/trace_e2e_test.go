package host_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/host/wasm"
	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/httpapi"
	"github.com/hubd/hubd/hub/relay"
)

// traceWait bounds the waits of the trace tests: a hang fails, a slow
// machine does not.
const traceWait = 20 * time.Second

// traceObservation is one line of testdata/trace/client.cjs.
type traceObservation struct {
	Kind  string          `json:"kind"`
	Value json.RawMessage `json:"value"`
}

// TestDecisionTraces: a chain of two plugins — audit.js, which allows
// everything, then the policy of testdata/trace in each runtime, which
// allows, transforms and denies — driven by the real socket.io-client.
// Every runtime gives the same trace (latency and version aside): the
// host's accessor, the HTTP API (with its key; 401 without) and, for the
// refused connect, the client's connect_error data show exactly the steps
// taken.
func TestDecisionTraces(t *testing.T) {
	specs := buildRuntimePlugins(t, "trace", host.HookConnect, host.HookJoin, host.HookEvent)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	events := []string{"shout", "secret"}
	audit := host.Spec{
		Manifest: host.Manifest{Name: "audit", Runtime: "js", Timeout: testTimeout, PoolSize: 1, Events: events,
			Hooks: []host.Hook{host.HookConnect, host.HookJoin, host.HookEvent, host.HookDisconnect}},
		Entry: filepath.Join(root, "host/testdata/trace/audit.js"),
	}
	wasmRT := wasm.New(wasm.WithCacheDir(t.TempDir()))
	for _, name := range recoveryRuntimes {
		t.Run(name, func(t *testing.T) {
			policy := specs[name]
			policy.Manifest.Events = events
			h := runtimesHost(t, wasmRT, audit, policy)
			if err := h.SetTrace(host.TraceOptions{ConnectError: true}); err != nil {
				t.Fatal(err)
			}
			srv := hub.New(hub.Options{})
			srv.SetHooks(h.Hooks())
			if err := relay.Attach(srv, relay.Config{}); err != nil {
				t.Fatal(err)
			}
			const apiKey = "trace-key"
			api, err := httpapi.New(srv, httpapi.Config{Key: apiKey, Trace: func(id string) (any, bool) { return h.Trace(id) }})
			if err != nil {
				t.Fatal(err)
			}
			base := serveWithAPI(t, srv, api)

			seen := runTraceClient(t, base)
			checkTraceClient(t, seen)

			rt, _, _ := strings.Cut(name, "-")
			p := policy.Manifest.Name
			step := func(plugin, runtime string, v host.Outcome, reason string) host.TraceStep {
				return host.TraceStep{Plugin: plugin, Runtime: runtime, Verdict: v, Reason: reason}
			}
			allowed := step("audit", "js", host.OutcomeAllow, "")

			// The refused connect: its trace came in the client's
			// connect_error data, and is the host's.
			var refusal struct {
				Data struct {
					Code  int             `json:"code"`
					Trace json.RawMessage `json:"trace"`
				} `json:"data"`
			}
			if err := json.Unmarshal(seen["connect_error"][0], &refusal); err != nil || refusal.Data.Code != 401 {
				t.Fatalf("connect_error %s: want the plugin's data {code: 401} and a trace (%v)", seen["connect_error"][0], err)
			}
			var shown host.TraceRecord
			if err := json.Unmarshal(refusal.Data.Trace, &shown); err != nil {
				t.Fatalf("connect_error data's trace %s: %v", refusal.Data.Trace, err)
			}
			refused, ok := h.Trace(shown.Socket)
			if !ok || len(refused) != 1 {
				t.Fatalf("the host keeps %d records of the refused socket %q (found %v), want 1", len(refused), shown.Socket, ok)
			}
			if got, want := canonJSON(t, refused[0]), compactJSON(t, refusal.Data.Trace); got != want {
				t.Fatalf("the client saw the trace\n%s\nthe host has\n%s", want, got)
			}
			wantRefused := []host.TraceRecord{{Hook: host.HookConnect, Namespace: "/", Socket: shown.Socket, Outcome: host.Deny, Reason: "token required",
				Steps: []host.TraceStep{allowed, step(p, rt, host.OutcomeDeny, "token required")}}}
			if got := normalized(t, refused); !reflect.DeepEqual(got, wantRefused) {
				t.Fatalf("refused connect's trace:\n%s\nwant\n%s", mustJSON(t, got), mustJSON(t, wantRefused))
			}

			// Ann's trace, once her disconnect is in it.
			var ids struct{ Ann, Bob string }
			if err := json.Unmarshal(seen["ids"][0], &ids); err != nil || ids.Ann == "" {
				t.Fatalf("ids %s: %v", seen["ids"][0], err)
			}
			connected := step(p, rt, host.OutcomeAllow, "")
			connected.Changed = []string{"socket_data"}
			connected.SocketData = json.RawMessage(`{"user":"ann"}`)
			shouted := step(p, rt, host.OutcomeAllow, "")
			shouted.Changed, shouted.Rooms = []string{"args", "rooms"}, []string{"lobby"}
			want := []host.TraceRecord{
				{Hook: host.HookConnect, Outcome: host.Allow, Steps: []host.TraceStep{allowed, connected}},
				{Hook: host.HookJoin, Outcome: host.Allow, Steps: []host.TraceStep{allowed, step(p, rt, host.OutcomeAllow, "")}},
				{Hook: host.HookJoin, Outcome: host.Deny, Reason: "private room", Steps: []host.TraceStep{allowed, step(p, rt, host.OutcomeDeny, "private room")}},
				{Hook: host.HookEvent, Event: "shout", Outcome: host.Allow, Steps: []host.TraceStep{allowed, shouted}},
				{Hook: host.HookEvent, Event: "secret", Outcome: host.Deny, Reason: "no secrets", Steps: []host.TraceStep{allowed, step(p, rt, host.OutcomeDeny, "no secrets")}},
				{Hook: host.HookDisconnect, Outcome: host.Allow, Steps: []host.TraceStep{allowed}},
			}
			for i := range want {
				want[i].Namespace, want[i].Socket = "/", ids.Ann
			}
			ann := waitTrace(t, h, ids.Ann, len(want))
			if got := normalized(t, ann); !reflect.DeepEqual(got, want) {
				t.Fatalf("ann's trace:\n%s\nwant\n%s", mustJSON(t, got), mustJSON(t, want))
			}
			for _, r := range ann {
				for _, s := range r.Steps {
					if s.Latency <= 0 {
						t.Fatalf("step %+v: no latency", s)
					}
				}
			}

			// The HTTP API serves the same, behind its key.
			status, body := getTrace(t, base+"/api/sockets/"+ids.Ann+"/trace", "Bearer "+apiKey)
			var answer struct {
				OK     bool            `json:"ok"`
				Socket string          `json:"socket"`
				Trace  json.RawMessage `json:"trace"`
			}
			if err := json.Unmarshal(body, &answer); status != http.StatusOK || err != nil || !answer.OK || answer.Socket != ids.Ann {
				t.Fatalf("GET trace: %d %s (%v)", status, body, err)
			}
			if got, want := compactJSON(t, answer.Trace), canonJSON(t, ann); got != want {
				t.Fatalf("the API's trace\n%s\nthe host's\n%s", got, want)
			}
			if status, body := getTrace(t, base+"/api/sockets/"+ids.Ann+"/trace", ""); status != http.StatusUnauthorized || bytes.Contains(body, []byte(ids.Ann)) {
				t.Fatalf("GET trace without the key: %d %s, want 401 telling nothing", status, body)
			}
			if status, _ := getTrace(t, base+"/api/sockets/no-such-socket/trace", "Bearer "+apiKey); status != http.StatusNotFound {
				t.Fatalf("GET the trace of an unknown socket: %d, want 404", status)
			}
		})
	}
}

// checkTraceClient checks what the client saw of the policy.
func checkTraceClient(t *testing.T, seen map[string][]json.RawMessage) {
	t.Helper()
	for kind, want := range map[string]string{
		"join":         `{"ok":true,"rooms":["lobby"]}`,
		"join_private": `{"ok":false,"error":"private room"}`,
		"shout_ack":    `{"ok":true}`,
		"shout_heard":  `[{"shout":"hello"}]`,
		"secret_ack":   `{"ok":false,"error":"no secrets"}`,
	} {
		if len(seen[kind]) == 0 || compactJSON(t, seen[kind][0]) != compactJSON(t, json.RawMessage(want)) {
			t.Errorf("%s: the client saw %s, want %s", kind, seen[kind], want)
		}
	}
	var ce struct{ Message string }
	if len(seen["connect_error"]) != 1 || json.Unmarshal(seen["connect_error"][0], &ce) != nil || ce.Message != "token required" {
		t.Fatalf("connect_error: %s", seen["connect_error"])
	}
	if t.Failed() {
		t.FailNow()
	}
}

// runTraceClient runs testdata/trace/client.cjs against base and returns
// its observations by kind.
func runTraceClient(t *testing.T, base string) map[string][]json.RawMessage {
	t.Helper()
	out := runNodeClient(t, "host/testdata/trace/client.cjs", base)
	seen := map[string][]json.RawMessage{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var o traceObservation
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			t.Fatalf("client line %q: %v", sc.Text(), err)
		}
		seen[o.Kind] = append(seen[o.Kind], o.Value)
	}
	return seen
}

// waitTrace waits until the trace of socket id has n records.
func waitTrace(t *testing.T, h *host.Host, id string, n int) []host.TraceRecord {
	t.Helper()
	deadline := time.Now().Add(traceWait)
	for {
		recs, _ := h.Trace(id)
		if len(recs) >= n || time.Now().After(deadline) {
			return recs
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// normalized is recs without what differs from run to run and runtime to
// runtime: times, latencies, versions, and the spelling of socket data.
func normalized(t *testing.T, recs []host.TraceRecord) []host.TraceRecord {
	t.Helper()
	out := make([]host.TraceRecord, len(recs))
	for i, r := range recs {
		r.Time = time.Time{}
		r.Steps = append([]host.TraceStep(nil), r.Steps...)
		for j := range r.Steps {
			s := &r.Steps[j]
			s.Latency, s.Version = 0, ""
			if s.SocketData != nil {
				s.SocketData = json.RawMessage(compactJSON(t, s.SocketData))
			}
		}
		out[i] = r
	}
	return out
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// canonJSON is v's JSON as compactJSON spells it.
func canonJSON(t *testing.T, v any) string {
	t.Helper()
	return compactJSON(t, json.RawMessage(mustJSON(t, v)))
}

// compactJSON is raw re-encoded: keys sorted, no spaces.
func compactJSON(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return mustJSON(t, v)
}

func getTrace(t *testing.T, url, auth string) (int, []byte) {
	t.Helper()
	return apiRequest(t, http.MethodGet, url, auth, "")
}

// apiRequest makes an HTTP API call, with auth as the Authorization header
// when not empty, and returns the status and the answer.
func apiRequest(t *testing.T, method, url, auth, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}
