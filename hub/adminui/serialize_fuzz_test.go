package adminui

import (
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"
)

// FuzzWithAdmin: whatever object the application's data marshals to, the
// viewed data is the same object with _admin added, still valid JSON;
// anything else is left alone.
func FuzzWithAdmin(f *testing.F) {
	for _, seed := range []string{`{}`, `{"a":1}`, ` { "x" : [1,{"y":null}] } `, `[]`, `"s"`, `null`, `{"_admin":5}`, `{`} {
		f.Add(seed, "abcdefghijkl", "websocket")
	}
	f.Fuzz(func(t *testing.T, data, cid, transport string) {
		if !json.Valid([]byte(data)) {
			return // the hub marshals the data: it is always valid
		}
		out := withAdmin(json.RawMessage(data), cid, transport)
		if !json.Valid(out) {
			t.Fatalf("%q gave invalid JSON %q", data, out)
		}
		var in map[string]any
		if json.Unmarshal([]byte(data), &in) != nil || in == nil {
			if string(out) != data {
				t.Fatalf("%q (not an object) became %q", data, out)
			}
			return
		}
		var got map[string]any
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		admin, _ := got["_admin"].(map[string]any)
		if admin == nil || utf8.ValidString(transport) && admin["transport"] != transport {
			t.Fatalf("%q: _admin %v", out, got["_admin"])
		}
		delete(got, "_admin")
		delete(in, "_admin")
		if !reflect.DeepEqual(got, in) {
			t.Fatalf("%q became %q", data, out)
		}
	})
}

// FuzzEventJSON: an event's report is [nsp, id, [name, ...args], date]
// for any arguments array, valid JSON whatever the strings hold.
func FuzzEventJSON(f *testing.F) {
	for _, seed := range []string{`[]`, `[1]`, `[ "a" , {"_placeholder":true,"num":0} ]`, `[ ]`, `[[],{}]`} {
		f.Add("/chat", "id1", "message", seed)
	}
	f.Add("/\u2028", "\xff", "<&>", `["\u0000"]`)
	f.Fuzz(func(t *testing.T, nsp, id, name, args string) {
		var want []json.RawMessage
		if json.Unmarshal([]byte(args), &want) != nil {
			return // the hub's Args are always a valid array
		}
		out := eventJSON(nsp, id, name, json.RawMessage(args), "2026-01-01T00:00:00.000Z")
		var got []json.RawMessage
		if err := json.Unmarshal(out, &got); err != nil || len(got) != 4 {
			t.Fatalf("%q: %v", out, err)
		}
		var list []json.RawMessage
		if err := json.Unmarshal(got[2], &list); err != nil || len(list) != len(want)+1 {
			t.Fatalf("%q: the event %s, want its name and %d arguments", out, got[2], len(want))
		}
		var gotName string
		_ = json.Unmarshal(list[0], &gotName)
		var wantName string
		b, _ := json.Marshal(name)
		_ = json.Unmarshal(b, &wantName)
		if gotName != wantName {
			t.Fatalf("name %q, want %q", gotName, wantName)
		}
	})
}
