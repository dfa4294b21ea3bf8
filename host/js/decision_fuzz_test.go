package js

import (
	"context"
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/internal/decisiontest"
)

// fuzzDecisionSrc returns, as its decision, the JSON text the fuzzer wrote
// in the first argument, with strings naming a value JSON cannot carry
// ("$fn", "$big", "$cycle"...) replaced by that value: the decision
// converter sees every kind of JS value, in every place.
const fuzzDecisionSrc = `
const exotic = {
  $undef: undefined, $null: null, $fn: () => 1, $nan: NaN, $inf: -Infinity, $negzero: -0,
  $lone: "\ud800", $lowlone: "a\udc00b", $pair: "\ud83d\ude00", $u8: new Uint8Array([1, 2]),
  $ab: new ArrayBuffer(2), $sym: Symbol("s"), $date: new Date(0), $tojson: { toJSON() { return ["j"]; } },
  $badtojson: { toJSON() { return this; } }, $big: 10n, $map: new Map([[1, 2]]), $set: new Set([1]),
  $strobj: new String("s"), $numobj: new Number(1.5), $boolobj: new Boolean(false),
  $promise: Promise.resolve({ action: "deny", reason: "from a promise" }), $rejected: Promise.reject(new Error("no")),
  $pending: new Promise(() => {}), $sparse: [1, , 3], $proxy: new Proxy({}, {}), $regexp: /a+/g,
  $error: new Error("e"), $class: class {}, $gen: function* () {}, $async: async () => 1,
  $frozen: Object.freeze({ a: [1] }), $nullproto: Object.create(null), $getter: { get a() { return "g"; } },
  $huge: "x".repeat(1 << 16), $bigarray: new Array(1 << 12).fill("y"),
};
exotic.$rejected.catch(() => {});
function sprinkle(v, depth) {
  if (typeof v === "string") {
    if (v === "$cycle") { const o = { a: 1 }; o.self = o; return o; }
    if (v === "$deep") { let a = []; for (let i = 0; i < 100; i++) a = [a]; return a; }
    if (v === "$throw") throw new Error("thrown");
    return Object.prototype.hasOwnProperty.call(exotic, v) ? exotic[v] : v;
  }
  if (depth > 40 || v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map((x) => sprinkle(x, depth + 1));
  const o = {};
  for (const k of Object.keys(v)) o[k] = sprinkle(v[k], depth + 1);
  return o;
}
hubd.on("event", (env) => {
  let v;
  try {
    v = JSON.parse(env.args[0]);
  } catch (e) {
    return undefined;
  }
  return sprinkle(v, 0);
});
`

// FuzzDecision: whatever a handler returns, the conversion to a decision
// never panics, and a decision it accepts passes host.CheckDecision with
// JSON values that are valid and UTF-8.
func FuzzDecision(f *testing.F) {
	for _, s := range []string{
		`null`, `{}`, `"$undef"`, `{"action":"deny","reason":"no","data":{"code":1}}`,
		`{"action":"reply","reply":[1,"x"]}`, `{"action":"reply"}`, `{"args":["$lone","$pair","$lowlone"]}`,
		`{"args":["a",{"b":"$fn","c":"$undef","d":"$nan"}],"event":"e","rooms":["r"],"except":"x","to_sender":false}`,
		`{"socket_data":{"user":"$date","m":"$map"},"join":["a","b"]}`, `{"action":"explode"}`, `{"args":{}}`,
		`{"args":["$u8"]}`, `{"data":"$ab"}`, `{"args":["$big"]}`, `{"args":["$cycle"]}`, `{"args":["$deep"]}`,
		`{"args":["$tojson","$badtojson"]}`, `"$promise"`, `"$rejected"`, `"$pending"`, `{"args":"$sparse"}`,
		`{"reason":"$lone"}`, `{"event":"$pair"}`, `{"rooms":["$lone"]}`, `{"args":["$huge","$huge"],"reply":["$bigarray"]}`,
		`{"action":"$strobj"}`, `{"to_sender":"$boolobj"}`, `{"args":["$proxy","$regexp","$error","$frozen","$nullproto","$getter"]}`,
		`{"args":["$class","$gen","$async","$sym","$set","$numobj","$inf","$negzero"]}`, `"$throw"`, `[1]`, `"$fn"`, `5`,
		`{"args":[{"\ud800":1}]}`, `{"data":{"k\udc00":"$lone"}}`,
	} {
		f.Add(s)
	}
	p, err := Runtime{}.LoadSource(context.Background(), host.Spec{Manifest: host.Manifest{
		Name: "fuzz", Runtime: "js", PoolSize: 1, Timeout: host.Duration(10 * time.Second),
	}}, "fuzz.js", fuzzDecisionSrc)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { p.Close() })
	f.Fuzz(func(t *testing.T, in string) {
		args, _ := json.Marshal([]string{in})
		env := &host.Envelope{Hook: host.HookEvent, Namespace: "/", Socket: host.Socket{ID: "s", Rooms: []string{}}, Event: "e", Args: args}
		d, err := p.Handle(context.Background(), env)
		if err != nil || d == nil {
			return
		}
		decisiontest.Check(t, d, d)
		for _, s := range append([]string{d.Reason, d.Event}, append(d.Rooms, append(d.Except, d.Join...)...)...) {
			if !utf8.ValidString(s) {
				t.Fatalf("string %q is not UTF-8", s)
			}
		}
	})
}
