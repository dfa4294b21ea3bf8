package js

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/sdk/wire"
)

func connectEnv() *host.Envelope {
	return &host.Envelope{
		Hook:      host.HookConnect,
		Namespace: "/chat",
		Socket:    host.Socket{ID: "s1", Rooms: []string{}},
		Handshake: &host.Handshake{
			Auth:    wire.Raw(`{"token":"t-42"}`),
			Query:   map[string]string{"room": "lobby"},
			Headers: map[string]string{"user-agent": "test"},
			Address: "10.0.0.1:5000",
		},
	}
}

func joinEnv() *host.Envelope {
	return &host.Envelope{
		Hook:      host.HookJoin,
		Namespace: "/",
		Socket:    host.Socket{ID: "s2", Rooms: []string{"a"}, Data: wire.Raw(`{"tenant":"acme"}`)},
		Rooms:     []string{"general"},
	}
}

// decisionJSON renders a decision for comparison.
func decisionJSON(t *testing.T, d *host.Decision) string {
	t.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDecisions(t *testing.T) {
	tests := []struct {
		name string
		hook string // handler registered for this hook
		body string // handler body; env is the envelope
		env  *host.Envelope
		want string // the decision as JSON
	}{
		{"nothing allows", "event", ``, eventEnv("s", "chat", `[1]`), `{}`},
		{"null allows", "event", `return null`, eventEnv("s", "chat", `[1]`), `{}`},
		{"empty object allows", "event", `return {}`, eventEnv("s", "chat", `[1]`), `{}`},
		{"explicit allow", "event", `return {action: "allow"}`, eventEnv("s", "chat", `[1]`), `{"action":"allow"}`},
		{"deny with reason and data", "event", `return {action: "deny", reason: "no " + env.event, data: {code: 7, why: ["x"]}}`,
			eventEnv("s", "chat", `[1]`), `{"action":"deny","reason":"no chat","data":{"code":7,"why":["x"]}}`},
		{"drop", "event", `return {action: "drop"}`, eventEnv("s", "chat", `[1]`), `{"action":"drop"}`},
		{"reply", "event", `return {action: "reply", reply: [{ok: true, echo: env.args[0]}]}`,
			eventEnv("s", "ping", `[{"n":1}]`), `{"action":"reply","reply":[{"ok":true,"echo":{"n":1}}]}`},
		{"reply without args", "event", `return {action: "reply"}`, eventEnv("s", "ping", `[]`), `{"action":"reply","reply":[]}`},
		{"reply and route", "event", `return {reply: ["queued"], rooms: ["r1"]}`,
			eventEnv("s", "ping", `[]`), `{"rooms":["r1"],"reply":["queued"]}`},
		{"disconnect", "event", `return {action: "disconnect", reason: "bye"}`, eventEnv("s", "chat", `[1]`), `{"action":"disconnect","reason":"bye"}`},
		{"transform event and args", "event", `return {event: "msg", args: [env.args[0].toUpperCase(), {n: env.args[1].n + 1}]}`,
			eventEnv("s", "chat", `["hi",{"n":1}]`), `{"event":"msg","args":["HI",{"n":2}]}`},
		{"transform by editing args in place", "event", `env.args.push("tail"); env.args[0] = "X"; return {args: env.args}`,
			eventEnv("s", "chat", `["a","b"]`), `{"args":["X","b","tail"]}`},
		{"route rooms except to_sender", "event", `return {rooms: ["r1", "r2"], except: "s9", to_sender: true}`,
			eventEnv("s", "chat", `[1]`), `{"rooms":["r1","r2"],"except":["s9"],"to_sender":true}`},
		{"route to_sender false", "event", `return {to_sender: false}`, eventEnv("s", "chat", `[1]`), `{"to_sender":false}`},
		{"connect attaches data and joins", "connect",
			`return {socket_data: {user: env.handshake.auth.token, from: env.handshake.address, q: env.handshake.query.room}, join: ["user:" + env.handshake.auth.token]}`,
			connectEnv(), `{"socket_data":{"user":"t-42","from":"10.0.0.1:5000","q":"lobby"},"join":["user:t-42"]}`},
		{"connect deny", "connect", `return {action: "deny", reason: "bad token", data: {temporary: false}}`,
			connectEnv(), `{"action":"deny","reason":"bad token","data":{"temporary":false}}`},
		{"join replaces rooms", "join", `return {rooms: env.rooms.map(r => env.socket.data.tenant + ":" + r)}`,
			joinEnv(), `{"rooms":["acme:general"]}`},
		{"join deny", "join", `if (env.rooms[0] === "general") return {action: "deny", reason: "closed"}`,
			joinEnv(), `{"action":"deny","reason":"closed"}`},
		{"settled async handler", "event", `await null; return {action: "drop"}`, eventEnv("s", "chat", `[1]`), `{"action":"drop"}`},
		{"toJSON and undefined fields", "event", `return {args: [new Date(0), undefined, () => 1, {a: undefined, b: 1}], data: undefined}`,
			eventEnv("s", "chat", `[1]`), `{"args":["1970-01-01T00:00:00.000Z",null,null,{"b":1}]}`},
		{"non-finite numbers", "event", `return {args: [NaN, Infinity, -0, 1.5, 1e21, 2**53]}`,
			eventEnv("s", "chat", `[1]`), `{"args":[null,null,0,1.5,1e+21,9007199254740992]}`},
		{"strings are escaped", "event", `return {args: ["a\"b\\c\n\u0001é😀"]}`,
			eventEnv("s", "chat", `[1]`), `{"args":["a\"b\\c\n\u0001é😀"]}`},
		{"binary placeholders pass through", "event", `return {args: [env.args[0], env.attachments.length]}`,
			&host.Envelope{Hook: host.HookEvent, Namespace: "/", Socket: host.Socket{ID: "s"}, Event: "up",
				Args: wire.Raw(`[{"_placeholder":true,"num":0}]`), Attachments: [][]byte{{1, 2, 3}}},
			`{"args":[{"_placeholder":true,"num":0},1]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			async := ""
			if strings.Contains(tt.body, "await") {
				async = "async "
			}
			p := loadSource(t, `hubd.on("`+tt.hook+`", `+async+`function (env) {`+tt.body+`});`, withPool(1))
			d := mustDecide(t, p, tt.env)
			if got := decisionJSON(t, d); got != tt.want {
				t.Errorf("decision\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestMalformedDecisions(t *testing.T) {
	tests := []struct{ name, ret string }{
		{"number", `42`},
		{"string", `"deny"`},
		{"boolean", `true`},
		{"array", `[{action: "deny"}]`},
		{"function", `function () {}`},
		{"unknown action", `{action: "maybe"}`},
		{"action not a string", `{action: 1}`},
		{"reason not a string", `{action: "deny", reason: {}}`},
		{"reason too long", `{action: "deny", reason: "x".repeat(300)}`},
		{"event not a string", `{event: 5}`},
		{"args not an array", `{args: "hello"}`},
		{"reply not an array", `{action: "reply", reply: {ok: true}}`},
		{"room not a string", `{rooms: [1]}`},
		{"empty room", `{rooms: [""]}`},
		{"too many rooms", `{rooms: Array.from({length: 300}, (_, i) => "r" + i)}`},
		{"to_sender not a boolean", `{to_sender: "yes"}`},
		{"BigInt in args", `{args: [1n]}`},
		{"ArrayBuffer in args", `{args: [new ArrayBuffer(4)]}`},
		{"typed array in data", `{data: new Uint8Array(4)}`},
		{"cyclic data", `(() => { const o = {}; o.self = o; return {data: o}; })()`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := loadSource(t, `hubd.on("event", () => (`+tt.ret+`));`, withPool(1))
			_, err := call(t, p, eventEnv("s", "chat", `[1]`))
			if !errors.Is(err, host.ErrGarbage) {
				t.Fatalf("err = %v, want ErrGarbage", err)
			}
			// The runtime is still good.
			if _, err := call(t, p, &host.Envelope{Hook: host.HookConnect, Socket: host.Socket{ID: "x"}}); err != nil {
				t.Fatalf("next call: %v", err)
			}
		})
	}
}

func TestOversizeOutput(t *testing.T) {
	tests := []struct{ name, ret string }{
		{"one big string", `{args: ["x".repeat(1 << 20)]}`},
		{"many values", `{data: Array.from({length: 3000}, (_, i) => "x".repeat(400) + i)}`},
		{"shared subtrees", `(() => { let a = [1]; for (let i = 0; i < 40; i++) a = [a, a]; return {args: a}; })()`},
		{"the sum of the fields", `{args: ["x".repeat(600000)], reply: ["y".repeat(600000)]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := loadSource(t, `hubd.on("event", () => (`+tt.ret+`));`, withPool(1))
			_, err := call(t, p, eventEnv("s", "chat", `[1]`))
			if !errors.Is(err, host.ErrGarbage) || !strings.Contains(err.Error(), "larger than") {
				t.Fatalf("err = %v, want ErrGarbage (too large)", err)
			}
		})
	}
	t.Run("limit is configurable", func(t *testing.T) {
		p := loadSource(t, `hubd.on("event", () => ({args: ["x".repeat(200)]}));`, withRuntime(func(r *Runtime) { r.MaxOutputBytes = 100 }))
		if _, err := call(t, p, eventEnv("s", "chat", `[1]`)); !errors.Is(err, host.ErrGarbage) {
			t.Fatalf("err = %v, want ErrGarbage", err)
		}
	})
}

func TestOversizeInput(t *testing.T) {
	p := loadSource(t, `hubd.on("event", () => ({action: "deny"}));`)
	big := `["` + strings.Repeat("x", 1<<20) + `"]`
	_, err := call(t, p, eventEnv("s", "chat", big))
	if err == nil || !strings.Contains(err.Error(), "input limit") {
		t.Fatalf("err = %v, want the input limit", err)
	}
	// Attachments count too.
	env := eventEnv("s", "chat", `[{"_placeholder":true,"num":0}]`)
	env.Attachments = [][]byte{make([]byte, 1<<20)}
	if _, err := call(t, p, env); err == nil || !strings.Contains(err.Error(), "input limit") {
		t.Fatalf("err = %v, want the input limit", err)
	}
	// Control characters escape to six bytes each: counted exactly.
	env = eventEnv("s", strings.Repeat("\x01", 200000), `[1]`)
	if _, err := call(t, p, env); err == nil || !strings.Contains(err.Error(), "input limit") {
		t.Fatalf("err = %v, want the input limit", err)
	}
	d := mustDecide(t, p, eventEnv("s", "chat", `["`+strings.Repeat("x", 1000)+`"]`))
	if d.Action != host.Deny {
		t.Fatalf("small input: %+v", d)
	}
}
