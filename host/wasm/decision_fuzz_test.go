package wasm

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzGuestDecision: a guest's output, whatever its bytes, never panics
// the host; the fast path decides as the host core does (compareDecision,
// as FuzzParseDecision); and a decision it accepts passes
// host.Decision.Check, with JSON values that are valid and UTF-8.
func FuzzGuestDecision(f *testing.F) {
	for _, s := range []string{
		``, `null`, `{}`, ` { } `, `{"action":"deny","reason":"no","data":{"code":1}}`,
		`{"action":"reply","reply":[1,"x"]}`, `{"action":"reply"}`,
		`{"args":["a",{"b":null}],"event":"e","rooms":["r"],"except":["x"],"to_sender":false}`,
		`{"socket_data":{"user":"ann"},"join":["a","b"]}`, `{"action":"explode"}`, `{"args":{}}`,
		`{"Action":"deny"}`, `{"rooms":[""]}`, `{"args":null}`, `{"reason":"a\"b"}`,
		"{\"args\":[\"\xe2\x82\"]}", "{\"reason\":\"\xff\"}", `{"args":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`,
		`{"args":["\ud800"]}`, `{"args":[1e400,-0.0,1E+2]}`, `{"to_sender":true,"to_sender":false}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		compareDecision(t, b)
		d, err := parseDecision(b)
		if err != nil {
			return
		}
		if err := d.Check(); err != nil {
			t.Fatalf("accepted %q fails Check: %v", b, err)
		}
		for name, raw := range map[string]json.RawMessage{"args": d.Args, "reply": d.Reply, "data": d.Data, "socket_data": d.SocketData} {
			if raw != nil && (!json.Valid(raw) || !utf8.Valid(raw)) {
				t.Fatalf("%s %q is not valid JSON in UTF-8", name, raw)
			}
		}
		for _, raw := range []json.RawMessage{d.Args, d.Reply} {
			if raw != nil && bytes.TrimSpace(raw)[0] != '[' {
				t.Fatalf("args or reply %q is not an array", raw)
			}
		}
	})
}
