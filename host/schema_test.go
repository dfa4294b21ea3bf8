package host

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hubd/hubd/sdk/wire"
)

// schemaProps reads the top-level property names of a schema in sdk/schema.
func schemaProps(t *testing.T, file string) (map[string]json.RawMessage, []string) {
	t.Helper()
	b, err := os.ReadFile("../sdk/schema/" + file)
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var names []string
	for k := range s.Properties {
		names = append(names, k)
	}
	slices.Sort(names)
	return s.Properties, names
}

// TestDecisionSchemaMatchesDecision keeps the authors' contract and the
// host's Decision the same set of fields.
func TestDecisionSchemaMatchesDecision(t *testing.T) {
	_, names := schemaProps(t, "decision.schema.json")
	var fields []string
	ty := reflect.TypeFor[Decision]()
	for i := range ty.NumField() {
		fields = append(fields, strings.Split(ty.Field(i).Tag.Get("json"), ",")[0])
	}
	slices.Sort(fields)
	if !slices.Equal(names, fields) {
		t.Fatalf("schema properties %v\nDecision fields   %v", names, fields)
	}
}

// TestEnvelopeSchemaMatchesJSON checks that a full envelope's JSON has
// exactly the schema's properties, socket and handshake included.
func TestEnvelopeSchemaMatchesJSON(t *testing.T) {
	props, names := schemaProps(t, "envelope.schema.json")
	env := &Envelope{
		Hook: HookEvent, Namespace: "/", Socket: Socket{ID: "a", Rooms: []string{}, Data: wire.Raw(`{}`)},
		Handshake: &Handshake{Auth: wire.Raw(`{}`)}, Recovered: true, Event: "e", Args: wire.Raw(`[]`), Ack: true,
		Rooms: []string{}, Reason: "r",
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal(env.AppendJSON(nil), &got); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, names) {
		t.Fatalf("envelope keys %v\nschema         %v", keys, names)
	}
	for _, sub := range []string{"socket", "handshake"} {
		var schema struct {
			Properties map[string]json.RawMessage `json:"properties"`
		}
		if err := json.Unmarshal(props[sub], &schema); err != nil {
			t.Fatal(err)
		}
		var inner map[string]json.RawMessage
		if err := json.Unmarshal(got[sub], &inner); err != nil {
			t.Fatal(err)
		}
		for k := range inner {
			if _, ok := schema.Properties[k]; !ok {
				t.Errorf("%s.%s is sent but not in the schema", sub, k)
			}
		}
		for k := range schema.Properties {
			if _, ok := inner[k]; !ok {
				t.Errorf("%s.%s is in the schema but not sent", sub, k)
			}
		}
	}
}
