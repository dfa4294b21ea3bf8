// Package decisiontest holds the property every runtime's decision parser
// must keep, for their fuzz targets.
package decisiontest

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/hubd/hubd/host"
)

// Check fails t unless d, a decision a runtime accepted, passes
// Decision.Check, its JSON values are valid JSON in UTF-8, and its args
// and reply are arrays. what names the plugin output it came from.
func Check(t *testing.T, d *host.Decision, what any) {
	t.Helper()
	if err := d.Check(); err != nil {
		t.Fatalf("accepted %q fails Check: %v", what, err)
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
}
