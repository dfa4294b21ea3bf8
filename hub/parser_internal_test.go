package hub

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/hubd/hubd/hub/internal/sio"
)

func TestParseParser(t *testing.T) {
	for _, tc := range []struct {
		name string
		want Parser
		ok   bool
	}{{"", ParserJSON, true}, {"json", ParserJSON, true}, {"msgpack", ParserMsgpack, true}, {"MsgPack", ParserJSON, false}, {"cbor", ParserJSON, false}} {
		got, err := ParseParser(tc.name)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("ParseParser(%q) = %v, %v", tc.name, got, err)
		}
		if tc.ok && tc.name != "" && got.String() != tc.name {
			t.Errorf("%v.String() = %q", got, got.String())
		}
	}
}

func TestUnknownParserServesJSON(t *testing.T) {
	var log bytes.Buffer
	o := Options{Parser: Parser(9), Logger: slog.New(slog.NewTextHandler(&log, nil))}.withDefaults()
	if o.Parser != ParserJSON || !bytes.Contains(log.Bytes(), []byte("unknown parser")) {
		t.Fatalf("Parser %v, log %q", o.Parser, log.String())
	}
}

// Socket.IO v2 clients are not served with the msgpack parser: theirs
// writes another format.
func TestMsgpackParserTurnsEIO3Off(t *testing.T) {
	var log bytes.Buffer
	o := Options{Parser: ParserMsgpack, AllowEIO3: true, Logger: slog.New(slog.NewTextHandler(&log, nil))}.withDefaults()
	if o.AllowEIO3 || !bytes.Contains(log.Bytes(), []byte("AllowEIO3 is off")) {
		t.Fatalf("AllowEIO3 %v, log %q", o.AllowEIO3, log.String())
	}
	if o := (Options{AllowEIO3: true}).withDefaults(); !o.AllowEIO3 {
		t.Fatal("AllowEIO3 turned off with the json parser")
	}
}

// A packet's wire form is built once, for the first parser that asks; a
// server of the other parser still gets its own form.
func TestPacketWirePerParser(t *testing.T) {
	args, _ := NewArgs("x", []byte{1})
	p := NewPacket("/", "ev", args)
	j := p.wire(ParserJSON)
	if len(j) != 2 || j[0].Binary || !bytes.HasPrefix(j[0].Data, []byte(`451-["ev","x",`)) {
		t.Fatalf("json frames %v", j)
	}
	if again := p.wire(ParserJSON); &again[0] != &j[0] {
		t.Fatal("json frames built twice")
	}
	for range 2 {
		m := p.wire(ParserMsgpack)
		if len(m) != 1 || !m[0].Binary {
			t.Fatalf("msgpack frames %v", m)
		}
		q, atts, err := sio.DecodeMsgpack(m[0].Data, 0)
		if err != nil || q.Event != "ev" || string(q.Args) != `"x",{"_placeholder":true,"num":0}` || len(atts) != 1 {
			t.Fatalf("msgpack frame %x: %+v %v", m[0].Data, q, err)
		}
	}
}
