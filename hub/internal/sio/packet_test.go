package sio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// want describes an expected decode result. Nsp "" stands for "/", ID 0 for
// NoID unless HasID is set.
type want struct {
	Type        Type
	Nsp         string
	ID          int64
	HasID       bool
	Attachments int
	Data        string // "" means no payload (nil Data)
	Event       string
	Args        string
}

type decodeCase struct {
	name string
	in   string
	max  int // maxAttachments; 0 means the default used here (10)
	want want
	err  error
}

const (
	ph0 = `{"_placeholder":true,"num":0}`
	ph1 = `{"_placeholder":true,"num":1}`
)

var decodeCases = []decodeCase{
	// CONNECT.
	{name: "connect", in: `0`, want: want{Type: Connect}},
	{name: "connect nsp", in: `0/admin,`, want: want{Type: Connect, Nsp: "/admin"}},
	{name: "connect auth", in: `0{"token":"x"}`, want: want{Type: Connect, Data: `{"token":"x"}`}},
	{name: "connect nsp reply", in: `0/admin,{"sid":"abc"}`, want: want{Type: Connect, Nsp: "/admin", Data: `{"sid":"abc"}`}},
	{name: "connect nsp without comma", in: `0/random`, want: want{Type: Connect, Nsp: "/random"}},
	{name: "connect custom nsp auth", in: `0/custom,{"token":"abc"}`, want: want{Type: Connect, Nsp: "/custom", Data: `{"token":"abc"}`}},
	{name: "connect nested nsp", in: `0/a/b,`, want: want{Type: Connect, Nsp: "/a/b"}},
	{name: "connect root nsp explicit", in: `0/,`, want: want{Type: Connect, Nsp: "/"}},
	{name: "connect root nsp no comma", in: `0/`, want: want{Type: Connect, Nsp: "/"}},
	{name: "connect empty object", in: `0{}`, want: want{Type: Connect, Data: `{}`}},
	{name: "connect array", in: `0[]`, err: ErrInvalidPayload},
	{name: "connect string", in: `0"x"`, err: ErrInvalidPayload},
	{name: "connect null", in: `0null`, err: ErrInvalidPayload},
	{name: "connect bad json", in: `0{`, err: ErrInvalidPayload},
	{name: "connect trailing garbage", in: `0{}x`, err: ErrInvalidPayload},
	{name: "connect nsp array", in: `0/admin,[1]`, err: ErrInvalidPayload},

	// DISCONNECT.
	{name: "disconnect", in: `1`, want: want{Type: Disconnect}},
	{name: "disconnect nsp", in: `1/admin,`, want: want{Type: Disconnect, Nsp: "/admin"}},
	{name: "disconnect nsp without comma", in: `1/custom`, want: want{Type: Disconnect, Nsp: "/custom"}},
	{name: "disconnect payload", in: `1{}`, err: ErrInvalidPayload},
	{name: "disconnect nsp payload", in: `1/admin,{}`, err: ErrInvalidPayload},
	{name: "disconnect array", in: `1[]`, err: ErrInvalidPayload},

	// EVENT.
	{name: "event", in: `2["hi",1]`, want: want{Type: Event, Data: `["hi",1]`, Event: "hi", Args: `1`}},
	{name: "event nsp id", in: `2/admin,13["hi"]`, want: want{Type: Event, Nsp: "/admin", ID: 13, HasID: true, Data: `["hi"]`, Event: "hi"}},
	{name: "event args", in: `2["message",1,"2",{"3":[true]}]`,
		want: want{Type: Event, Data: `["message",1,"2",{"3":[true]}]`, Event: "message", Args: `1,"2",{"3":[true]}`}},
	{name: "event with ack", in: `2456["message-with-ack",1,"2",{"3":[false]}]`,
		want: want{Type: Event, ID: 456, HasID: true, Data: `["message-with-ack",1,"2",{"3":[false]}]`, Event: "message-with-ack", Args: `1,"2",{"3":[false]}`}},
	{name: "event nsp ack", in: `2/chat,4["join","r1"]`, want: want{Type: Event, Nsp: "/chat", ID: 4, HasID: true, Data: `["join","r1"]`, Event: "join", Args: `"r1"`}},
	{name: "event ack id 0", in: `20["x"]`, want: want{Type: Event, ID: 0, HasID: true, Data: `["x"]`, Event: "x"}},
	{name: "event ack id leading zeros", in: `2007["x"]`, want: want{Type: Event, ID: 7, HasID: true, Data: `["x"]`, Event: "x"}},
	{name: "event ack id max safe int", in: `29007199254740991["x"]`, want: want{Type: Event, ID: 9007199254740991, HasID: true, Data: `["x"]`, Event: "x"}},
	{name: "event numeric name", in: `2[1]`, want: want{Type: Event, Data: `[1]`, Event: "1"}},
	{name: "event numeric name args", in: `2[42,"a"]`, want: want{Type: Event, Data: `[42,"a"]`, Event: "42", Args: `"a"`}},
	{name: "event negative float name", in: `2[-1.5e3,"x"]`, want: want{Type: Event, Data: `[-1.5e3,"x"]`, Event: "-1.5e3", Args: `"x"`}},
	{name: "event zero name", in: `2[0]`, want: want{Type: Event, Data: `[0]`, Event: "0"}},
	{name: "event empty name", in: `2["",1]`, want: want{Type: Event, Data: `["",1]`, Event: "", Args: `1`}},
	{name: "event escaped name", in: `2["\u0068i"]`, want: want{Type: Event, Data: `["\u0068i"]`, Event: "hi"}},
	{name: "event unicode name", in: `2["héllo ☃"]`, want: want{Type: Event, Data: `["héllo ☃"]`, Event: "héllo ☃"}},
	// Invalid UTF-8 anywhere is refused, escaped lone surrogates are not
	// (they are valid JSON text, read as U+FFFD).
	{name: "invalid utf-8 event name", in: "2[\"\x87\"]", err: ErrInvalidUTF8},
	{name: "invalid utf-8 argument", in: "2[\"a\",\"\xff\"]", err: ErrInvalidUTF8},
	{name: "invalid utf-8 cut character", in: "2[\"a\",\"\xe2\x82\"]", err: ErrInvalidUTF8},
	{name: "invalid utf-8 namespace", in: "2/\xc0\xaf,[\"a\"]", err: ErrInvalidUTF8},
	{name: "invalid utf-8 connect auth", in: "0{\"t\":\"\xed\xa0\x80\"}", err: ErrInvalidUTF8},
	{name: "invalid utf-8 ack", in: "3/a,1[\"\xff\"]", err: ErrInvalidUTF8},
	{name: "event escaped lone surrogate", in: `2["\ud800"]`, want: want{Type: Event, Data: `["\ud800"]`, Event: "\ufffd"}},
	{name: "event tricky strings", in: `2["a\"b,c]",{"k":"]\\"},"[,{"]`,
		want: want{Type: Event, Data: `["a\"b,c]",{"k":"]\\"},"[,{"]`, Event: `a"b,c]`, Args: `{"k":"]\\"},"[,{"`}},
	{name: "event spaces", in: `2[ "sp" , 1 , [ 2 ] ]`, want: want{Type: Event, Data: `[ "sp" , 1 , [ 2 ] ]`, Event: "sp", Args: `1 , [ 2 ]`}},
	{name: "event nested args", in: `2["e",[1,[2,[3]]],{"a":{"b":[{}]}},null,true,false,-0.5]`,
		want: want{Type: Event, Data: `["e",[1,[2,[3]]],{"a":{"b":[{}]}},null,true,false,-0.5]`, Event: "e", Args: `[1,[2,[3]]],{"a":{"b":[{}]}},null,true,false,-0.5`}},
	{name: "event not reserved: Connect", in: `2["Connect"]`, want: want{Type: Event, Data: `["Connect"]`, Event: "Connect"}},
	{name: "event not reserved: connection", in: `2["connection"]`, want: want{Type: Event, Data: `["connection"]`, Event: "connection"}},
	{name: "event not reserved: connect with space", in: `2["connect "]`, want: want{Type: Event, Data: `["connect "]`, Event: "connect "}},
	{name: "event placeholder in plain event", in: `2["x",` + ph1 + `]`, want: want{Type: Event, Data: `["x",` + ph1 + `]`, Event: "x", Args: ph1}},
	{name: "event object payload", in: `2{}`, err: ErrInvalidPayload},
	{name: "event empty array", in: `2[]`, err: ErrInvalidPayload},
	{name: "event empty array with space", in: `2[ ]`, err: ErrInvalidPayload},
	{name: "event no payload", in: `2`, err: ErrInvalidPayload},
	{name: "event nsp no payload", in: `2/admin,`, err: ErrInvalidPayload},
	{name: "event nsp no comma eats payload", in: `2/admin["x"]`, err: ErrInvalidPayload},
	{name: "event bad ack id", in: `2abc["x"]`, err: ErrInvalidPayload},
	{name: "event bad ack id after digits", in: `21a["x"]`, err: ErrInvalidPayload},
	{name: "event bad ack id suite", in: `2abc["message-with-ack",1,"2",{"3":[false]}]`, err: ErrInvalidPayload},
	{name: "event ack id overflow", in: `299999999999999999999["x"]`, err: ErrInvalidPayload},
	{name: "event ack id above 2^53", in: `29007199254740993["x"]`, err: ErrInvalidPayload},
	{name: "event unterminated", in: `2["x"`, err: ErrInvalidPayload},
	{name: "event trailing comma", in: `2["x",]`, err: ErrInvalidPayload},
	{name: "event bool name", in: `2[true]`, err: ErrInvalidPayload},
	{name: "event null name", in: `2[null]`, err: ErrInvalidPayload},
	{name: "event object name", in: `2[{}]`, err: ErrInvalidPayload},
	{name: "event array name", in: `2[["a"]]`, err: ErrInvalidPayload},
	{name: "event string payload", in: `2"x"`, err: ErrInvalidPayload},
	{name: "event two arrays", in: `2["a"]["b"]`, err: ErrInvalidPayload},

	// Reserved event names.
	{name: "reserved connect", in: `2["connect"]`, err: ErrReservedEvent},
	{name: "reserved connect_error", in: `2["connect_error",{}]`, err: ErrReservedEvent},
	{name: "reserved disconnect", in: `2["disconnect"]`, err: ErrReservedEvent},
	{name: "reserved disconnecting", in: `2["disconnecting","x"]`, err: ErrReservedEvent},
	{name: "reserved newListener", in: `2["newListener"]`, err: ErrReservedEvent},
	{name: "reserved removeListener", in: `2["removeListener"]`, err: ErrReservedEvent},
	{name: "reserved with nsp and id", in: `2/admin,5["disconnect"]`, err: ErrReservedEvent},
	{name: "reserved escaped", in: `2["\u0063onnect"]`, err: ErrReservedEvent},
	{name: "reserved binary", in: `51-["connect",` + ph0 + `]`, err: ErrReservedEvent},

	// ACK.
	{name: "ack nsp id empty", in: `3/admin,13[]`, want: want{Type: Ack, Nsp: "/admin", ID: 13, HasID: true, Data: `[]`}},
	{name: "ack args", in: `3456[1,"2",{"3":[false]}]`, want: want{Type: Ack, ID: 456, HasID: true, Data: `[1,"2",{"3":[false]}]`, Args: `1,"2",{"3":[false]}`}},
	{name: "ack one arg", in: `313["a"]`, want: want{Type: Ack, ID: 13, HasID: true, Data: `["a"]`, Args: `"a"`}},
	{name: "ack without id", in: `3[]`, want: want{Type: Ack, Data: `[]`}},
	{name: "ack spaces", in: `31[ 1 , 2 ]`, want: want{Type: Ack, ID: 1, HasID: true, Data: `[ 1 , 2 ]`, Args: `1 , 2`}},
	{name: "ack reserved name is fine", in: `31["connect"]`, want: want{Type: Ack, ID: 1, HasID: true, Data: `["connect"]`, Args: `"connect"`}},
	{name: "ack object", in: `31{}`, err: ErrInvalidPayload},
	{name: "ack no payload", in: `31`, err: ErrInvalidPayload},
	{name: "ack string", in: `3"x"`, err: ErrInvalidPayload},
	{name: "ack bad id", in: `3abc[]`, err: ErrInvalidPayload},
	{name: "ack bad json", in: `31[1,]`, err: ErrInvalidPayload},

	// CONNECT_ERROR.
	{name: "connect error", in: `4{"message":"Not authorized"}`, want: want{Type: ConnectError, Data: `{"message":"Not authorized"}`}},
	{name: "connect error data", in: `4{"message":"Not authorized","data":{"a":1}}`, want: want{Type: ConnectError, Data: `{"message":"Not authorized","data":{"a":1}}`}},
	{name: "connect error nsp", in: `4/random,{"message":"Invalid namespace"}`, want: want{Type: ConnectError, Nsp: "/random", Data: `{"message":"Invalid namespace"}`}},
	{name: "connect error legacy string", in: `4"Not authorized"`, want: want{Type: ConnectError, Data: `"Not authorized"`}},
	{name: "connect error no payload", in: `4`, err: ErrInvalidPayload},
	{name: "connect error array", in: `4[]`, err: ErrInvalidPayload},
	{name: "connect error number", in: `4/a,1`, err: ErrInvalidPayload},
	{name: "connect error abc", in: `4abc`, err: ErrInvalidPayload},

	// BINARY_EVENT.
	{name: "binary event", in: `51-["up",` + ph0 + `]`,
		want: want{Type: BinaryEvent, Attachments: 1, Data: `["up",` + ph0 + `]`, Event: "up", Args: ph0}},
	{name: "binary event two", in: `52-["message",` + ph0 + `,` + ph1 + `]`,
		want: want{Type: BinaryEvent, Attachments: 2, Data: `["message",` + ph0 + `,` + ph1 + `]`, Event: "message", Args: ph0 + `,` + ph1}},
	{name: "binary event ack", in: `52-789["message-with-ack",` + ph0 + `,` + ph1 + `]`,
		want: want{Type: BinaryEvent, Attachments: 2, ID: 789, HasID: true, Data: `["message-with-ack",` + ph0 + `,` + ph1 + `]`, Event: "message-with-ack", Args: ph0 + `,` + ph1}},
	{name: "binary event nsp", in: `51-/chat,["file",` + ph0 + `]`,
		want: want{Type: BinaryEvent, Attachments: 1, Nsp: "/chat", Data: `["file",` + ph0 + `]`, Event: "file", Args: ph0}},
	{name: "binary event nested placeholder", in: `52-["x",{"a":[` + ph1 + `,{"b":` + ph0 + `}]}]`,
		want: want{Type: BinaryEvent, Attachments: 2, Data: `["x",{"a":[` + ph1 + `,{"b":` + ph0 + `}]}]`, Event: "x", Args: `{"a":[` + ph1 + `,{"b":` + ph0 + `}]}`}},
	{name: "binary event zero attachments", in: `50-["x"]`, want: want{Type: BinaryEvent, Data: `["x"]`, Event: "x"}},
	{name: "binary event leading zero count", in: `501-["x",` + ph0 + `]`,
		want: want{Type: BinaryEvent, Attachments: 1, Data: `["x",` + ph0 + `]`, Event: "x", Args: ph0}},
	{name: "binary event placeholder false", in: `51-["x",{"_placeholder":false,"num":9}]`,
		want: want{Type: BinaryEvent, Attachments: 1, Data: `["x",{"_placeholder":false,"num":9}]`, Event: "x", Args: `{"_placeholder":false,"num":9}`}},
	{name: "binary event placeholder string true", in: `51-["x",{"_placeholder":"true","num":9}]`,
		want: want{Type: BinaryEvent, Attachments: 1, Data: `["x",{"_placeholder":"true","num":9}]`, Event: "x", Args: `{"_placeholder":"true","num":9}`}},
	{name: "binary event placeholder num 0.0", in: `51-["x",{"_placeholder":true,"num":0.0}]`,
		want: want{Type: BinaryEvent, Attachments: 1, Data: `["x",{"_placeholder":true,"num":0.0}]`, Event: "x", Args: `{"_placeholder":true,"num":0.0}`}},
	{name: "binary event numeric name", in: `51-[7,` + ph0 + `]`,
		want: want{Type: BinaryEvent, Attachments: 1, Data: `[7,` + ph0 + `]`, Event: "7", Args: ph0}},
	{name: "binary event max attachments", in: `510-["x"]`, want: want{Type: BinaryEvent, Attachments: 10, Data: `["x"]`, Event: "x"}},
	{name: "binary event unbounded", in: `5123-["x"]`, max: -1, want: want{Type: BinaryEvent, Attachments: 123, Data: `["x"]`, Event: "x"}},

	// Placeholders out of range, negative, non-integer, malformed.
	{name: "placeholder with zero attachments", in: `50-["x",` + ph0 + `]`, err: ErrIllegalAttach},
	{name: "placeholder out of range", in: `51-["x",` + ph1 + `]`, err: ErrIllegalAttach},
	{name: "placeholder far out of range", in: `51-["x",{"_placeholder":true,"num":1e300}]`, err: ErrIllegalAttach},
	{name: "placeholder negative", in: `51-["x",{"_placeholder":true,"num":-1}]`, err: ErrIllegalAttach},
	{name: "placeholder non-integer", in: `52-["x",{"_placeholder":true,"num":0.5}]`, err: ErrIllegalAttach},
	{name: "placeholder string num", in: `51-["x",{"_placeholder":true,"num":"0"}]`, err: ErrIllegalAttach},
	{name: "placeholder null num", in: `51-["x",{"_placeholder":true,"num":null}]`, err: ErrIllegalAttach},
	{name: "placeholder missing num", in: `51-["x",{"_placeholder":true}]`, err: ErrIllegalAttach},
	{name: "placeholder nested out of range", in: `51-["x",{"a":[{"_placeholder":true,"num":3}]}]`, err: ErrIllegalAttach},
	{name: "placeholder second bad", in: `52-["x",` + ph0 + `,{"_placeholder":true,"num":2}]`, err: ErrIllegalAttach},
	{name: "placeholder duplicate key last wins", in: `51-["x",{"_placeholder":true,"num":0,"num":4}]`, err: ErrIllegalAttach},

	// Attachment count header.
	{name: "too many attachments", in: `511-["x"]`, err: ErrTooManyAttach},
	{name: "too many attachments low max", in: `53-["x"]`, max: 2, err: ErrTooManyAttach},
	{name: "too many attachments ack", in: `611-[]`, err: ErrTooManyAttach},
	{name: "attachments missing", in: `5["x"]`, err: ErrIllegalAttach},
	{name: "attachments empty count", in: `5-["x"]`, err: ErrIllegalAttach},
	{name: "attachments no dash", in: `51["x"]`, err: ErrIllegalAttach},
	{name: "attachments at end", in: `51`, err: ErrIllegalAttach},
	{name: "attachments letter", in: `5a-["x"]`, err: ErrIllegalAttach},
	{name: "attachments negative", in: `5-1-["x"]`, err: ErrIllegalAttach},
	{name: "attachments after nsp", in: `5/admin,1-["x"]`, err: ErrIllegalAttach},
	{name: "binary event no payload", in: `51-`, err: ErrInvalidPayload},
	{name: "binary event object", in: `51-{}`, err: ErrInvalidPayload},

	// BINARY_ACK.
	{name: "binary ack", in: `62-/admin,7[` + ph0 + `,` + ph1 + `]`,
		want: want{Type: BinaryAck, Attachments: 2, Nsp: "/admin", ID: 7, HasID: true, Data: `[` + ph0 + `,` + ph1 + `]`, Args: ph0 + `,` + ph1}},
	{name: "binary ack suite", in: `62-789[` + ph0 + `,` + ph1 + `]`,
		want: want{Type: BinaryAck, Attachments: 2, ID: 789, HasID: true, Data: `[` + ph0 + `,` + ph1 + `]`, Args: ph0 + `,` + ph1}},
	{name: "binary ack empty", in: `61-3[]`, want: want{Type: BinaryAck, Attachments: 1, ID: 3, HasID: true, Data: `[]`}},
	{name: "binary ack zero", in: `60-[]`, want: want{Type: BinaryAck, Data: `[]`}},
	{name: "binary ack out of range", in: `61-3[` + ph1 + `]`, err: ErrIllegalAttach},
	{name: "binary ack no count", in: `6["x"]`, err: ErrIllegalAttach},
	{name: "binary ack object", in: `61-{}`, err: ErrInvalidPayload},

	// Unknown types.
	{name: "empty", in: ``, err: ErrUnknownType},
	{name: "type 7", in: `7`, err: ErrUnknownType},
	{name: "type 9", in: `9["x"]`, err: ErrUnknownType},
	{name: "letters", in: `abc`, err: ErrUnknownType},
	{name: "minus", in: `-1`, err: ErrUnknownType},
	{name: "space", in: ` 0`, err: ErrUnknownType},
	{name: "NUL", in: "\x00", err: ErrUnknownType},
	{name: "json", in: `["x"]`, err: ErrUnknownType},
}

// check compares a decode result with a case.
func check(t *testing.T, in string, p Packet, err error, w want, wantErr error) {
	t.Helper()
	if wantErr != nil {
		if !errors.Is(err, wantErr) {
			t.Fatalf("Decode(%q) error = %v, want %v", in, err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatalf("Decode(%q) error = %v", in, err)
	}
	wantNsp := w.Nsp
	if wantNsp == "" {
		wantNsp = "/"
	}
	wantID := int64(NoID)
	if w.HasID {
		wantID = w.ID
	}
	if p.Type != w.Type || p.Nsp != wantNsp || p.ID != wantID || p.Attachments != w.Attachments {
		t.Fatalf("Decode(%q) header = {Type %d Nsp %q ID %d Attachments %d}, want {Type %d Nsp %q ID %d Attachments %d}",
			in, p.Type, p.Nsp, p.ID, p.Attachments, w.Type, wantNsp, wantID, w.Attachments)
	}
	if string(p.Data) != w.Data || (p.Data == nil) != (w.Data == "") {
		t.Fatalf("Decode(%q) Data = %q (nil %v), want %q", in, p.Data, p.Data == nil, w.Data)
	}
	if p.Event != w.Event {
		t.Fatalf("Decode(%q) Event = %q, want %q", in, p.Event, w.Event)
	}
	if string(p.Args) != w.Args {
		t.Fatalf("Decode(%q) Args = %q, want %q", in, p.Args, w.Args)
	}
}

func maxFor(tc decodeCase) int {
	switch {
	case tc.max < 0:
		return 0
	case tc.max == 0:
		return 10
	}
	return tc.max
}

func TestDecode(t *testing.T) {
	for _, tc := range decodeCases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Decode([]byte(tc.in), maxFor(tc))
			check(t, tc.in, p, err, tc.want, tc.err)
			if err == nil {
				for _, a := range SplitArgs(p.Args) {
					if !json.Valid(a) {
						t.Fatalf("Decode(%q): argument %q is not valid JSON", tc.in, a)
					}
				}
			}
		})
	}
}

// briefExamples are the packets of sections 2.2, 2.8 and 3.5 of the brief.
var briefExamples = []struct {
	in   string
	want want
}{
	{`0`, want{Type: Connect}},
	{`0/admin,`, want{Type: Connect, Nsp: "/admin"}},
	{`0{"token":"x"}`, want{Type: Connect, Data: `{"token":"x"}`}},
	{`0/admin,{"sid":"…"}`, want{Type: Connect, Nsp: "/admin", Data: `{"sid":"…"}`}},
	{`1/admin,`, want{Type: Disconnect, Nsp: "/admin"}},
	{`2["hi",1]`, want{Type: Event, Data: `["hi",1]`, Event: "hi", Args: `1`}},
	{`2/admin,13["hi"]`, want{Type: Event, Nsp: "/admin", ID: 13, HasID: true, Data: `["hi"]`, Event: "hi"}},
	{`3/admin,13[]`, want{Type: Ack, Nsp: "/admin", ID: 13, HasID: true, Data: `[]`}},
	{`4{"message":"Not authorized"}`, want{Type: ConnectError, Data: `{"message":"Not authorized"}`}},
	{`4{"message":"Not authorized","data":{"x":1}}`, want{Type: ConnectError, Data: `{"message":"Not authorized","data":{"x":1}}`}},
	{`51-["up",{"_placeholder":true,"num":0}]`, want{Type: BinaryEvent, Attachments: 1, Data: `["up",{"_placeholder":true,"num":0}]`, Event: "up", Args: `{"_placeholder":true,"num":0}`}},
	{`62-/admin,7[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, want{Type: BinaryAck, Attachments: 2, Nsp: "/admin", ID: 7, HasID: true,
		Data: `[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, Args: `{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}`}},
	// 2.8 wire trace.
	{`0/chat,{"token":"t"}`, want{Type: Connect, Nsp: "/chat", Data: `{"token":"t"}`}},
	{`2["welcome"]`, want{Type: Event, Data: `["welcome"]`, Event: "welcome"}},
	{`3/chat,4[true]`, want{Type: Ack, Nsp: "/chat", ID: 4, HasID: true, Data: `[true]`, Args: `true`}},
	{`51-/chat,["file",{"_placeholder":true,"num":0}]`, want{Type: BinaryEvent, Attachments: 1, Nsp: "/chat", Data: `["file",{"_placeholder":true,"num":0}]`, Event: "file", Args: `{"_placeholder":true,"num":0}`}},
	// 3.5 suite frames.
	{`0/custom`, want{Type: Connect, Nsp: "/custom"}},
	{`1/custom`, want{Type: Disconnect, Nsp: "/custom"}},
	{`4/random,{"message":"Invalid namespace"}`, want{Type: ConnectError, Nsp: "/random", Data: `{"message":"Invalid namespace"}`}},
	{`2["auth",{}]`, want{Type: Event, Data: `["auth",{}]`, Event: "auth", Args: `{}`}},
	{`2["message-back",1,"2",{"3":[true]}]`, want{Type: Event, Data: `["message-back",1,"2",{"3":[true]}]`, Event: "message-back", Args: `1,"2",{"3":[true]}`}},
	{`3456[1,"2",{"3":[false]}]`, want{Type: Ack, ID: 456, HasID: true, Data: `[1,"2",{"3":[false]}]`, Args: `1,"2",{"3":[false]}`}},
}

// TestDecodeBriefExamples decodes every example of section 2.2 of the brief
// (and the wire trace of 2.8 and the suite frames of 3.5, without the EIO
// "4" prefix) and checks the result field by field.
func TestDecodeBriefExamples(t *testing.T) {
	for _, ex := range briefExamples {
		p, err := Decode([]byte(ex.in), 10)
		check(t, ex.in, p, err, ex.want, nil)
		// Re-encoding gives the same bytes, except that the encoder always
		// writes the comma after a namespace.
		enc := string(append(AppendHeader(nil, Header{Type: p.Type, Nsp: p.Nsp, ID: p.ID, Attachments: p.Attachments}), p.Data...))
		wantEnc := ex.in
		if p.Nsp != "/" && !strings.Contains(ex.in, p.Nsp+",") {
			wantEnc = strings.Replace(ex.in, p.Nsp, p.Nsp+",", 1)
		}
		if enc != wantEnc {
			t.Errorf("re-encoding %q gave %q, want %q", ex.in, enc, wantEnc)
		}
	}
	// The invalid frames of the suite.
	for _, in := range []string{`abc`, `{}`, `2{}`, `2abc["message-with-ack",1,"2",{"3":[false]}]`} {
		if _, err := Decode([]byte(in), 10); err == nil {
			t.Errorf("Decode(%q) accepted an invalid packet", in)
		}
	}
}

// trailingWhitespaceCases (TestDecodeTrailingWhitespace) expose a codec bug
// in packet.go: validate slices the payload as if its last byte were the
// closing bracket. JSON allows whitespace after the value, and
// the reference decoder hands the payload to JSON.parse, which accepts it:
// `3[1] ` is an ACK with args [1], `2[1] ` an EVENT named 1 with no args.
// The Go decoder must either accept it with the right Event/Args or reject
// it; it must never return an Event or Args that are not what the payload
// holds. The expectations below follow the reference.
var trailingWhitespaceCases = []decodeCase{
	{name: "ack one arg", in: "31[1] ", want: want{Type: Ack, ID: 1, HasID: true, Data: "[1] ", Args: `1`}},
	{name: "ack empty", in: "31[] ", want: want{Type: Ack, ID: 1, HasID: true, Data: "[] "}},
	{name: "ack newline", in: "3[\"a\",2]\n", want: want{Type: Ack, Data: "[\"a\",2]\n", Args: `"a",2`}},
	{name: "event numeric", in: "2[1] ", want: want{Type: Event, Data: "[1] ", Event: "1"}},
	{name: "event with args", in: "2[\"a\",2] ", want: want{Type: Event, Data: "[\"a\",2] ", Event: "a", Args: `2`}},
	{name: "event name only", in: "2[\"a\"] ", want: want{Type: Event, Data: "[\"a\"] ", Event: "a"}},
	{name: "event tab", in: "2[\"a\",{}]\t", want: want{Type: Event, Data: "[\"a\",{}]\t", Event: "a", Args: `{}`}},
	{name: "binary ack", in: "61-[" + ph0 + "]\r\n", want: want{Type: BinaryAck, Attachments: 1, Data: "[" + ph0 + "]\r\n", Args: ph0}},
}

func TestDecodeTrailingWhitespace(t *testing.T) {
	for _, tc := range trailingWhitespaceCases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Decode([]byte(tc.in), 10)
			check(t, tc.in, p, err, tc.want, nil)
		})
	}
}

// escapedPlaceholderCases (TestDecodeEscapedPlaceholderKey) expose a codec
// bug in packet.go: checkPlaceholders skips the check unless the raw bytes
// contain `"_placeholder"`. Placeholders are checked on the parsed
// JSON in the reference (binary.ts reads data._placeholder after JSON.parse),
// so a key written with escapes is still a placeholder and its num must be
// in range.
var escapedPlaceholderCases = []decodeCase{
	{name: "escaped underscore out of range", in: `51-["x",{"\u005fplaceholder":true,"num":5}]`, err: ErrIllegalAttach},
	{name: "escaped letter out of range", in: `61-[{"_pl\u0061ceholder":true,"num":1}]`, err: ErrIllegalAttach},
	{name: "escaped key negative", in: `52-["x",{"\u005Fplaceholder":true,"num":-1}]`, err: ErrIllegalAttach},
	{name: "escaped key in range is fine", in: `51-["x",{"\u005fplaceholder":true,"num":0}]`,
		want: want{Type: BinaryEvent, Attachments: 1, Data: `["x",{"\u005fplaceholder":true,"num":0}]`, Event: "x", Args: `{"\u005fplaceholder":true,"num":0}`}},
}

func TestDecodeEscapedPlaceholderKey(t *testing.T) {
	for _, tc := range escapedPlaceholderCases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Decode([]byte(tc.in), 10)
			check(t, tc.in, p, err, tc.want, tc.err)
		})
	}
}

// attachDigitsCases (TestDecodeAttachmentCountDigits) expose a minor codec
// bug in packet.go: Decode rejects any count of more than 9 digits with
// ErrIllegalAttach. The reference reads the whole digit run
// before "-" as a number (Number(buf)), so leading zeros are harmless and any
// count above maxAttachments is "too many attachments".
var attachDigitsCases = []decodeCase{
	{name: "ten digits over max", in: `51234567890-["x"]`, err: ErrTooManyAttach},
	{name: "leading zeros", in: `50000000001-["x",` + ph0 + `]`,
		want: want{Type: BinaryEvent, Attachments: 1, Data: `["x",` + ph0 + `]`, Event: "x", Args: ph0}},
}

func TestDecodeAttachmentCountDigits(t *testing.T) {
	for _, tc := range attachDigitsCases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Decode([]byte(tc.in), 10)
			check(t, tc.in, p, err, tc.want, tc.err)
		})
	}
}

func TestDecodeMaxAttachments(t *testing.T) {
	for n := 0; n <= 12; n++ {
		in := fmt.Sprintf(`5%d-["x"]`, n)
		for _, max := range []int{0, 1, 5, 10} {
			p, err := Decode([]byte(in), max)
			if max > 0 && n > max {
				if !errors.Is(err, ErrTooManyAttach) {
					t.Errorf("Decode(%q, %d) error = %v, want ErrTooManyAttach", in, max, err)
				}
				continue
			}
			if err != nil || p.Attachments != n {
				t.Errorf("Decode(%q, %d) = %d attachments, %v", in, max, p.Attachments, err)
			}
		}
	}
	// Attachment counts are only read for binary types.
	p, err := Decode([]byte(`21-["x"]`), 10)
	if err == nil {
		t.Errorf("Decode(`21-[\"x\"]`) = %+v, want an error (1 is the ack id, then `-[\"x\"]` is not an array)", p)
	}
}

func TestDecodeAliasesInput(t *testing.T) {
	in := []byte(`2/admin,1["e",1,2]`)
	p, err := Decode(in, 10)
	if err != nil {
		t.Fatal(err)
	}
	if &p.Data[0] != &in[9] {
		t.Errorf("Data does not alias the input")
	}
	if &p.Args[0] != &in[14] || string(p.Args) != "1,2" {
		t.Errorf("Args %q does not alias the input", p.Args)
	}
}

func TestReserved(t *testing.T) {
	for _, name := range []string{"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"} {
		if !Reserved(name) {
			t.Errorf("Reserved(%q) = false", name)
		}
	}
	for _, name := range []string{"", "message", "Connect", "connection", "new_namespace", "connect ", "error", "ping"} {
		if Reserved(name) {
			t.Errorf("Reserved(%q) = true", name)
		}
	}
}

func TestSplitArgs(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{``, nil},
		{`1`, []string{`1`}},
		{`1,"2",{"3":[true]}`, []string{`1`, `"2"`, `{"3":[true]}`}},
		{`1 , 2 ,3`, []string{`1`, `2`, `3`}},
		{`"a,b","c\"d,",{"e":",","f":[1,2]}`, []string{`"a,b"`, `"c\"d,"`, `{"e":",","f":[1,2]}`}},
		{`"\\",1`, []string{`"\\"`, `1`}},
		{`[[],[[]]],{},null,true,false,-1.5e-3`, []string{`[[],[[]]]`, `{}`, `null`, `true`, `false`, `-1.5e-3`}},
		{ph0 + `,` + ph1, []string{ph0, ph1}},
		{`"☃","é"`, []string{`"☃"`, `"é"`}},
	}
	for _, tc := range cases {
		got := SplitArgs([]byte(tc.in))
		if len(got) != len(tc.want) {
			t.Errorf("SplitArgs(%q) = %q, want %q", tc.in, got, tc.want)
			continue
		}
		for i := range got {
			if string(got[i]) != tc.want[i] {
				t.Errorf("SplitArgs(%q)[%d] = %q, want %q", tc.in, i, got[i], tc.want[i])
			}
		}
	}

	// SplitArgs of a decoded packet's Args gives the array elements.
	p, err := Decode([]byte(`2["message",1,"2",{"3":[true]}]`), 10)
	if err != nil {
		t.Fatal(err)
	}
	args := SplitArgs(p.Args)
	var elems []json.RawMessage
	if err := json.Unmarshal(p.Data, &elems); err != nil {
		t.Fatal(err)
	}
	if len(args) != len(elems)-1 {
		t.Fatalf("SplitArgs gave %d args, want %d", len(args), len(elems)-1)
	}
	for i, a := range args {
		if !bytes.Equal(a, elems[i+1]) {
			t.Errorf("arg %d = %q, want %q", i, a, elems[i+1])
		}
	}
}

func TestAppendHeader(t *testing.T) {
	cases := []struct {
		h    Header
		want string
	}{
		{Header{Type: Connect, ID: NoID}, `0`},
		{Header{Type: Connect, Nsp: "/", ID: NoID}, `0`},
		{Header{Type: Connect, Nsp: "/admin", ID: NoID}, `0/admin,`},
		{Header{Type: Disconnect, ID: NoID}, `1`},
		{Header{Type: Disconnect, Nsp: "/admin", ID: NoID}, `1/admin,`},
		{Header{Type: Event, ID: NoID}, `2`},
		{Header{Type: Event, ID: 0}, `20`},
		{Header{Type: Event, Nsp: "/admin", ID: 13}, `2/admin,13`},
		{Header{Type: Event, Nsp: "/", ID: 456}, `2456`},
		{Header{Type: Event, ID: NoID, Attachments: 3}, `2`}, // count only for binary types
		{Header{Type: Ack, Nsp: "/admin", ID: 13}, `3/admin,13`},
		{Header{Type: Ack, ID: 9007199254740991}, `39007199254740991`},
		{Header{Type: ConnectError, ID: NoID}, `4`},
		{Header{Type: ConnectError, Nsp: "/random", ID: NoID}, `4/random,`},
		{Header{Type: BinaryEvent, ID: NoID, Attachments: 1}, `51-`},
		{Header{Type: BinaryEvent, ID: NoID}, `50-`},
		{Header{Type: BinaryEvent, ID: 789, Attachments: 2}, `52-789`},
		{Header{Type: BinaryEvent, Nsp: "/chat", ID: NoID, Attachments: 1}, `51-/chat,`},
		{Header{Type: BinaryAck, Nsp: "/admin", ID: 7, Attachments: 2}, `62-/admin,7`},
		{Header{Type: BinaryAck, ID: 789, Attachments: 2}, `62-789`},
		{Header{Type: BinaryAck, ID: 0, Attachments: 10}, `610-0`},
	}
	for _, tc := range cases {
		if got := string(AppendHeader(nil, tc.h)); got != tc.want {
			t.Errorf("AppendHeader(%+v) = %q, want %q", tc.h, got, tc.want)
		}
		// Appending keeps the prefix.
		if got := string(AppendHeader([]byte("4"), tc.h)); got != "4"+tc.want {
			t.Errorf("AppendHeader with prefix = %q", got)
		}
	}
}

// TestEncodeDecodeRoundTrip encodes headers with payloads and decodes them.
func TestEncodeDecodeRoundTrip(t *testing.T) {
	cases := []struct {
		h    Header
		data string
		want want
	}{
		{Header{Type: Connect, ID: NoID}, ``, want{Type: Connect}},
		{Header{Type: Connect, Nsp: "/admin", ID: NoID}, `{"sid":"abc"}`, want{Type: Connect, Nsp: "/admin", Data: `{"sid":"abc"}`}},
		{Header{Type: Disconnect, Nsp: "/custom", ID: NoID}, ``, want{Type: Disconnect, Nsp: "/custom"}},
		{Header{Type: Event, ID: NoID}, `["hi",1]`, want{Type: Event, Data: `["hi",1]`, Event: "hi", Args: "1"}},
		{Header{Type: Event, Nsp: "/a", ID: 0}, `["hi"]`, want{Type: Event, Nsp: "/a", HasID: true, Data: `["hi"]`, Event: "hi"}},
		{Header{Type: Ack, Nsp: "/admin", ID: 13}, `[]`, want{Type: Ack, Nsp: "/admin", ID: 13, HasID: true, Data: `[]`}},
		{Header{Type: ConnectError, Nsp: "/random", ID: NoID}, `{"message":"Invalid namespace"}`, want{Type: ConnectError, Nsp: "/random", Data: `{"message":"Invalid namespace"}`}},
		{Header{Type: BinaryEvent, Nsp: "/chat", ID: 4, Attachments: 1}, `["file",` + ph0 + `]`,
			want{Type: BinaryEvent, Nsp: "/chat", ID: 4, HasID: true, Attachments: 1, Data: `["file",` + ph0 + `]`, Event: "file", Args: ph0}},
		{Header{Type: BinaryAck, Nsp: "/admin", ID: 7, Attachments: 2}, `[` + ph0 + `,` + ph1 + `]`,
			want{Type: BinaryAck, Nsp: "/admin", ID: 7, HasID: true, Attachments: 2, Data: `[` + ph0 + `,` + ph1 + `]`, Args: ph0 + `,` + ph1}},
	}
	for _, tc := range cases {
		b := append(AppendHeader(nil, tc.h), tc.data...)
		p, err := Decode(b, 10)
		check(t, string(b), p, err, tc.want, nil)
	}

	// Re-encoding every successfully decoded table case reproduces the packet.
	for _, tc := range decodeCases {
		p, err := Decode([]byte(tc.in), maxFor(tc))
		if err != nil {
			continue
		}
		enc := append(AppendHeader(nil, Header{Type: p.Type, Nsp: p.Nsp, ID: p.ID, Attachments: p.Attachments}), p.Data...)
		q, err := Decode(enc, maxFor(tc))
		if err != nil || !samePacket(p, q) {
			t.Errorf("%s: re-encoded %q as %q: %+v, %v", tc.name, tc.in, enc, q, err)
		}
	}
}

func samePacket(a, b Packet) bool {
	return a.Type == b.Type && a.Nsp == b.Nsp && a.ID == b.ID && a.Attachments == b.Attachments &&
		bytes.Equal(a.Data, b.Data) && (a.Data == nil) == (b.Data == nil) &&
		a.Event == b.Event && bytes.Equal(a.Args, b.Args)
}

// An event's arguments are located with the comma before them when the
// array can be had in place; whitespace around them (which the official
// clients never send) leaves them to be copied.
func TestArgsSpan(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // Data[ArgsLo:ArgsHi] with '[' over the comma; "" for no span
	}{
		{`2["echo",{"t":1}]`, `[{"t":1}]`},
		{`2/chat,7["echo",1,"two",[3]]`, `[1,"two",[3]]`},
		{`51-["up",{"_placeholder":true,"num":0}]`, `[{"_placeholder":true,"num":0}]`},
		{`2["echo",1]  `, `[1]`},
		{`2["echo"]`, ``},
		{`2["echo", 1]`, ``},
		{`2["echo",1 ]`, ``},
		{`2[1,2]`, `[2]`},
	} {
		p, err := Decode([]byte(tc.in), 0)
		if err != nil {
			t.Fatalf("Decode(%q): %v", tc.in, err)
		}
		got := ""
		if p.ArgsHi != 0 {
			if p.Data[p.ArgsLo] != ',' {
				t.Fatalf("Decode(%q): Data[ArgsLo] = %q", tc.in, p.Data[p.ArgsLo])
			}
			got = "[" + string(p.Data[p.ArgsLo+1:p.ArgsHi])
		}
		if got != tc.want {
			t.Errorf("Decode(%q): span gives %q, want %q", tc.in, got, tc.want)
		}
	}
}
