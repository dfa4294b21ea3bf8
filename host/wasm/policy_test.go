package wasm

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/sdk/wire"
)

// policyCase is one row of the shared policy table (examples/wasm/README.md).
type policyCase struct {
	name string
	env  host.Envelope
	want host.Decision
}

func connectEnv(auth string) host.Envelope {
	return host.Envelope{
		Hook:      host.HookConnect,
		Namespace: "/",
		Socket:    host.Socket{ID: "sock1", Rooms: []string{}},
		Handshake: &host.Handshake{
			Auth:    wire.Raw(auth),
			Query:   map[string]string{"v": "1"},
			Headers: map[string]string{"user-agent": "test"},
			Address: "127.0.0.1",
		},
	}
}

func roomsEnv(hook host.Hook, rooms ...string) host.Envelope {
	return host.Envelope{
		Hook:      hook,
		Namespace: "/chat",
		Socket:    host.Socket{ID: "sock1", Rooms: []string{"lobby"}, Data: wire.Raw(`{"user":"alice"}`)},
		Rooms:     rooms,
	}
}

func evEnv(event, args string) host.Envelope {
	e := host.Envelope{
		Hook:      host.HookEvent,
		Namespace: "/",
		Socket:    host.Socket{ID: "sock1", Rooms: []string{"lobby", "news"}, Data: wire.Raw(`{"user":"alice"}`)},
		Event:     event,
		Ack:       true,
		Rooms:     []string{"lobby", "news"},
	}
	if args != "" {
		e.Args = wire.Raw(args)
	}
	return e
}

var policyCases = []policyCase{
	{"connect without auth", connectEnv(""), host.Decision{Action: host.Deny, Reason: "token required"}},
	{"connect with empty auth", connectEnv(`{}`), host.Decision{Action: host.Deny, Reason: "token required"}},
	{"connect with empty token", connectEnv(`{"token":""}`), host.Decision{Action: host.Deny, Reason: "token required"}},
	{"connect with a number token", connectEnv(`{"token":42}`), host.Decision{Action: host.Deny, Reason: "token required"}},
	{"connect with a nested token", connectEnv(`{"other":{"token":"x"}}`), host.Decision{Action: host.Deny, Reason: "token required"}},
	{"connect with a token", connectEnv(`{"token":"alice"}`), host.Decision{SocketData: wire.Raw(`{"user":"alice"}`)}},
	{"connect with an escaped token", connectEnv(`{ "x" : [1,"}"], "token" : "a\"b\\c\u00e9\n" }`),
		host.Decision{SocketData: wire.Raw(`{"user":"a\"b\\cé\n"}`)}},
	{"join a room", roomsEnv(host.HookJoin, "lobby"), host.Decision{}},
	{"join a private room", roomsEnv(host.HookJoin, "private:x"), host.Decision{Action: host.Deny, Reason: "private room"}},
	{"join rooms, one private", roomsEnv(host.HookJoin, "lobby", "private:y"), host.Decision{Action: host.Deny, Reason: "private room"}},
	{"join a room named private", roomsEnv(host.HookJoin, "private"), host.Decision{}},
	{"leave a private room", roomsEnv(host.HookLeave, "private:x"), host.Decision{}},
	{"shout", evEnv("shout", `["hello"]`), host.Decision{Args: wire.Raw(`["HELLO"]`)}},
	{"shout with more args", evEnv("shout", `["héllo wörld", {"x":1} , 2]`), host.Decision{Args: wire.Raw(`["HÉLLO WÖRLD", {"x":1} , 2]`)}},
	{"shout an escaped string", evEnv("shout", `["say \"hi\"\tnow"]`), host.Decision{Args: wire.Raw(`["SAY \"HI\"\tNOW"]`)}},
	{"shout a number", evEnv("shout", `[42]`), host.Decision{}},
	{"shout nothing", evEnv("shout", `[]`), host.Decision{}},
	{"ping", evEnv("ping", `[]`), host.Decision{Action: host.Reply, Reply: wire.Raw(`["pong"]`)}},
	{"spam", evEnv("spam", `["buy now"]`), host.Decision{Action: host.Drop}},
	{"alert", evEnv("alert", `["fire"]`), host.Decision{Rooms: []string{"alerts"}}},
	{"another event", evEnv("chat", `["hi"]`), host.Decision{}},
	{"disconnect", host.Envelope{Hook: host.HookDisconnect, Namespace: "/", Socket: host.Socket{ID: "sock1"}, Reason: "transport close"}, host.Decision{}},
}

// runPolicy runs the table through a plugin and returns the decisions.
func runPolicy(t *testing.T, p *Plugin) []host.Decision {
	t.Helper()
	out := make([]host.Decision, len(policyCases))
	for i, c := range policyCases {
		env := c.env
		d, err := call(p, &env, 10*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		out[i] = *d
		if !reflect.DeepEqual(*d, c.want) {
			t.Errorf("%s:\n got  %s\n want %s", c.name, show(d), show(&c.want))
		}
	}
	return out
}

func show(d *host.Decision) string {
	b, _ := json.Marshal(d)
	return string(b)
}

func TestPolicyGo(t *testing.T) {
	p := load(t, guestGo, nil)
	runPolicy(t, p)
	if got := p.Hooks(); !reflect.DeepEqual(got, []host.Hook{host.HookConnect, host.HookJoin, host.HookEvent}) {
		t.Errorf("Hooks() = %v", got)
	}
}

func TestPolicyC(t *testing.T) {
	needC(t)
	p := load(t, guestC, nil)
	runPolicy(t, p)
}

// TestPolicySameDecisions runs the table through both guests and checks
// that they decide identically, byte for byte.
func TestPolicySameDecisions(t *testing.T) {
	needC(t)
	goDecisions := runPolicy(t, load(t, guestGo, nil))
	cDecisions := runPolicy(t, load(t, guestC, nil))
	for i := range policyCases {
		if !reflect.DeepEqual(goDecisions[i], cDecisions[i]) {
			t.Errorf("%s: Go %s, C %s", policyCases[i].name, show(&goDecisions[i]), show(&cDecisions[i]))
		}
	}
}

// TestPolicyThroughHost runs the Go policy as a host chain would.
func TestPolicyThroughHost(t *testing.T) {
	h := host.New(nil)
	h.Register("wasm", New(WithCompilationCache(testCache)))
	h.SetChainBudget(host.HookEvent, 10*time.Second)
	err := h.Load(t.Context(), []host.Spec{{
		// A timeout far above the 50 ms default, and the chain budget
		// alike: a call slowed by a loaded machine would get the failure
		// policy's answer instead.
		Manifest: host.Manifest{Name: "policy", Runtime: "wasm", PoolSize: 2, Timeout: host.Duration(10 * time.Second)},
		Entry:    guestGo,
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	env := evEnv("shout", `["hi",1]`)
	d := h.Run(t.Context(), &env)
	if string(d.Args) != `["HI",1]` {
		t.Fatalf("Run: %s", show(&d))
	}
	if string(env.Args) != `["HI",1]` {
		t.Fatalf("envelope not updated: %s", env.Args)
	}
	env = evEnv("spam", `[]`)
	if d := h.Run(t.Context(), &env); d.Action != host.Drop {
		t.Fatalf("spam: %s", show(&d))
	}
}
