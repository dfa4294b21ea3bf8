package js

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestArgsReadLazily: env.args converts an element when the script first
// reads it, and behaves meanwhile as the array of every value: its length,
// Array.isArray, JSON.stringify, spreading, writes and truncation; an
// element read after the call (a kept array) shows the call's value.
func TestArgsReadLazily(t *testing.T) {
	p := loadSource(t, `
let kept = null;
hubd.on("event", (env) => {
  if (env.event === "later") {
    return { args: [kept[1], kept[2], kept.length] };
  }
  const a = env.args;
  kept = a;
  const out = {
    first: a[0],
    len: a.length,
    isArray: Array.isArray(a),
    json: JSON.stringify(a),
    spread: [...a].length,
    same: a[1] === a[1],
  };
  if (env.event === "write") {
    a[0] = "replaced";
    a.length = 2;
    out.written = [a[0], a[1].n, a[2], a.length];
    kept = null;
  }
  return { args: [out] };
});`, withPool(1))

	d := mustDecide(t, p, eventEnv("s1", "read", `[ "room" , {"n":[1,{"x":"a,]}\""}]} ,3 ]`))
	var got []map[string]any
	if err := json.Unmarshal(d.Args, &got); err != nil {
		t.Fatalf("args %s: %v", d.Args, err)
	}
	o := got[0]
	if o["first"] != "room" || o["len"] != 3.0 || o["isArray"] != true || o["spread"] != 3.0 || o["same"] != true {
		t.Errorf("read: %s", d.Args)
	}
	if o["json"] != `["room",{"n":[1,{"x":"a,]}\""}]},3]` {
		t.Errorf("JSON.stringify(env.args) = %v", o["json"])
	}

	// The array kept from the call above, read in another call.
	d = mustDecide(t, p, eventEnv("s2", "later", `["other"]`))
	if string(d.Args) != `[{"n":[1,{"x":"a,]}\""}]},3,3]` {
		t.Errorf("kept args read later = %s", d.Args)
	}

	d = mustDecide(t, p, eventEnv("s3", "write", `["a",{"n":2},"c"]`))
	if err := json.Unmarshal(d.Args, &got); err != nil {
		t.Fatalf("args %s: %v", d.Args, err)
	}
	if w, _ := json.Marshal(got[0]["written"]); string(w) != `["replaced",2,null,2]` {
		t.Errorf("after writes: %s", w)
	}
}

// TestArgsObjectsKept: the object arguments a call reads, the first of
// which lives in the envelope object's allocation, keep their own call's
// values when a script keeps them and reads them in a later call.
func TestArgsObjectsKept(t *testing.T) {
	p := loadSource(t, `
let kept = null;
hubd.on("event", (env) => {
  const now = [env.args[0].a, env.args[1].b];
  const before = kept && [kept[0].a, kept[1].b, kept[0] === kept[1]];
  kept = [env.args[0], env.args[1]];
  return { args: [now, before] };
});`, withPool(1))
	d := mustDecide(t, p, eventEnv("s1", "x", `[{"a":1},{"b":2}]`))
	if string(d.Args) != `[[1,2],null]` {
		t.Fatalf("first call: %s", d.Args)
	}
	d = mustDecide(t, p, eventEnv("s2", "x", `[{"a":3},{"b":4}]`))
	if string(d.Args) != `[[3,4],[1,2,false]]` {
		t.Fatalf("second call: %s", d.Args)
	}
}

// TestArgsEmptyAndBad: an empty array reads as one; bad JSON throws when
// env.args is read, as a parse of it does.
func TestArgsEmptyAndBad(t *testing.T) {
	p := loadSource(t, `hubd.on("event", (env) => ({ args: [env.args.length] }));`, withPool(1))
	if d := mustDecide(t, p, eventEnv("s", "x", ` [ ] `)); string(d.Args) != `[0]` {
		t.Errorf("empty args: %s", d.Args)
	}
	for _, bad := range []string{`[1,]`, `[1`, `{"a":1`, `["a]`, `[1]]`, `[,1]`} {
		if _, err := call(t, p, eventEnv("s", "x", bad)); err == nil {
			t.Errorf("args %s: no error", bad)
		}
	}
}

// FuzzScanArray: scanArray never panics, and on a valid JSON array it
// finds the elements encoding/json finds.
func FuzzScanArray(f *testing.F) {
	for _, s := range []string{`[]`, ` [1, "a,b", {"k":[2,3]}, [[]], null ] `, `["\"\\", "]"]`, `[1,]`, `[`, `]`, `{}`, `[{"a":"}"}]`, `["a\\"]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, n, cost, ok := scanArray(b, nil, 0)
		elems, n2, _, ok2 := scanArray(b, nil, len(b))
		if ok != ok2 || n != n2 || (ok && len(elems) != n) {
			t.Fatalf("counting and collecting disagree: %v %d, %v %d", ok, n, ok2, n2)
		}
		var want []json.RawMessage
		if json.Unmarshal(b, &want) != nil || want == nil {
			return
		}
		if !ok {
			t.Fatalf("%q: not split, but it is a JSON array", b)
		}
		if len(elems) != len(want) {
			t.Fatalf("%q: %d elements, want %d", b, len(elems), len(want))
		}
		for i := range want {
			if !bytes.Equal(elems[i], bytes.TrimSpace(want[i])) {
				t.Fatalf("%q: element %d is %q, want %q", b, i, elems[i], want[i])
			}
		}
		if cost < valueCost+arrayCost+int64(n)*valueCost {
			t.Fatalf("%q: cost %d is less than its elements'", b, cost)
		}
	})
}
