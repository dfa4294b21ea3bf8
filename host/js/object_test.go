package js

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// objectProbe runs the same operations on env.args[0], an object of the
// envelope (converted when touched), and on JSON.parse of the same text
// (env.args[1]), and returns both results: they must be equal.
const objectProbe = `
function probe(o) {
  const r = [];
  r.push(Object.keys(o).join("|"));
  r.push(JSON.stringify(o));
  r.push(typeof o, Array.isArray(o), Object.getPrototypeOf(o) === Object.prototype);
  r.push("a" in o, "zz" in o, o.hasOwnProperty("a"), o.zz === undefined);
  r.push(JSON.stringify({ ...o }), Object.entries(o).length);
  const seen = [];
  for (const k in o) seen.push(k);
  r.push(seen.join("|"));
  if (o.n !== undefined) r.push(o.n === o.n, JSON.stringify(o.n), typeof o.n);
  if (o.n && typeof o.n === "object" && !Array.isArray(o.n)) r.push(Object.keys(o.n).join("|"), o.n.x);
  r.push(Object.prototype.toString.call(o), String(Object.getOwnPropertyNames(o)));
  o.added = 1;
  delete o.a;
  const first = Object.keys(o)[0]; // the others move down
  delete o[first];
  r.push(Object.keys(o).map((k) => JSON.stringify(o[k])).join("|"));
  o.b = "b2";
  r.push(JSON.stringify(o), Object.keys(o).join("|"));
  return r;
}
hubd.on("event", (env) => {
  const lazy = probe(env.args[0]);
  const ref = probe(JSON.parse(env.args[1]));
  return { args: [lazy, ref] };
});`

// TestArgsObjectsAsJSONParse: an object of env.args behaves as the object
// JSON.parse makes of the same text: keys in order, the last of duplicate
// keys winning, nested objects (themselves converted when touched) kept
// identical, writes, deletes, spreading and JSON.stringify.
func TestArgsObjectsAsJSONParse(t *testing.T) {
	p := loadSource(t, objectProbe, withPool(1))
	many := make([]string, 20)
	for i := range many {
		many[i] = strconv.Quote("k"+strconv.Itoa(i)) + ":" + strconv.Itoa(i)
	}
	for _, obj := range []string{
		`{}`,
		`{"a":1,"b":"x","n":{"x":[1,{"y":null}],"z":true}}`,
		` { "a" : 1 , "b":2, "a" : 3 } `,
		`{"n":{"x":"a,}]\"{"},"a":[{},[]],"b":-0.5e3}`,
		`{"__proto__":{"polluted":1},"a":1}`,
		`{"é":"\u00e9\n","a":false,"b":null}`,
		`{"n":[1,2],"a":{"b":{"c":{}}}}`,
		`{"b":1,"2":2,"1":3,"01":4,"4294967295":5,"4294967294":6,"a":7}`,
		`{` + strings.Join(many, ",") + `,"a":"late","k3":"again"}`,
	} {
		args, _ := json.Marshal([]any{json.RawMessage(obj), obj})
		d := mustDecide(t, p, eventEnv("s", "probe", string(args)))
		var got [2]json.RawMessage
		if err := json.Unmarshal(d.Args, &got); err != nil {
			t.Fatalf("%s: args %s: %v", obj, d.Args, err)
		}
		if string(got[0]) != string(got[1]) {
			t.Errorf("%s:\n env.args[0]: %s\n JSON.parse:  %s", obj, got[0], got[1])
		}
	}
}

// TestArgsObjectKept: an object kept past its call converts the same
// values when read in a later one, and one never touched is not converted
// (a malformed one, which only a caller other than the hub could send,
// throws when touched, not when passed on).
func TestArgsObjectKept(t *testing.T) {
	p := loadSource(t, `
let kept;
hubd.on("event", (env) => {
  if (env.event === "keep") { kept = env.args[0]; return; }
  if (env.event === "pass") { return { args: [env.args.length] }; }
  return { args: [kept.n.x, Object.keys(kept)] };
});`, withPool(1))
	mustDecide(t, p, eventEnv("s", "keep", `[{"n":{"x":"first"},"m":2}]`))
	d := mustDecide(t, p, eventEnv("s", "read", `[{"n":{"x":"second"}}]`))
	if string(d.Args) != `["first",["n","m"]]` {
		t.Errorf("kept object read later: %s", d.Args)
	}

	mustDecide(t, p, eventEnv("s", "keep", `[{"a":}]`))
	if _, err := call(t, p, eventEnv("s", "read", `[]`)); err == nil || !strings.Contains(err.Error(), "invalid JSON") {
		t.Errorf("touching a malformed object: %v", err)
	}
}

// FuzzArgsObject: whatever JSON object a client sends, JSON.stringify of
// env.args[0] equals JSON.stringify(JSON.parse(text)).
func FuzzArgsObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `{"a":{"b":[1,"]"]},"a":2}`, `{"":"\""}`, `{"x":[{"y":{}}],"z":-1e-7}`} {
		f.Add(s)
	}
	// goja's JSON.parse refuses what it cannot hold in a float64 (1e700),
	// where a JS engine gives Infinity: such input has no reference.
	p := loadSource(f, `hubd.on("event", (env) => {
  let ref;
  try { ref = JSON.stringify(JSON.parse(env.args[1])); } catch (e) { return { args: ["no reference", "no reference"] }; }
  return { args: [JSON.stringify(env.args[0]), ref] };
});`, withPool(1))
	f.Fuzz(func(t *testing.T, obj string) {
		var m map[string]json.RawMessage
		if json.Unmarshal([]byte(obj), &m) != nil || m == nil || strings.ContainsAny(obj, "\x00") {
			return
		}
		args, err := json.Marshal([]any{json.RawMessage(obj), obj})
		if err != nil {
			return
		}
		d, err := call(t, p, eventEnv("s", "x", string(args)))
		if err != nil {
			if strings.Contains(err.Error(), "nested deeper") {
				return
			}
			t.Fatalf("%q: %v", obj, err)
		}
		var got [2]string
		if err := json.Unmarshal(d.Args, &got); err != nil {
			t.Fatalf("%q: args %s: %v", obj, d.Args, err)
		}
		if got[0] != got[1] {
			t.Fatalf("%q:\n env.args[0]: %s\n JSON.parse:  %s", obj, got[0], got[1])
		}
	})
}
