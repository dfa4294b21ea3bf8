package js

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/sdk/wire"
)

// TestEnvelopeFields checks that the script sees the envelope's JSON form.
func TestEnvelopeFields(t *testing.T) {
	withData := joinEnv()
	withData.Socket.Data = wire.Raw(`{"user":{"id":7,"roles":["a","b"]},"__proto__":{"admin":true}}`)
	disc := &host.Envelope{Hook: host.HookDisconnect, Namespace: "/", Socket: host.Socket{ID: "s3", Rooms: []string{"x", "y"}}, Reason: "transport close"}
	leave := &host.Envelope{Hook: host.HookLeave, Namespace: "/", Socket: host.Socket{ID: "s4", Rooms: []string{"x"}}, Rooms: []string{"x"}}
	ev := eventEnv("s5", "chat", `["hi",{"n":-0.5,"big":12345678901234567890,"esc":"\u00e9\ud83d\ude00\n","nested":[[],{}]},null,true,false]`)
	ev.Ack = true
	recovered := connectEnv()
	recovered.Recovered = true
	recovered.Socket.Data = wire.Raw(`{"user":"u"}`)
	for _, env := range []*host.Envelope{connectEnv(), recovered, withData, disc, leave, ev} {
		t.Run(string(env.Hook), func(t *testing.T) {
			p := loadSource(t, `hubd.on("`+string(env.Hook)+`", env => ({data: env}));`)
			d := mustDecide(t, p, env)
			var got, want any
			if err := json.Unmarshal(d.Data, &got); err != nil {
				t.Fatalf("%s: %v", d.Data, err)
			}
			if err := json.Unmarshal(env.AppendJSON(nil), &want); err != nil {
				t.Fatal(err)
			}
			if g, w := fmt.Sprint(got), fmt.Sprint(want); g != w {
				t.Errorf("the script saw\n%s\nwant\n%s", d.Data, env.AppendJSON(nil))
			}
		})
	}
}

func TestEnvelopeValues(t *testing.T) {
	env := eventEnv("s1", "chat", `[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
	env.Attachments = [][]byte{{1, 2, 3}, {4}}
	env.Socket.Data = wire.Raw(`{"__proto__":{"admin":true}}`)
	p := loadSource(t, `
hubd.on("event", (env) => {
  const a = env.attachments;
  const bytes = new Uint8Array(a[0]);
  bytes[0] = 99; // a copy: the host's bytes stay
  return {data: {
    isArray: Array.isArray(env.args) && Array.isArray(env.rooms) && Array.isArray(env.socket.rooms),
    same: env.args === env.args && env.socket === env.socket,
    buffers: a.map(b => b instanceof ArrayBuffer ? b.byteLength : -1),
    first: Array.from(new Uint8Array(a[0])),
    placeholder: env.args[1]._placeholder === true && env.args[1].num === 1,
    protoIsData: Object.getPrototypeOf(env.socket.data) === Object.prototype && env.socket.data.admin === undefined,
    keys: Object.keys(env),
    socketKeys: Object.keys(env.socket),
    spread: {...env.socket}.id,
    has: ["event" in env, "reason" in env, "handshake" in env],
    ack: env.ack === undefined,
    mapped: env.args.map(x => x.num),
    added: (env.extra = 1, delete env.event, Object.keys(env).join()),
  }};
});`)
	d := mustDecide(t, p, env)
	want := `{"isArray":true,"same":true,"buffers":[3,1],"first":[99,2,3],"placeholder":true,"protoIsData":true,` +
		`"keys":["v","hook","ns","socket","event","args","rooms","attachments"],"socketKeys":["id","rooms","data"],"spread":"s1",` +
		`"has":[true,false,false],"ack":true,"mapped":[0,1],"added":"v,hook,ns,socket,args,rooms,attachments,extra"}`
	if string(d.Data) != want {
		t.Errorf("got  %s\nwant %s", d.Data, want)
	}
	if env.Attachments[0][0] != 1 {
		t.Errorf("the script changed the host's attachment: %v", env.Attachments[0])
	}
}

// TestEnvelopeRecovered: "recovered" is an own property, true, on a
// recovered socket's connect, and no property at all on any other.
func TestEnvelopeRecovered(t *testing.T) {
	p := loadSource(t, `hubd.on("connect", env => ({data: {
  value: env.recovered === undefined ? "absent" : env.recovered,
  has: "recovered" in env,
  keys: Object.keys(env).join(),
  json: JSON.parse(JSON.stringify(env)).recovered === undefined ? "absent" : "present",
}}));`)
	fresh := connectEnv()
	recovered := connectEnv()
	recovered.Recovered = true
	for _, c := range []struct {
		env  *host.Envelope
		want string
	}{
		{fresh, `{"value":"absent","has":false,"keys":"v,hook,ns,socket,handshake","json":"absent"}`},
		{recovered, `{"value":true,"has":true,"keys":"v,hook,ns,socket,handshake,recovered","json":"present"}`},
	} {
		if d := mustDecide(t, p, c.env); string(d.Data) != c.want {
			t.Errorf("Recovered %v: the script saw %s, want %s", c.env.Recovered, d.Data, c.want)
		}
	}
}

// TestEnvelopeDetached: an envelope kept past its call shows nothing of
// later calls, and fields it never read are gone.
func TestEnvelopeDetached(t *testing.T) {
	p := loadSource(t, `
let kept;
hubd.on("event", (env) => {
  if (!kept) { kept = env; return {data: {first: env.args[0]}}; }
  return {data: {keptArgs: kept.args, keptSocket: kept.socket === undefined, keptKeys: Object.keys(kept), now: env.socket.id}};
});`, withPool(1))
	mustDecide(t, p, eventEnv("alice", "chat", `["a-secret"]`))
	d := mustDecide(t, p, eventEnv("bob", "chat", `["b"]`))
	want := `{"keptArgs":["a-secret"],"keptSocket":true,"keptKeys":["args"],"now":"bob"}`
	if string(d.Data) != want {
		t.Errorf("got  %s\nwant %s", d.Data, want)
	}
}

// TestConcurrentCalls runs many goroutines against one plugin: every
// decision carries its own call's socket and data (run with -race).
func TestConcurrentCalls(t *testing.T) {
	p := loadSource(t, `
let last = null; // shared by the calls of one runtime: the script's own business
hubd.on("event", (env) => {
  const prev = last;
  last = env.socket.id;
  let x = 0;
  for (let i = 0; i < 200; i++) x += i; // keep the runtime busy a little
  return {data: {id: env.socket.id, user: env.socket.data.user, arg: env.args[0]}, rooms: env.socket.rooms};
});`, withPool(3))
	const goroutines, calls = 12, 150
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for i := range calls {
				id := fmt.Sprintf("sock-%d-%d", g, i)
				env := eventEnv(id, "chat", fmt.Sprintf(`["arg-%d-%d"]`, g, i))
				env.Socket.Data = wire.Raw(fmt.Sprintf(`{"user":"user-%d-%d"}`, g, i))
				env.Socket.Rooms = []string{"room-" + id}
				d, err := call(t, p, env)
				if err != nil {
					errs <- err
					return
				}
				want := fmt.Sprintf(`{"id":"%s","user":"user-%d-%d","arg":"arg-%d-%d"}`, id, g, i, g, i)
				if string(d.Data) != want || len(d.Rooms) != 1 || d.Rooms[0] != "room-"+id {
					errs <- fmt.Errorf("cross-talk: got %s %v, want %s", d.Data, d.Rooms, want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestUnregisteredHookAllows(t *testing.T) {
	p := loadSource(t, `hubd.on("event", () => ({action: "deny"}));`)
	for _, h := range []host.Hook{host.HookConnect, host.HookJoin, host.HookLeave, host.HookDisconnect, "bogus"} {
		d := mustDecide(t, p, &host.Envelope{Hook: h, Socket: host.Socket{ID: "s"}})
		if d.Action != "" {
			t.Errorf("%s: %+v", h, d)
		}
	}
}

func TestBadEnvelopeJSON(t *testing.T) {
	p := loadSource(t, `hubd.on("event", env => { try { env.args } catch (e) { return {reason: e.message.slice(0, 40)} } });`)
	d := mustDecide(t, p, eventEnv("s", "chat", `[1,`))
	if !strings.Contains(d.Reason, "invalid JSON") {
		t.Fatalf("reason %q", d.Reason)
	}
}
