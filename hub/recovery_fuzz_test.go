package hub

import (
	"encoding/json"
	"testing"
)

// FuzzRecoveryAuth feeds recoveryAuth what a client may put in its
// CONNECT's auth. It must never panic; when it finds a session id, the
// auth it returns holds neither the id nor the offset (they must not reach
// middlewares or FetchSockets), and every other key is kept.
func FuzzRecoveryAuth(f *testing.F) {
	for _, seed := range []string{
		`{}`, `null`, `[]`, `"pid"`, `{"pid":"abc","offset":"x.1"}`, `{"pid":"abc"}`,
		`{"pid":1,"offset":"x"}`, `{"pid":"a","offset":2}`, `{"pid":"","offset":""}`,
		`{"token":"t","pid":"a","offset":"b","pid":"c"}`, `{"offset":"o"}`, `{"pid":"\u0000"}`,
		`{"a":{"pid":"nested"}}`, `{"pid":"a"`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, auth []byte) {
		pid, _, rest, ok := recoveryAuth(json.RawMessage(auth))
		if ok && pid == "" {
			t.Fatal("a session id found empty")
		}
		var in, out map[string]json.RawMessage
		if json.Unmarshal(auth, &in) != nil {
			return
		}
		if err := json.Unmarshal(rest, &out); err != nil {
			t.Fatalf("auth %s became %s: %v", auth, rest, err)
		}
		if _, has := out["pid"]; has {
			t.Fatalf("pid left in %s", rest)
		}
		if _, has := out["offset"]; has {
			t.Fatalf("offset left in %s", rest)
		}
		for k := range in {
			if _, kept := out[k]; !kept && k != "pid" && k != "offset" {
				t.Fatalf("key %q of %s lost: %s", k, auth, rest)
			}
		}
	})
}
