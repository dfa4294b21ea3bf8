package process

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/hubd/hubd/internal/schematest"
)

// TestSchema: the process SDK's envelope reads every field of the
// envelope schema and its decision writes exactly the fields of the
// decision schema.
func TestSchema(t *testing.T) {
	env := Envelope{
		V: 1, Hook: HookEvent, Namespace: "/", Socket: Socket{ID: "a", Rooms: []string{}, Data: json.RawMessage(`{}`)},
		Handshake: &Handshake{Auth: json.RawMessage(`{}`), Query: map[string]string{}, Headers: map[string]string{}, Address: "::1"},
		Recovered: true, Event: "e", Args: json.RawMessage(`[]`), Ack: true, Rooms: []string{"r"}, Reason: "r",
	}
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range [][]string{nil, {"socket"}, {"handshake"}} {
		if got, want := schematest.Keys(t, b, path...), schematest.Props(t, "envelope.schema.json", path...); !slices.Equal(got, want) {
			t.Errorf("envelope %v: the SDK has %v, the schema %v", path, got, want)
		}
	}

	d := Reply("x").WithData(1).WithEvent("e").WithSocketData(map[string]any{})
	d.Reason, d.Args = "why", json.RawMessage(`[]`)
	d.Rooms, d.Except, d.Join = []string{"r"}, []string{"x"}, []string{"j"}
	d.ToSender = new(true)
	b, err = json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := schematest.Keys(t, b), schematest.Props(t, "decision.schema.json"); !slices.Equal(got, want) {
		t.Errorf("decision: the SDK writes %v, the schema has %v", got, want)
	}
}
