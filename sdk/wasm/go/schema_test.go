package hubd

import (
	"slices"
	"testing"

	"github.com/hubd/hubd/internal/schematest"
)

// TestDecisionSchema: a decision with every field set is written with
// exactly the fields of the decision schema.
func TestDecisionSchema(t *testing.T) {
	d := Decision{
		Action: ActionReply, Reason: "why", Data: Int(1), Event: "e", Args: Array(), Rooms: []string{"r"},
		Except: []string{"x"}, ToSender: new(true), Reply: Array(String("x")), SocketData: Object(), Join: []string{"j"},
	}
	if got, want := schematest.Keys(t, d.AppendJSON(nil)), schematest.Props(t, "decision.schema.json"); !slices.Equal(got, want) {
		t.Errorf("decision: the SDK writes %v, the schema has %v", got, want)
	}
}
