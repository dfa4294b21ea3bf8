package process

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// jsonFields lists the JSON names of a struct's fields, sorted, without
// those kept out of the JSON.
func jsonFields(ty reflect.Type) []string {
	var names []string
	for i := range ty.NumField() {
		name := strings.Split(ty.Field(i).Tag.Get("json"), ",")[0]
		if name != "-" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// schemaObject is an object of sdk/schema/envelope.schema.json.
type schemaObject struct {
	Properties map[string]json.RawMessage `json:"properties"`
}

func (o schemaObject) names() []string {
	var names []string
	for k := range o.Properties {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// TestEnvelopeMatchesSchema keeps the SDK's Envelope, Socket and Handshake
// the fields of the authors' contract, no more, no fewer.
func TestEnvelopeMatchesSchema(t *testing.T) {
	b, err := os.ReadFile("../schema/envelope.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var top schemaObject
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		ty   reflect.Type
		raw  json.RawMessage // nil: the top level
	}{
		{"envelope", reflect.TypeFor[Envelope](), nil},
		{"socket", reflect.TypeFor[Socket](), top.Properties["socket"]},
		{"handshake", reflect.TypeFor[Handshake](), top.Properties["handshake"]},
	} {
		obj := top
		if c.raw != nil {
			obj = schemaObject{}
			if err := json.Unmarshal(c.raw, &obj); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
		}
		if got, want := jsonFields(c.ty), obj.names(); !slices.Equal(got, want) {
			t.Errorf("%s: the SDK has %v\nthe schema has %v", c.name, got, want)
		}
	}
}

// TestEnvelopeRecovered: "recovered" decodes to true when hubd sends it and
// to false when it is absent, as it is for every socket not recovered.
func TestEnvelopeRecovered(t *testing.T) {
	for raw, want := range map[string]bool{
		`{"v":1,"hook":"connect","ns":"/","socket":{"id":"s","rooms":[],"data":{"user":"u"}},"handshake":{"auth":{},"query":{},"headers":{},"address":""},"recovered":true}`: true,
		`{"v":1,"hook":"connect","ns":"/","socket":{"id":"s","rooms":[]},"handshake":{"auth":{},"query":{},"headers":{},"address":""}}`:                                      false,
	} {
		var e Envelope
		if err := json.Unmarshal([]byte(raw), &e); err != nil {
			t.Fatal(err)
		}
		if e.Recovered != want {
			t.Errorf("%s: Recovered %v", raw, e.Recovered)
		}
	}
}
