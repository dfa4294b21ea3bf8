//go:build !wasip1

package main

import (
	"testing"

	"github.com/hubd/hubd/host"
	hubd "github.com/hubd/hubd/sdk/wasm/go"
	"github.com/hubd/hubd/sdk/wire"
)

// The policy's handlers run natively here through hubd.Dispatch; the same
// table runs through the Wasm runtime in host/wasm.
func TestPolicyNatively(t *testing.T) {
	cases := []struct {
		env  host.Envelope
		want string
	}{
		{host.Envelope{Hook: host.HookConnect, Socket: host.Socket{ID: "s"}, Handshake: &host.Handshake{}}, `{"action":"deny","reason":"token required"}`},
		{host.Envelope{Hook: host.HookConnect, Socket: host.Socket{ID: "s"}, Handshake: &host.Handshake{Auth: wire.Raw(`{"token":"bob"}`)}}, `{"socket_data":{"user":"bob"}}`},
		{host.Envelope{Hook: host.HookJoin, Socket: host.Socket{ID: "s"}, Rooms: []string{"lobby", "private:x"}}, `{"action":"deny","reason":"private room"}`},
		{host.Envelope{Hook: host.HookJoin, Socket: host.Socket{ID: "s"}, Rooms: []string{"lobby"}}, ``},
		{host.Envelope{Hook: host.HookEvent, Socket: host.Socket{ID: "s"}, Event: "shout", Args: wire.Raw(`["héllo",1]`)}, `{"args":["HÉLLO",1]}`},
		{host.Envelope{Hook: host.HookEvent, Socket: host.Socket{ID: "s"}, Event: "ping", Args: wire.Raw(`[]`)}, `{"action":"reply","reply":["pong"]}`},
		{host.Envelope{Hook: host.HookEvent, Socket: host.Socket{ID: "s"}, Event: "spam"}, `{"action":"drop"}`},
		{host.Envelope{Hook: host.HookEvent, Socket: host.Socket{ID: "s"}, Event: "alert"}, `{"rooms":["alerts"]}`},
		{host.Envelope{Hook: host.HookEvent, Socket: host.Socket{ID: "s"}, Event: "chat"}, ``},
	}
	for _, c := range cases {
		out, err := hubd.Dispatch(c.env.AppendJSON(nil))
		if err != nil || string(out) != c.want {
			t.Errorf("%s %s: got %s (%v), want %s", c.env.Hook, c.env.Event, out, err, c.want)
		}
	}
}
