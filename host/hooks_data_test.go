package host

import (
	"encoding/json"
	"testing"

	"github.com/hubd/hubd/sdk/wire"
)

// TestConnectErrorDataIsRawMessage: a refusal's data reaches the hub as
// json.RawMessage, the type the hub writes through as JSON, not as the
// decision's wire.Raw.
func TestConnectErrorDataIsRawMessage(t *testing.T) {
	ce := connectError(&Decision{Action: Deny, Reason: "no", Data: wire.Raw(`{"code":1}`)})
	raw, ok := ce.Data.(json.RawMessage)
	if !ok || string(raw) != `{"code":1}` || ce.Message != "no" {
		t.Errorf("connect error %q with data %T %s", ce.Message, ce.Data, ce.Data)
	}
	if ce := connectError(&Decision{Action: Deny}); ce.Data != nil || ce.Message != "Forbidden" {
		t.Errorf("connect error %q with data %v, want Forbidden without data", ce.Message, ce.Data)
	}
}
