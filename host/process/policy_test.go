package process

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/sdk/wire"
)

// policyCase is one row of the policy every runtime's example carries
// (examples/process/policy): an envelope and the decision it gets.
type policyCase struct {
	name string
	env  host.Envelope
	want host.Decision
}

func connectWith(auth string) host.Envelope {
	return host.Envelope{
		Hook:      host.HookConnect,
		Namespace: "/",
		Socket:    host.Socket{ID: "s1", Rooms: []string{}},
		Handshake: &host.Handshake{Auth: wire.Raw(auth), Query: map[string]string{"v": "1"}, Headers: map[string]string{"origin": "http://x"}, Address: "127.0.0.1"},
	}
}

func joinOf(rooms ...string) host.Envelope {
	return host.Envelope{Hook: host.HookJoin, Namespace: "/", Socket: host.Socket{ID: "s1", Rooms: []string{"lobby"}, Data: wire.Raw(`{"user":"alice"}`)}, Rooms: rooms}
}

func eventOf(name, args string, ack bool) host.Envelope {
	return host.Envelope{Hook: host.HookEvent, Namespace: "/", Socket: host.Socket{ID: "s1", Rooms: []string{"lobby"}}, Event: name, Args: wire.Raw(args), Ack: ack, Rooms: []string{"lobby"}}
}

var policyCases = []policyCase{
	{"connect without auth", connectWith(""), host.Decision{Action: host.Deny, Reason: "token required"}},
	{"connect with empty auth", connectWith(`{}`), host.Decision{Action: host.Deny, Reason: "token required"}},
	{"connect with empty token", connectWith(`{"token":""}`), host.Decision{Action: host.Deny, Reason: "token required"}},
	{"connect with a number token", connectWith(`{"token":42}`), host.Decision{Action: host.Deny, Reason: "token required"}},
	{"connect with auth not an object", connectWith(`"token"`), host.Decision{Action: host.Deny, Reason: "token required"}},
	{"connect with a token", connectWith(`{"token":"alice","x":[1]}`), host.Decision{SocketData: wire.Raw(`{"user":"alice"}`)}},
	{"connect with a quoted token", connectWith(`{"token":"a\"b\u00e9"}`), host.Decision{SocketData: wire.Raw(`{"user":"a\"bé"}`)}},
	{"join a room", joinOf("lobby"), host.Decision{}},
	{"join a private room", joinOf("private:ops"), host.Decision{Action: host.Deny, Reason: "private room"}},
	{"join rooms, one private", joinOf("lobby", "private:x"), host.Decision{Action: host.Deny, Reason: "private room"}},
	{"join a room named like private", joinOf("privateer"), host.Decision{}},
	{"leave", host.Envelope{Hook: host.HookLeave, Namespace: "/", Socket: host.Socket{ID: "s1"}, Rooms: []string{"private:ops"}}, host.Decision{}},
	{"shout", eventOf("shout", `["hello"]`, false), host.Decision{Args: wire.Raw(`["HELLO"]`)}},
	{"shout keeps the other args", eventOf("shout", `["hi, you",1,{"a":"b"}]`, false), host.Decision{Args: wire.Raw(`["HI, YOU",1,{"a":"b"}]`)}},
	{"shout a number", eventOf("shout", `[42]`, false), host.Decision{}},
	{"shout nothing", eventOf("shout", `[]`, false), host.Decision{}},
	{"ping", eventOf("ping", `[]`, true), host.Decision{Action: host.Reply, Reply: wire.Raw(`["pong"]`)}},
	{"spam", eventOf("spam", `["buy"]`, false), host.Decision{Action: host.Drop}},
	{"alert", eventOf("alert", `["fire"]`, false), host.Decision{Rooms: []string{"alerts"}}},
	{"another event", eventOf("chat", `["hi"]`, false), host.Decision{}},
	{"disconnect", host.Envelope{Hook: host.HookDisconnect, Namespace: "/", Socket: host.Socket{ID: "s1"}, Reason: "transport close"}, host.Decision{}},
}

// same compares decisions as a client would see them: the empty action is
// allow, and JSON values are compared as values.
func same(t *testing.T, got *host.Decision, want host.Decision) {
	t.Helper()
	if got == nil {
		got = &host.Decision{}
	}
	g, w := *got, want
	for _, d := range []*host.Decision{&g, &w} {
		if d.Action == "" {
			d.Action = host.Allow
		}
		for _, raw := range []*wire.Raw{&d.Data, &d.Args, &d.Reply, &d.SocketData} {
			if len(*raw) > 0 {
				var v any
				if err := json.Unmarshal(*raw, &v); err != nil {
					t.Fatalf("bad JSON %s: %v", *raw, err)
				}
				*raw, _ = json.Marshal(v)
			}
		}
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Errorf("decision\n got %s\nwant %s", gb, wb)
	}
}

func TestPolicy(t *testing.T) {
	p, _ := load(t, &Runtime{}, policyBin, nil)
	for _, c := range policyCases {
		t.Run(c.name, func(t *testing.T) {
			env := c.env
			d, err := call(p, &env, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			same(t, d, c.want)
		})
	}
}

// TestPolicyThroughHost runs the table through host.Host, the chain the hub
// calls.
func TestPolicyThroughHost(t *testing.T) {
	h := host.New(nil)
	h.Register("process", &Runtime{})
	// The chain budgets as the timeout, far above the defaults: a call
	// slowed by a loaded machine would get the failure policy's answer.
	for _, hook := range []host.Hook{host.HookConnect, host.HookJoin, host.HookLeave, host.HookEvent, host.HookDisconnect} {
		h.SetChainBudget(hook, 5*time.Second)
	}
	err := h.Load(context.Background(), []host.Spec{{
		Manifest: host.Manifest{Name: "policy", Runtime: "process", Timeout: host.Duration(5 * time.Second)},
		Entry:    policyBin,
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for _, c := range policyCases {
		t.Run(c.name, func(t *testing.T) {
			env := c.env
			d := h.Run(context.Background(), &env)
			same(t, &d, c.want)
		})
	}
	for _, s := range h.Stats() {
		if s.Outcomes["error"] > 0 || s.Outcomes["timeout"] > 0 {
			t.Errorf("%s: %v", s.Hook, s.Outcomes)
		}
	}
}

// TestDescribe: the plugin's description narrows what it is called for.
func TestDescribe(t *testing.T) {
	p, _ := load(t, &Runtime{}, policyBin, nil)
	inst := p.cur.Load()
	want := map[string]bool{"connect": true, "join": true, "event": true}
	got := inst.describeHooks()
	if len(got) != len(want) {
		t.Fatalf("hooks %v, want connect, join, event", got)
	}
	for _, h := range got {
		if !want[h] {
			t.Fatalf("hooks %v, want connect, join, event", got)
		}
	}
	if len(inst.events) != 4 {
		t.Errorf("events %v, want the four the policy handles", inst.events)
	}

	// faulty describes event and disconnect only; were its connect
	// handler called, it would deny.
	f, _ := load(t, &Runtime{}, faultyBin, nil)
	env := connectWith(`{}`)
	d, err := call(f, &env, time.Second)
	if err != nil || d != nil {
		t.Fatalf("connect on a plugin without it: %+v, %v; want nil, nil", d, err)
	}
}
