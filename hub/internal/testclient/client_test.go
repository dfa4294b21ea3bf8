package testclient

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestParsePacket(t *testing.T) {
	cases := []struct {
		in   string
		want Packet
	}{
		{`40{"sid":"x"}`, Packet{Type: Connect, Nsp: "/", ID: NoID, Data: []byte(`{"sid":"x"}`)}},
		{`40/chat,{"sid":"x"}`, Packet{Type: Connect, Nsp: "/chat", ID: NoID, Data: []byte(`{"sid":"x"}`)}},
		{`41/chat,`, Packet{Type: Disconnect, Nsp: "/chat", ID: NoID}},
		{`41`, Packet{Type: Disconnect, Nsp: "/", ID: NoID}},
		{`42["ev",1,{"a":[2]}]`, Packet{Type: Event, Nsp: "/", ID: NoID, Data: []byte(`["ev",1,{"a":[2]}]`), Event: "ev", Args: raws(`1`, `{"a":[2]}`)}},
		{`42/x,12[7]`, Packet{Type: Event, Nsp: "/x", ID: 12, Data: []byte(`[7]`), Event: "7", Args: raws()}},
		{`43/x,5[]`, Packet{Type: Ack, Nsp: "/x", ID: 5, Data: []byte(`[]`), Args: raws()}},
		{`44{"message":"m"}`, Packet{Type: ConnectError, Nsp: "/", ID: NoID, Data: []byte(`{"message":"m"}`)}},
		{`452-/x,3["f",{"_placeholder":true,"num":0}]`, Packet{Type: BinaryEvent, Nsp: "/x", ID: 3,
			Data: []byte(`["f",{"_placeholder":true,"num":0}]`), Event: "f", Args: raws(`{"_placeholder":true,"num":0}`),
			Attachments: make([][]byte, 2)}},
	}
	for _, c := range cases {
		got, err := parsePacket(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		c.want.Text = c.in
		if !reflect.DeepEqual(*got, c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.in, *got, c.want)
		}
	}
	for _, bad := range []string{`4`, `49`, `42["x"`, `45["x"]`, `42{}`, `42[]`} {
		if _, err := parsePacket(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestEncodeArgs(t *testing.T) {
	b, atts, err := EncodeArgs("ev", []byte{1}, map[string]any{"b": []byte{2}, "a": []any{[]byte{3}, "<&>"}})
	if err != nil {
		t.Fatal(err)
	}
	want := `["ev",{"_placeholder":true,"num":0},{"a":[{"_placeholder":true,"num":1},"<&>"],"b":{"_placeholder":true,"num":2}}]`
	if string(b) != want || !reflect.DeepEqual(atts, [][]byte{{1}, {3}, {2}}) {
		t.Errorf("got %s %v", b, atts)
	}
}

func raws(s ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(s))
	for i, x := range s {
		out[i] = json.RawMessage(x)
	}
	return out
}
