package process

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	"github.com/hubd/hubd/internal/schematest"
	"github.com/hubd/hubd/sdk/wire"
)

// TestSchema: the process SDK's envelope reads every field of the
// envelope schema and its decision writes exactly the fields of the
// decision schema.
func TestSchema(t *testing.T) {
	env := Envelope{wire.Envelope{
		V: 1, Hook: HookEvent, Namespace: "/", Socket: Socket{ID: "a", Rooms: []string{}, Data: Raw(`{}`)},
		Handshake: &Handshake{Auth: Raw(`{}`), Query: map[string]string{}, Headers: map[string]string{}, Address: "::1"},
		Recovered: true, Event: "e", Args: Raw(`[]`), Ack: true, Rooms: []string{"r"}, Reason: "r",
	}}
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
	d.Reason, d.Args = "why", Raw(`[]`)
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

// TestJSONAsWire: the SDK's envelope reads what the host writes
// (wire.Envelope.AppendJSON) field for field, and its decision is written
// as before, byte for byte, the builders' pending error aside.
func TestJSONAsWire(t *testing.T) {
	src := wire.Envelope{
		Hook: HookConnect, Namespace: "/chat", Socket: Socket{ID: "s1", Rooms: []string{"a"}, Data: Raw(`{"u":1}`)},
		Handshake: &Handshake{Auth: Raw(`{"token":"t"}`), Query: map[string]string{"q": "1"}, Headers: map[string]string{"x-a": "<b>"}, Address: "::1"},
		Recovered: true, Event: "e", Args: Raw(`["x",{"y":[1]}]`), Ack: true, Rooms: []string{"r"}, Reason: "bye",
	}
	var got Envelope
	if err := json.Unmarshal(src.AppendJSON(nil), &got); err != nil {
		t.Fatal(err)
	}
	src.V = wire.Version
	if !reflect.DeepEqual(got.Envelope, src) || !reflect.DeepEqual(*got.Handshake, *src.Handshake) {
		t.Errorf("read %+v %+v, the host wrote %+v %+v", got.Envelope, *got.Handshake, src, *src.Handshake)
	}

	d := Deny("no").WithData(map[string]int{"code": 1}).WithEvent("e").WithArgs("a", 1).WithRooms("r").
		WithExcept("x").WithToSender(false).WithReply(true).WithSocketData(Raw(`{"u":2}`)).WithJoin("j")
	b, err := d.marshal()
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"action":"deny","reason":"no","data":{"code":1},"event":"e","args":["a",1],"rooms":["r"],"except":["x"],"to_sender":false,"reply":[true],"socket_data":{"u":2},"join":["j"]}`
	if string(b) != want {
		t.Errorf("decision written as\n%s\nwant\n%s", b, want)
	}
	if b, err := Allow().marshal(); err != nil || string(b) != `{"action":"allow"}` {
		t.Errorf("Allow() written as %s, %v", b, err)
	}
	if _, err := Allow().WithData(func() {}).marshal(); err == nil {
		t.Error("a decision whose data cannot be encoded was sent")
	}
}
