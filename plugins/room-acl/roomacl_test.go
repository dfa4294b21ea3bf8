package roomacl

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

func join(data string, rooms ...string) host.Envelope {
	e := host.Envelope{
		Hook: host.HookJoin, Namespace: "/",
		Socket: host.Socket{ID: "AbCdEfGhIjKlMnOpQrSt", Rooms: []string{}},
		Rooms:  rooms,
	}
	if data != "" {
		e.Socket.Data = wire.Raw(data)
	}
	return e
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

func denied(room string) string {
	return `{"action":"deny","reason":"room not allowed","data":{"room":"` + room + `"}}`
}

const ann = `{"claims":{"sub":"ann","team":"red","uid":42,"org":{"id":"acme"},"roles":["admin"],"empty":"","flag":true}}`

func TestJoin(t *testing.T) {
	cfg := map[string]any{"allow": []string{"user:{sub}", "team:{team}:*", "lobby", "org:{org.id}", "uid:{uid}",
		"flag:{flag}", "empty:{empty}", "roles:{roles}", "lit*eral", "team-{team}-{sub}", "news*"}}
	h, err := load(t, manifest(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		data  string // socket.data
		rooms []string
		want  string
	}{
		{"own user room", ann, []string{"user:ann"}, `{}`},
		{"another user's room", ann, []string{"user:bob"}, denied("user:bob")},
		{"user room prefix only", ann, []string{"user:annie"}, denied("user:annie")},
		{"team room with a suffix", ann, []string{"team:red:general"}, `{}`},
		{"team room, empty suffix", ann, []string{"team:red:"}, `{}`},
		{"team room without the separator", ann, []string{"team:red"}, denied("team:red")},
		{"another team", ann, []string{"team:blue:general"}, denied("team:blue:general")},
		{"literal room", ann, []string{"lobby"}, `{}`},
		{"literal room prefix", ann, []string{"lobby2"}, denied("lobby2")},
		{"nested claim", ann, []string{"org:acme"}, `{}`},
		{"number claim", ann, []string{"uid:42"}, `{}`},
		{"two claims", ann, []string{"team-red-ann"}, `{}`},
		{"boolean claim never matches", ann, []string{"flag:true"}, denied("flag:true")},
		{"empty claim never matches", ann, []string{"empty:"}, denied("empty:")},
		{"array claim never matches", ann, []string{"roles:admin"}, denied("roles:admin")},
		{"star inside a pattern is literal", ann, []string{"lit*eral"}, `{}`},
		{"star inside a pattern is no wildcard", ann, []string{"litXeral"}, denied("litXeral")},
		{"trailing star matches the bare prefix", ann, []string{"news"}, `{}`},
		{"all allowed", ann, []string{"lobby", "user:ann", "team:red:x"}, `{}`},
		{"all or nothing", ann, []string{"lobby", "user:bob", "team:red:x"}, denied("user:bob")},
		{"no claims: literal room", "", []string{"lobby"}, `{}`},
		{"no claims: claim room", "", []string{"user:ann"}, denied("user:ann")},
		{"no claims: the placeholder itself", "", []string{"user:{sub}"}, denied("user:{sub}")},
		{"data without claims", `{"user":"ann"}`, []string{"user:ann"}, denied("user:ann")},
		{"claims not an object", `{"claims":"ann"}`, []string{"user:ann"}, denied("user:ann")},
		{"missing claim", `{"claims":{"sub":"ann"}}`, []string{"team:red:x"}, denied("team:red:x")},
		{"claim with a star is literal", `{"claims":{"sub":"*"}}`, []string{"user:ann"}, denied("user:ann")},
		{"claim with braces is literal", `{"claims":{"sub":"{sub}"}}`, []string{"user:{sub}"}, `{}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := join(c.data, c.rooms...)
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
	for rooms, want := range map[string]string{
		"user:ann":       `{}`,
		"team:red:chat":  `{}`,
		"lobby":          `{}`,
		"team:blue:chat": denied("team:blue:chat"),
		"admin":          denied("admin"),
	} {
		e := join(ann, rooms)
		if got := decision(t, h.Run(context.Background(), &e)); got != want {
			t.Errorf("%s: got %s, want %s", rooms, got, want)
		}
	}
}

// TestBadConfig: a config without an allow list, or with a pattern that is
// not a non-empty string, fails the load (the plugin is not installed).
func TestBadConfig(t *testing.T) {
	for name, cfg := range map[string]any{
		"no allow":       map[string]any{},
		"allow a string": map[string]any{"allow": "lobby"},
		"number pattern": map[string]any{"allow": []any{"lobby", 7}},
		"empty pattern":  map[string]any{"allow": []any{""}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := load(t, manifest(t, cfg)); err == nil || !strings.Contains(err.Error(), "room-acl: config.allow") {
				t.Errorf("load: %v, want the config error", err)
			}
		})
	}
}

// TestEmptyAllow denies every room.
func TestEmptyAllow(t *testing.T) {
	h, err := load(t, manifest(t, map[string]any{"allow": []string{}}))
	if err != nil {
		t.Fatal(err)
	}
	e := join(ann, "lobby")
	if got := decision(t, h.Run(context.Background(), &e)); got != denied("lobby") {
		t.Errorf("got %s", got)
	}
}
