package wasm

import (
	"strings"
	"testing"

	"github.com/hubd/hubd/internal/decisiontest"
)

// FuzzGuestDecision: a guest's output, whatever its bytes, never panics
// the host; the fast path decides as the host core does (compareDecision,
// as FuzzParseDecision); and a decision it accepts passes
// host.CheckDecision, with JSON values that are valid and UTF-8.
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
		decisiontest.Check(t, d, b)
	})
}
