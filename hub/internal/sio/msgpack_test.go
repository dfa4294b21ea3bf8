package sio

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// msgpackNodeCases are what socket.io-msgpack-parser 3.0.2 (notepack.io
// 2.2.0) writes for packets a client sends: new Encoder().encode(packet).
var msgpackNodeCases = []struct {
	name, hex string
	want      Packet
	atts      []string
}{
	{"connect without auth (data undefined)", "83a47479706500a36e7370a12fa464617461d40000",
		Packet{Type: Connect, Nsp: "/", ID: NoID}, nil},
	{"connect with auth", "83a47479706500a36e7370a52f63686174a46461746183a5746f6b656ea174a3706964a170a66f6666736574a16f",
		Packet{Type: Connect, Nsp: "/chat", ID: NoID, Data: []byte(`{"token":"t","pid":"p","offset":"o"}`)}, nil},
	{"disconnect", "82a47479706501a36e7370a52f63686174",
		Packet{Type: Disconnect, Nsp: "/chat", ID: NoID}, nil},
	{"event with a Buffer and the client's options", "84a47479706502a36e7370a12fa46461746195a2657601a374776f81a16192c3c0c403010203a76f7074696f6e7381a8636f6d7072657373c3",
		Packet{Type: BinaryEvent, Nsp: "/", ID: NoID, Attachments: 1, Event: "ev",
			Data: []byte(`["ev",1,"two",{"a":[true,null]},{"_placeholder":true,"num":0}]`),
			Args: []byte(`1,"two",{"a":[true,null]},{"_placeholder":true,"num":0}`)}, []string{"\x01\x02\x03"}},
	{"event with an ArrayBuffer, a Date, undefined, numbers and an id", "84a47479706502a36e7370a12fa46461746197a26576c702000405d7000000000000000000d40000cb3ff8000000000000ffcf0000000100000000a269640c",
		Packet{Type: BinaryEvent, Nsp: "/", ID: 12, Attachments: 1, Event: "ev",
			Data: []byte(`["ev",{"_placeholder":true,"num":0},"1970-01-01T00:00:00.000Z",null,1.5,-1,4294967296]`),
			Args: []byte(`{"_placeholder":true,"num":0},"1970-01-01T00:00:00.000Z",null,1.5,-1,4294967296`)}, []string{"\x04\x05"}},
	{"ack with a Buffer", "84a47479706503a36e7370a12fa46461746191c40178a2696407",
		Packet{Type: BinaryAck, Nsp: "/", ID: 7, Attachments: 1,
			Data: []byte(`[{"_placeholder":true,"num":0}]`), Args: []byte(`{"_placeholder":true,"num":0}`)}, []string{"x"}},
	{"connect error", "83a47479706504a36e7370a12fa46461746181a76d657373616765a26e6f",
		Packet{Type: ConnectError, Nsp: "/", ID: NoID, Data: []byte(`{"message":"no"}`)}, nil},
}

func TestDecodeMsgpackNodePackets(t *testing.T) {
	for _, tc := range msgpackNodeCases {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := hex.DecodeString(tc.hex)
			p, atts, err := DecodeMsgpack(b, 10)
			if err != nil {
				t.Fatal(err)
			}
			if !samePacket(p, tc.want) {
				t.Fatalf("got  %+v (data %s)\nwant %+v (data %s)", p, p.Data, tc.want, tc.want.Data)
			}
			if len(atts) != len(tc.atts) {
				t.Fatalf("attachments %q, want %q", atts, tc.atts)
			}
			for i := range atts {
				if string(atts[i]) != tc.atts[i] {
					t.Fatalf("attachment %d = %q, want %q", i, atts[i], tc.atts[i])
				}
			}
		})
	}
}

// mp builds msgpack from hex fragments and raw strings, for the hostile
// cases below.
func mp(parts ...string) []byte {
	var b []byte
	for _, p := range parts {
		h, err := hex.DecodeString(strings.ReplaceAll(p, " ", ""))
		if err != nil {
			panic(p)
		}
		b = append(b, h...)
	}
	return b
}

const (
	kType = "a474797065"
	kNsp  = "a36e7370"
	kData = "a464617461"
	kID   = "a26964"
	slash = "a12f"
)

func TestDecodeMsgpackRejects(t *testing.T) {
	deep := "91"
	for range 70 {
		deep += "91"
	}
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrMsgpack},
		{"not a map", mp("93 02 a12f 90"), ErrMsgpack},
		{"a text packet", []byte(`2["ev"]`), ErrMsgpack},
		{"map of 2^32-1 entries in a few bytes", mp("df ffffffff", kType, "02"), ErrMsgpack},
		{"truncated", mp("83", kType, "02", kNsp), ErrMsgpack},
		{"bytes after the packet", mp("82", kType, "01", kNsp, slash, "c0"), ErrMsgpack},
		{"key not a string", mp("82 01 02", kNsp, slash), ErrMsgpack},
		{"duplicate key", mp("83", kType, "01", kNsp, slash, kType, "01"), ErrMsgpack},
		{"no type", mp("81", kNsp, slash), ErrUnknownType},
		{"type 5 (no binary types)", mp("83", kType, "05", kNsp, slash, kData, "91 a2 6576"), ErrUnknownType},
		{"type -1", mp("82", kType, "ff", kNsp, slash), ErrUnknownType},
		{"type as a string", mp("82", kType, "a132", kNsp, slash), ErrUnknownType},
		{"type as a float", mp("82", kType, "cb4000000000000000", kNsp, slash), ErrUnknownType},
		{"no nsp", mp("81", kType, "01"), ErrIllegalNamespace},
		{"nsp not a string", mp("82", kType, "01", kNsp, "01"), ErrIllegalNamespace},
		{"nsp without a slash", mp("82", kType, "01", kNsp, "a161"), ErrIllegalNamespace},
		{"nsp empty", mp("82", kType, "01", kNsp, "a0"), ErrIllegalNamespace},
		{"nsp not UTF-8", mp("82", kType, "01", kNsp, "a22fff"), ErrIllegalNamespace},
		{"event without data", mp("82", kType, "02", kNsp, slash), ErrInvalidPayload},
		{"event data not an array", mp("83", kType, "02", kNsp, slash, kData, "a2 6576"), ErrInvalidPayload},
		{"event data empty", mp("83", kType, "02", kNsp, slash, kData, "90"), ErrInvalidPayload},
		{"event name a boolean", mp("83", kType, "02", kNsp, slash, kData, "91 c3"), ErrInvalidPayload},
		{"event name binary", mp("83", kType, "02", kNsp, slash, kData, "91 c40101"), ErrInvalidPayload},
		{"reserved event name", mp("83", kType, "02", kNsp, slash, kData, "91 aa646973636f6e6e656374"), ErrReservedEvent},
		{"ack data not an array", mp("84", kType, "03", kNsp, slash, kID, "01", kData, "c0"), ErrInvalidPayload},
		{"connect data an array", mp("83", kType, "00", kNsp, slash, kData, "90"), ErrInvalidPayload},
		{"connect data null", mp("83", kType, "00", kNsp, slash, kData, "c0"), ErrInvalidPayload},
		{"connect data with binary", mp("83", kType, "00", kNsp, slash, kData, "81 a162 c40101"), ErrInvalidPayload},
		{"disconnect with data", mp("83", kType, "01", kNsp, slash, kData, "80"), ErrInvalidPayload},
		{"connect error without data", mp("82", kType, "04", kNsp, slash), ErrInvalidPayload},
		{"connect error data a number", mp("83", kType, "04", kNsp, slash, kData, "01"), ErrInvalidPayload},
		{"id negative", mp("84", kType, "02", kNsp, slash, kID, "ff", kData, "91 a161"), ErrInvalidPayload},
		{"id a string", mp("84", kType, "02", kNsp, slash, kID, "a131", kData, "91 a161"), ErrInvalidPayload},
		{"id past 2^53", mp("84", kType, "02", kNsp, slash, kID, "cf0020000000000001", kData, "91 a161"), ErrInvalidPayload},
		{"id past int64", mp("84", kType, "02", kNsp, slash, kID, "cfffffffffffffffff", kData, "91 a161"), ErrInvalidPayload},
		{"string of 4 GiB declared in a few bytes", mp("83", kType, "02", kNsp, slash, kData, "92 a161 dbffffffff 61"), ErrMsgpack},
		{"bin of 4 GiB declared", mp("83", kType, "02", kNsp, slash, kData, "92 a161 c6ffffffff 61"), ErrMsgpack},
		{"array of 2^32-1 declared", mp("83", kType, "02", kNsp, slash, kData, "92 a161 ddffffffff 01"), ErrMsgpack},
		{"map of 2^32-1 declared", mp("83", kType, "02", kNsp, slash, kData, "92 a161 dfffffffff 01"), ErrMsgpack},
		{"nested past the bound", mp("83", kType, "02", kNsp, slash, kData, "92 a161", deep, "c0"), ErrMsgpack},
		{"string not UTF-8", mp("83", kType, "02", kNsp, slash, kData, "92 a161 a2c328"), ErrMsgpack},
		{"map key not UTF-8", mp("83", kType, "02", kNsp, slash, kData, "92 a161 81 a1ff 01"), ErrMsgpack},
		{"unknown extension", mp("83", kType, "02", kNsp, slash, kData, "92 a161 d40501"), ErrMsgpack},
		{"reserved type byte", mp("83", kType, "02", kNsp, slash, kData, "92 a161 c1"), ErrMsgpack},
		{"too many binary values", mp("83", kType, "02", kNsp, slash, kData, "93 a161 c40101 c40102"), ErrTooManyAttach},
		{"a placeholder out of range", mp("83", kType, "02", kNsp, slash, kData,
			"93 a161 c40101 82 ac5f706c616365686f6c646572 c3 a36e756d 05"), ErrIllegalAttach},
		{"a skipped key's value truncated", mp("83", kType, "01", kNsp, slash, "a16f", "dbffffffff"), ErrMsgpack},
		{"a skipped key nested past the bound", mp("83", kType, "01", kNsp, slash, "a16f", deep, "c0"), ErrMsgpack},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, atts, err := DecodeMsgpack(tc.in, 1)
			if !errors.Is(err, tc.want) {
				t.Fatalf("DecodeMsgpack(%x) = %+v, %q, %v; want %v", tc.in, p, atts, err, tc.want)
			}
		})
	}
}

// Declared lengths cost nothing until their bytes arrive: a packet that
// claims 4 GiB strings, arrays and maps allocates about what a small one
// does.
func TestDecodeMsgpackHugeLengthsDoNotAllocate(t *testing.T) {
	for _, in := range [][]byte{
		mp("83", kType, "02", kNsp, slash, kData, "92 a161 dbffffffff 61"),
		mp("83", kType, "02", kNsp, slash, kData, "92 a161 ddffffffff 01"),
		mp("83", kType, "02", kNsp, slash, kData, "92 a161 dfffffffff 01"),
		mp("dfffffffff", kType, "02"),
	} {
		allocs := testing.AllocsPerRun(20, func() { DecodeMsgpack(in, 10) })
		if allocs > 8 {
			t.Errorf("DecodeMsgpack(%x): %v allocations", in, allocs)
		}
	}
}

func TestMsgpackEncodeDecode(t *testing.T) {
	atts := [][]byte{{1, 2}, {}}
	list := []byte(`"a",1.5,{"b":[{"_placeholder":true,"num":0},null]},{"_placeholder":true,"num":1},"é\n"`)
	for _, tc := range []struct {
		name string
		enc  []byte
		want Packet
	}{
		{"event", AppendMsgpackEvent(nil, "/x", NoID, "ev", list, atts, ""),
			Packet{Type: BinaryEvent, Nsp: "/x", ID: NoID, Attachments: 2, Event: "ev", Args: list}},
		{"event with an id and an offset", AppendMsgpackEvent(nil, "/", 9, "ev", []byte(`1`), nil, "off"),
			Packet{Type: Event, Nsp: "/", ID: 9, Event: "ev", Args: []byte(`1,"off"`)}},
		{"event without arguments", AppendMsgpackEvent(nil, "", NoID, "ev", nil, nil, ""),
			Packet{Type: Event, Nsp: "/", ID: NoID, Event: "ev"}},
		{"ack", AppendMsgpackAck(nil, "/", 3, list, atts),
			Packet{Type: BinaryAck, Nsp: "/", ID: 3, Attachments: 2, Args: list}},
		{"empty ack", AppendMsgpackAck(nil, "/", 0, nil, nil),
			Packet{Type: Ack, Nsp: "/", ID: 0, Args: []byte{}}},
		{"connect", AppendMsgpackControl(nil, Connect, "/a", []byte(`{"sid":"s","pid":null}`)),
			Packet{Type: Connect, Nsp: "/a", ID: NoID, Data: []byte(`{"sid":"s","pid":null}`)}},
		{"disconnect", AppendMsgpackControl(nil, Disconnect, "/a", nil),
			Packet{Type: Disconnect, Nsp: "/a", ID: NoID}},
		{"connect error", AppendMsgpackControl(nil, ConnectError, "/", []byte(`{"message":"m","data":{"n":[1]}}`)),
			Packet{Type: ConnectError, Nsp: "/", ID: NoID, Data: []byte(`{"message":"m","data":{"n":[1]}}`)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, got, err := DecodeMsgpack(tc.enc, 0)
			if err != nil {
				t.Fatalf("%x: %v", tc.enc, err)
			}
			tc.want.Data = p.Data // checked through Args, or below
			if tc.want.Type == Connect || tc.want.Type == ConnectError {
				if !jsonEqual(p.Data, []byte(`{"sid":"s","pid":null}`)) && !jsonEqual(p.Data, []byte(`{"message":"m","data":{"n":[1]}}`)) {
					t.Fatalf("data %s", p.Data)
				}
			}
			if !samePacket(p, tc.want) {
				t.Fatalf("got  %+v (args %s)\nwant %+v (args %s)", p, p.Args, tc.want, tc.want.Args)
			}
			if tc.want.Attachments > 0 && (len(got) != 2 || string(got[0]) != "\x01\x02" || len(got[1]) != 0) {
				t.Fatalf("attachments %q", got)
			}
		})
	}
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

// FuzzMsgpackPacket checks what a successful DecodeMsgpack promises: a
// known type, a namespace and data that are valid UTF-8, data of the
// type's JSON shape with placeholders for exactly its attachments, and a
// packet that, written again by the Append functions, decodes the same.
// Errors are the documented ones.
func FuzzMsgpackPacket(f *testing.F) {
	for _, tc := range msgpackNodeCases {
		b, _ := hex.DecodeString(tc.hex)
		f.Add(b)
	}
	f.Add(mp("83", kType, "02", kNsp, slash, kData, "93 a161 c40101 82 ac5f706c616365686f6c646572 c3 a36e756d 00"))
	f.Add(mp("84", kType, "02", kNsp, slash, kID, "cd0100", kData, "92 a161 dc0001 df00000001 a16b c7020001ff"))
	f.Add(AppendMsgpackEvent(nil, "/n", 5, "ev", []byte(`"é",[1,{"_placeholder":true,"num":0}]`), [][]byte{{7}}, "o"))
	f.Add([]byte(`2["ev"]`))

	f.Fuzz(func(t *testing.T, in []byte) {
		orig := bytes.Clone(in)
		p, atts, err := DecodeMsgpack(in, fuzzMaxAttachments)
		if !bytes.Equal(in, orig) {
			t.Fatal("DecodeMsgpack modified its input")
		}
		if err != nil {
			switch {
			case errors.Is(err, ErrMsgpack), errors.Is(err, ErrUnknownType), errors.Is(err, ErrIllegalAttach),
				errors.Is(err, ErrTooManyAttach), errors.Is(err, ErrInvalidPayload), errors.Is(err, ErrReservedEvent),
				errors.Is(err, ErrIllegalNamespace):
			default:
				t.Fatalf("DecodeMsgpack(%x) returned an undocumented error %v", in, err)
			}
			return
		}
		if p.Type > ConnectError+2 || !utf8.ValidString(p.Nsp) || !strings.HasPrefix(p.Nsp, "/") || !utf8.Valid(p.Data) {
			t.Fatalf("DecodeMsgpack(%x) = %+v", in, p)
		}
		if p.Data != nil && !json.Valid(p.Data) {
			t.Fatalf("DecodeMsgpack(%x): data %q is not JSON", in, p.Data)
		}
		if p.Attachments != len(atts) || len(atts) > fuzzMaxAttachments {
			t.Fatalf("DecodeMsgpack(%x): %d attachments, %d counted", in, len(atts), p.Attachments)
		}
		// The text decoder takes the same packet.
		text := AppendHeader(nil, Header{Type: p.Type, Nsp: p.Nsp, ID: p.ID, Attachments: p.Attachments})
		if q, err := Decode(append(text, p.Data...), fuzzMaxAttachments); err != nil || !samePacket(p, q) {
			t.Fatalf("DecodeMsgpack(%x) = %+v; as text %+v, %v", in, p, q, err)
		}
		if bytes.Count(p.Data, []byte(`"_placeholder"`)) != len(atts) {
			// A client's own placeholder object, pointing at a binary
			// value it also sent: written again, it is that value.
			return
		}
		var again []byte
		switch p.Type {
		case Event, BinaryEvent:
			again = AppendMsgpackEvent(nil, p.Nsp, p.ID, p.Event, p.Args, atts, "")
			if p.Event != "" && p.Data[1] != '"' {
				return // a numeric event name is written back as a string
			}
		case Ack, BinaryAck:
			again = AppendMsgpackAck(nil, p.Nsp, p.ID, p.Args, atts)
			if p.ID == NoID {
				return // an ack without an id is not written
			}
		default:
			again = AppendMsgpackControl(nil, p.Type, p.Nsp, p.Data)
			if p.ID != NoID {
				return // a control packet's id is not written
			}
		}
		q, atts2, err := DecodeMsgpack(again, fuzzMaxAttachments)
		if err != nil {
			t.Fatalf("%x written again as %x, which does not decode: %v", in, again, err)
		}
		// Numbers past 2^53 come back as JavaScript has them: compared as
		// float64 values.
		if !jsonEqual(append(append([]byte("["), p.Args...), ']'), append(append([]byte("["), q.Args...), ']')) {
			t.Fatalf("%x written again as %x: args %s, want %s", in, again, q.Args, p.Args)
		}
		q.Data, p.Data, q.Args, p.Args = nil, nil, nil, nil
		if !samePacket(p, q) || len(atts2) != len(atts) {
			t.Fatalf("%x written again as %x: got %+v, want %+v", in, again, q, p)
		}
		for i := range atts {
			if !bytes.Equal(atts[i], atts2[i]) {
				t.Fatalf("%x written again: attachment %d %x, want %x", in, i, atts2[i], atts[i])
			}
		}
	})
}
