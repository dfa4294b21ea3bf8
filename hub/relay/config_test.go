package relay_test

import (
	"strings"
	"testing"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/relay"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  relay.Config
		want []string // each must appear in the error; none means valid
	}{
		{"zero", relay.Config{}, nil},
		{"names and patterns", relay.Config{Namespaces: []relay.Namespace{
			{Name: "/"}, {Name: "/chat", Route: relay.RouteNone, Echo: true},
			{Pattern: `/team-\d+`, Route: relay.RouteNamespace},
		}}, nil},
		{"every problem at once", relay.Config{
			MaxRoomName: -1, MaxRoomsPerCall: -2, MaxRoomsPerSocket: -3,
			Namespaces: []relay.Namespace{
				{},
				{Name: "/a", Pattern: "/b"},
				{Name: "chat"},
				{Name: "/x,y"},
				{Name: "/dup"}, {Name: "/dup"},
				{Pattern: "(unclosed"},
				{Pattern: "/p"}, {Pattern: "/p"},
				{Name: "/r", Route: "everyone"},
			},
		}, []string{
			"max_room_name is -1",
			"max_rooms_per_call is -2",
			"max_rooms_per_socket is -3",
			"namespaces[0]: set a name or a pattern",
			"namespaces[1]: set a name or a pattern, not both",
			`namespaces[2]: name "chat" must start with /`,
			`namespaces[3]: name "/x,y" may not hold a comma`,
			`namespaces[5]: name "/dup" already given in namespaces[4]`,
			`namespaces[6]: pattern "(unclosed": error parsing regexp`,
			`namespaces[8]: pattern "/p" already given in namespaces[7]`,
			`namespaces[9]: route "everyone": use "rooms", "namespace" or "none"`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate accepted the config")
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n%s", w, msg)
				}
			}
			if n := strings.Count(msg, "\n") + 1; n != len(tc.want) {
				t.Errorf("%d problems reported, want %d:\n%s", n, len(tc.want), msg)
			}
		})
	}
}

// Attach refuses an invalid config and then changes nothing.
func TestAttachInvalid(t *testing.T) {
	srv := hub.New(hub.Options{})
	err := relay.Attach(srv, relay.Config{Namespaces: []relay.Namespace{{Name: "/ok"}, {Pattern: "["}}})
	if err == nil {
		t.Fatal("Attach accepted an invalid config")
	}
	for _, n := range srv.Namespaces() {
		if n.Name() == "/ok" {
			t.Fatal("Attach created a namespace of an invalid config")
		}
	}
}
