// Package decisiontest holds the property every runtime's decision parser
// must keep, for their fuzz targets.
package decisiontest

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/sdk/wire"
)

// Check fails t unless d, a decision a runtime accepted, passes
// host.CheckDecision, its JSON values are valid JSON in UTF-8, and its args
// and reply are arrays. what names the plugin output it came from.
func Check(t *testing.T, d *host.Decision, what any) {
	t.Helper()
	if err := host.CheckDecision(d); err != nil {
		t.Fatalf("accepted %q fails CheckDecision: %v", what, err)
	}
	for name, raw := range map[string]wire.Raw{"args": d.Args, "reply": d.Reply, "data": d.Data, "socket_data": d.SocketData} {
		if raw != nil && (!json.Valid(raw) || !utf8.Valid(raw)) {
			t.Fatalf("%s %q is not valid JSON in UTF-8", name, raw)
		}
	}
	for _, raw := range []wire.Raw{d.Args, d.Reply} {
		if raw != nil && bytes.TrimSpace(raw)[0] != '[' {
			t.Fatalf("args or reply %q is not an array", raw)
		}
	}
}
