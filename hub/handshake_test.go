package hub

import (
	"encoding/json"
	"testing"
)

func TestHandshakeUnmarshalNodeShape(t *testing.T) {
	// As a Node socket.io node describes a socket in a fetchSockets answer:
	// a repeated header and a repeated query parameter come as arrays.
	raw := `{"headers":{"host":"example.org:3000","set-cookie":["a=1","b=2"],"x-n":"7"},
		"time":"Thu Nov 26 2026 06:00:00 GMT+0000 (Coordinated Universal Time)","address":"::1",
		"xdomain":true,"secure":false,"issued":1795000000000,"url":"/socket.io/?EIO=4&transport=websocket&t=1&t=2",
		"query":{"EIO":"4","t":["1","2"]},"auth":{"token":"x"}}`
	var h Handshake
	if err := json.Unmarshal([]byte(raw), &h); err != nil {
		t.Fatal(err)
	}
	if h.Host != "example.org:3000" || h.Address != "::1" || !h.XDomain || h.Issued != 1795000000000 {
		t.Errorf("scalar fields: %+v", h)
	}
	if got := h.Headers.Values("Set-Cookie"); len(got) != 2 || got[1] != "b=2" {
		t.Errorf("set-cookie = %q, want both values", got)
	}
	if got := h.Headers.Get("X-N"); got != "7" {
		t.Errorf("x-n = %q", got)
	}
	if got := h.Query()["t"]; len(got) != 2 || got[0] != "1" || got[1] != "2" {
		t.Errorf("query t = %q, want [1 2]", got)
	}
	if string(h.Auth) != `{"token":"x"}` {
		t.Errorf("auth = %s", h.Auth)
	}
	// And back: the shape Node reads.
	out, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	_ = json.Unmarshal(out, &back)
	if back["headers"].(map[string]any)["host"] != "example.org:3000" || back["query"].(map[string]any)["EIO"] != "4" {
		t.Errorf("marshalled back: %s", out)
	}
}
