package payloadlimit

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/internal/plugintest"
	"github.com/hubd/hubd/sdk/wire"
)

// manifest reads plugin.json as hubd does, with cfg (if not nil) as its
// config.
func manifest(t *testing.T, cfg any) host.Manifest {
	t.Helper()
	return plugintest.Manifest(t, cfg, 5*time.Second)
}

func load(t *testing.T, m host.Manifest) (*host.Host, error) {
	t.Helper()
	h, err := plugintest.LoadJS(t, m)
	generousBudgets(h)
	return h, err
}

// generousBudgets raises every chain budget of h as the tests' call limit:
// the default budgets (250 ms an event, 1 s a join) would cut a call
// slowed by a loaded machine short, as the shipped limit would.
func generousBudgets(h *host.Host) {
	for _, hook := range []host.Hook{host.HookConnect, host.HookJoin, host.HookLeave, host.HookEvent, host.HookDisconnect} {
		h.SetChainBudget(hook, 5*time.Second)
	}
}

func event(name, args string) host.Envelope {
	return host.Envelope{
		Hook: host.HookEvent, Namespace: "/",
		Socket: host.Socket{ID: "AbCdEfGhIjKlMnOpQrSt", Rooms: []string{}},
		Event:  name, Args: wire.Raw(args),
	}
}

// decision writes a decision compactly, its raw parts re-encoded.
func decision(t *testing.T, d host.Decision) string {
	t.Helper()
	if d.Data != nil {
		var v any
		if err := json.Unmarshal(d.Data, &v); err != nil {
			t.Fatal(err)
		}
		d.Data, _ = json.Marshal(v)
	}
	if d.Action == host.Allow {
		d.Action = ""
	}
	b, _ := json.Marshal(d)
	return string(b)
}

const (
	allowed  = `{}`
	tooLarge = `{"action":"deny","reason":"payload too large","data":{"limit":32}}`
	tooDeep  = `{"action":"deny","reason":"payload too deep","data":{"limit":3}}`
	// hostTooDeep is the host's answer, as on_error deny, to arguments
	// nested deeper than host.MaxJSONDepth: the script never sees them.
	hostTooDeep = `{"action":"deny","reason":"input nested deeper than 64 levels: send flatter JSON","data":{"max_depth":64}}`
)

func notAllowed(name string) string {
	return `{"action":"deny","reason":"event not allowed","data":{"event":"` + name + `"}}`
}

// nested is n arrays inside each other, e.g. nested(2) = [[]].
func nested(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

func TestEvent(t *testing.T) {
	cfg := map[string]any{"max_bytes": 32, "max_depth": 3, "events": []string{"chat", "game:*", "ping"}}
	h, err := load(t, manifest(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		event string
		args  string
		want  string
	}{
		{"small chat", "chat", `["hello"]`, allowed},
		{"no args", "ping", `[]`, allowed},
		{"exactly max_bytes", "chat", `["` + strings.Repeat("a", 28) + `"]`, allowed},
		{"one byte over", "chat", `["` + strings.Repeat("a", 29) + `"]`, tooLarge},
		{"multi-byte runes counted in bytes", "chat", `["` + strings.Repeat("é", 15) + `"]`, tooLarge},
		{"multi-byte runes within the limit", "chat", `["` + strings.Repeat("é", 14) + `"]`, allowed},
		{"astral runes are four bytes", "chat", `["` + strings.Repeat("😀", 7) + `"]`, allowed},
		{"astral runes over", "chat", `["` + strings.Repeat("😀", 8) + `"]`, tooLarge},
		{"size counted after re-encoding", "chat", `[ 1 ,  2 ,  3 ,  4 ,  5 ,  6 ,  7 ]`, allowed},
		{"depth 3", "chat", nested(3), allowed},
		{"depth 4", "chat", nested(4), tooDeep},
		{"objects nest too", "chat", `[{"a":{"b":1}}]`, allowed},
		{"objects too deep", "chat", `[{"a":{"b":{}}}]`, tooDeep},
		{"deep in a later member", "chat", `[1,{"a":[2,[3]]}]`, tooDeep},
		{"depth before size", "chat", `[[[["` + strings.Repeat("a", 40) + `"]]]]`, tooDeep},
		{"very deep", "chat", nested(200), hostTooDeep},
		{"prefix glob", "game:move", `[1]`, allowed},
		{"prefix glob, empty suffix", "game:", `[1]`, allowed},
		{"prefix glob needs the prefix", "game", `[1]`, notAllowed("game")},
		{"not on the list", "admin", `[]`, notAllowed("admin")},
		{"literal name is exact", "chat2", `[]`, notAllowed("chat2")},
		{"list before size", "admin", `["` + strings.Repeat("a", 40) + `"]`, notAllowed("admin")},
		{"binary placeholder counted as JSON", "chat", `[{"_placeholder":true,"num":0}]`, allowed},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := event(c.event, c.args)
			if got := decision(t, h.Run(context.Background(), &e)); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

// TestDeeperThanTheHost: the host refuses envelopes nested more than
// host.MaxJSONDepth levels before any plugin runs; on_error "deny" refuses
// the event.
func TestDeeperThanTheHost(t *testing.T) {
	h, err := load(t, manifest(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	e := event("chat", nested(5000))
	if d := h.Run(context.Background(), &e); d.Action != host.Deny {
		t.Errorf("got %s, want a deny", decision(t, d))
	}
}

// TestNoList: without events, any name is allowed; without limits, any size.
func TestNoList(t *testing.T) {
	for name, c := range map[string]struct {
		cfg  map[string]any
		args string
		want string
	}{
		"any name":    {map[string]any{"max_bytes": 32}, `["x"]`, allowed},
		"size only":   {map[string]any{"max_bytes": 32}, nested(40), `{"action":"deny","reason":"payload too large","data":{"limit":32}}`},
		"depth only":  {map[string]any{"max_depth": 3}, `["` + strings.Repeat("a", 5000) + `"]`, allowed},
		"empty":       {map[string]any{}, nested(host.MaxJSONDepth), allowed},
		"empty list":  {map[string]any{"events": []string{}}, `[]`, notAllowed("anything")},
		"star allows": {map[string]any{"events": []string{"*"}}, `[]`, allowed},
	} {
		t.Run(name, func(t *testing.T) {
			h, err := load(t, manifest(t, c.cfg))
			if err != nil {
				t.Fatal(err)
			}
			e := event("anything", c.args)
			if got := decision(t, h.Run(context.Background(), &e)); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

// TestShippedConfig runs the config of plugin.json.
func TestShippedConfig(t *testing.T) {
	h, err := load(t, manifest(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ args, want string }{
		{`["hello"]`, allowed},
		{`["` + strings.Repeat("a", 70000) + `"]`, `{"action":"deny","reason":"payload too large","data":{"limit":65536}}`},
		{nested(17), `{"action":"deny","reason":"payload too deep","data":{"limit":16}}`},
		{nested(16), allowed},
	} {
		e := event("anything", c.args)
		if got := decision(t, h.Run(context.Background(), &e)); got != c.want {
			t.Errorf("%.40s: got %s, want %s", c.args, got, c.want)
		}
	}
}

// TestBadConfig: configs that fail the load.
func TestBadConfig(t *testing.T) {
	for name, cfg := range map[string]any{
		"max_bytes a string": map[string]any{"max_bytes": "1k"},
		"max_bytes zero":     map[string]any{"max_bytes": 0},
		"max_bytes fraction": map[string]any{"max_bytes": 1.5},
		"max_depth negative": map[string]any{"max_depth": -1},
		"events a string":    map[string]any{"events": "chat"},
		"events with number": map[string]any{"events": []any{"chat", 7}},
		"events with empty":  map[string]any{"events": []any{""}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := load(t, manifest(t, cfg)); err == nil || !strings.Contains(err.Error(), "payload-limit: config.") {
				t.Errorf("load: %v, want the config error", err)
			}
		})
	}
}
