package eio

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"testing"
)

func TestTypeValues(t *testing.T) {
	// The numeric values are the wire digits of the EIO v4 packet types.
	want := map[Type]byte{Open: '0', Close: '1', Ping: '2', Pong: '3', Message: '4', Upgrade: '5', Noop: '6'}
	for typ, digit := range want {
		if got := byte('0' + typ); got != digit {
			t.Errorf("type %d encodes as %q, want %q", typ, got, digit)
		}
	}
	if Separator != 0x1e {
		t.Errorf("Separator = %#x, want 0x1e", Separator)
	}
}

type textCase struct {
	name string
	in   string
	want Packet
	err  error
}

func text(typ Type, data string) Packet { return Packet{Type: typ, Data: []byte(data)} }
func binary(data ...byte) Packet {
	if data == nil {
		data = []byte{}
	}
	return Packet{Type: Message, Data: data, Binary: true}
}

func samePacket(a, b Packet) bool {
	return a.Type == b.Type && a.Binary == b.Binary && bytes.Equal(a.Data, b.Data)
}

func fmtPacket(p Packet) string {
	if p.Binary {
		return fmt.Sprintf("{binary %d % x}", p.Type, p.Data)
	}
	return fmt.Sprintf("{text %d %q}", p.Type, p.Data)
}

var textCases = []textCase{
	// Every packet type in text form.
	{"open", `0{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`,
		text(Open, `{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`), nil},
	{"open empty", "0", text(Open, ""), nil},
	{"close", "1", text(Close, ""), nil},
	{"ping", "2", text(Ping, ""), nil},
	{"ping probe", "2probe", text(Ping, "probe"), nil},
	{"pong", "3", text(Pong, ""), nil},
	{"pong probe", "3probe", text(Pong, "probe"), nil},
	{"message", "4hello", text(Message, "hello"), nil},
	{"message empty", "4", text(Message, ""), nil},
	{"message sio event", `42["message",1,"2",{"3":[true]}]`, text(Message, `2["message",1,"2",{"3":[true]}]`), nil},
	{"message multibyte utf8", "4héllo ☃ 𝄞", text(Message, "héllo ☃ 𝄞"), nil},
	{"message with NUL", "4a\x00b", text(Message, "a\x00b"), nil},
	{"message with separator (ws frame)", "4a\x1eb", text(Message, "a\x1eb"), nil},
	{"message leading b is data", "4bAQIDBA==", text(Message, "bAQIDBA=="), nil},
	{"upgrade", "5", text(Upgrade, ""), nil},
	{"noop", "6", text(Noop, ""), nil},

	// "b" + standard base64 is a binary message.
	{"binary 01020304", "bAQIDBA==", binary(1, 2, 3, 4), nil},
	{"binary empty", "b", binary(), nil},
	{"binary one byte", "bAA==", binary(0), nil},
	{"binary two bytes", "bAQI=", binary(1, 2), nil},
	{"binary three bytes", "bAQID", binary(1, 2, 3), nil},
	{"binary ff", "b/w==", binary(0xff), nil},
	{"binary + and /", "b+/8=", binary(0xfb, 0xff), nil},
	{"binary hello", "baGVsbG8=", binary([]byte("hello")...), nil},

	// Bad base64.
	{"base64 missing padding", "bAQIDBA", Packet{}, ErrParse},
	{"base64 short padding", "bAQIDBA=", Packet{}, ErrParse},
	{"base64 bad chars", "b!!!!", Packet{}, ErrParse},
	{"base64 url alphabet", "b-_8=", Packet{}, ErrParse},
	{"base64 lone char", "bA", Packet{}, ErrParse},
	{"base64 only padding", "b====", Packet{}, ErrParse},
	{"base64 padding in middle", "bAQ==AQ==", Packet{}, ErrParse},
	{"base64 non-ascii", "bAQI\xffDBA==", Packet{}, ErrParse},
	{"base64 with separator", "bAQ\x1eIDBA==", Packet{}, ErrParse},

	// Non-UTF-8 text.
	{"invalid utf8 byte", "4\xff", Packet{}, ErrParse},
	{"truncated utf8", "4h\xc3", Packet{}, ErrParse},
	{"utf8 continuation only", "4\x80abc", Packet{}, ErrParse},
	{"utf8 surrogate", "0\xed\xa0\x80", Packet{}, ErrParse},
	{"utf8 overlong", "2\xc0\xaf", Packet{}, ErrParse},
	{"invalid utf8 on ping", "2probe\xfe", Packet{}, ErrParse},

	// Empty input.
	{"empty", "", Packet{}, ErrParse},

	// Unknown type characters.
	{"type 7", "7", Packet{}, ErrParse},
	{"type 9", "9hello", Packet{}, ErrParse},
	{"letter a", "abc", Packet{}, ErrParse},
	{"uppercase B", "BAQIDBA==", Packet{}, ErrParse},
	{"slash", "/", Packet{}, ErrParse},
	{"space before type", " 4hello", Packet{}, ErrParse},
	{"minus", "-1", Packet{}, ErrParse},
	{"NUL", "\x00", Packet{}, ErrParse},
	{"separator", "\x1e", Packet{}, ErrParse},
	{"high byte", "\xff4", Packet{}, ErrParse},
}

func TestDecodeText(t *testing.T) {
	for _, tc := range textCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeText([]byte(tc.in))
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("DecodeText(%q) error = %v, want %v", tc.in, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeText(%q) error = %v", tc.in, err)
			}
			if !samePacket(got, tc.want) {
				t.Fatalf("DecodeText(%q) = %s, want %s", tc.in, fmtPacket(got), fmtPacket(tc.want))
			}
			if got.Binary && got.Type != Message {
				t.Fatalf("binary packet with type %d", got.Type)
			}
		})
	}
}

func TestDecodeTextAliasesInput(t *testing.T) {
	in := []byte("4hello")
	p, err := DecodeText(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Data) != 5 || &p.Data[0] != &in[1] {
		t.Fatalf("text Data does not alias the input")
	}
}

type payloadCase struct {
	name string
	in   string
	want []Packet // packets handed to fn, in order
	err  error
}

var payloadCases = []payloadCase{
	{"brief example text+binary", "4hello\x1ebAQIDBA==", []Packet{text(Message, "hello"), binary(1, 2, 3, 4)}, nil},
	{"single text", "4hello", []Packet{text(Message, "hello")}, nil},
	{"single binary", "bAQIDBA==", []Packet{binary(1, 2, 3, 4)}, nil},
	{"three texts", "4test1\x1e4test2\x1e4test3",
		[]Packet{text(Message, "test1"), text(Message, "test2"), text(Message, "test3")}, nil},
	{"control packets", "2\x1e3\x1e6\x1e1",
		[]Packet{text(Ping, ""), text(Pong, ""), text(Noop, ""), text(Close, "")}, nil},
	{"binary first", "bAQIDBA==\x1e4x", []Packet{binary(1, 2, 3, 4), text(Message, "x")}, nil},
	{"empty binary then empty text", "b\x1e4", []Packet{binary(), text(Message, "")}, nil},
	{"sio packets", "40\x1e42[\"a\"]\x1e451-[\"b\",{\"_placeholder\":true,\"num\":0}]\x1ebAQ==",
		[]Packet{text(Message, "0"), text(Message, `2["a"]`), text(Message, `51-["b",{"_placeholder":true,"num":0}]`), binary(1)}, nil},
	{"utf8 text", "4☃\x1e4é", []Packet{text(Message, "☃"), text(Message, "é")}, nil},

	{"empty payload", "", nil, ErrParse},
	{"only separator", "\x1e", nil, ErrParse},
	{"two separators", "\x1e\x1e", nil, ErrParse},
	{"leading separator", "\x1e4a", nil, ErrParse},
	{"empty middle packet", "4a\x1e\x1e4b", []Packet{text(Message, "a")}, ErrParse},
	{"invalid packet format", "abc", nil, ErrParse},
	{"bad type in the middle", "4a\x1eabc\x1e4b", []Packet{text(Message, "a")}, ErrParse},
	{"bad type 7", "4a\x1e7", []Packet{text(Message, "a")}, ErrParse},
	{"bad base64 in the middle", "4a\x1eb!!!!\x1e4b", []Packet{text(Message, "a")}, ErrParse},
	{"bad utf8 in the middle", "4a\x1e4\xff\x1e4b", []Packet{text(Message, "a")}, ErrParse},
	{"bad second of three", "4a\x1e4b\x1ex\x1e4c", []Packet{text(Message, "a"), text(Message, "b")}, ErrParse},
	{"bad first", "x\x1e4a", nil, ErrParse},
}

func decodeAll(in []byte) ([]Packet, error) {
	var got []Packet
	err := DecodePayload(in, func(p Packet) error {
		got = append(got, Packet{Type: p.Type, Data: bytes.Clone(p.Data), Binary: p.Binary})
		return nil
	})
	return got, err
}

func checkPackets(t *testing.T, in string, got, want []Packet) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("DecodePayload(%q) handed %d packets to fn, want %d: %v", in, len(got), len(want), fmtPackets(got))
	}
	for i := range got {
		if !samePacket(got[i], want[i]) {
			t.Fatalf("DecodePayload(%q) packet %d = %s, want %s", in, i, fmtPacket(got[i]), fmtPacket(want[i]))
		}
	}
}

func fmtPackets(ps []Packet) string {
	var b bytes.Buffer
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(fmtPacket(p))
	}
	return "[" + b.String() + "]"
}

func TestDecodePayload(t *testing.T) {
	for _, tc := range payloadCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeAll([]byte(tc.in))
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("DecodePayload(%q) error = %v, want %v", tc.in, err, tc.err)
			}
			checkPackets(t, tc.in, got, tc.want)
		})
	}
}

// TestDecodePayloadTrailingSeparator exposes a codec bug in packet.go:
// DecodePayload returns ErrParse for a trailing separator before decoding the
// packet in front of it. A trailing separator leaves an empty
// last packet, which is a parse error. As for every other bad packet (and as
// in the reference engine.io-parser, whose decodePayload splits on 0x1E and
// hands over every packet up to the first error packet), the packets before
// the empty one must have been handed to fn.
func TestDecodePayloadTrailingSeparator(t *testing.T) {
	cases := []payloadCase{
		{"one packet then separator", "4hello\x1e", []Packet{text(Message, "hello")}, ErrParse},
		{"two packets then separator", "4a\x1e4b\x1e", []Packet{text(Message, "a"), text(Message, "b")}, ErrParse},
		{"binary then separator", "bAQIDBA==\x1e", []Packet{binary(1, 2, 3, 4)}, ErrParse},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeAll([]byte(tc.in))
			if !errors.Is(err, ErrParse) {
				t.Fatalf("DecodePayload(%q) error = %v, want ErrParse", tc.in, err)
			}
			checkPackets(t, tc.in, got, tc.want)
		})
	}
}

func TestDecodePayloadCallbackError(t *testing.T) {
	stop := errors.New("stop")
	in := []byte("4a\x1e4b\x1e4c")
	for stopAt := 1; stopAt <= 3; stopAt++ {
		calls := 0
		err := DecodePayload(in, func(p Packet) error {
			calls++
			if calls == stopAt {
				return stop
			}
			return nil
		})
		if err != stop {
			t.Errorf("stopAt %d: error = %v, want the callback's error", stopAt, err)
		}
		if calls != stopAt {
			t.Errorf("stopAt %d: fn called %d times", stopAt, calls)
		}
	}
	// A callback error wins over a later parse error.
	calls := 0
	err := DecodePayload([]byte("4a\x1exyz"), func(Packet) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Errorf("got error %v after %d calls, want the callback error after 1", err, calls)
	}
}

func TestAppendText(t *testing.T) {
	cases := []struct {
		typ  Type
		data string
		want string
	}{
		{Open, `{"sid":"x"}`, `0{"sid":"x"}`},
		{Close, "", "1"},
		{Ping, "", "2"},
		{Ping, "probe", "2probe"},
		{Pong, "", "3"},
		{Pong, "probe", "3probe"},
		{Message, "hello", "4hello"},
		{Message, "", "4"},
		{Message, `2["x"]`, `42["x"]`},
		{Upgrade, "", "5"},
		{Noop, "", "6"},
	}
	for _, tc := range cases {
		got := AppendText(nil, tc.typ, []byte(tc.data))
		if string(got) != tc.want {
			t.Errorf("AppendText(%d, %q) = %q, want %q", tc.typ, tc.data, got, tc.want)
		}
		// Appending keeps the prefix.
		got = AppendText([]byte("4a\x1e"), tc.typ, []byte(tc.data))
		if string(got) != "4a\x1e"+tc.want {
			t.Errorf("AppendText with prefix = %q", got)
		}
		// Round trip.
		p, err := DecodeText(AppendText(nil, tc.typ, []byte(tc.data)))
		if err != nil || !samePacket(p, text(tc.typ, tc.data)) {
			t.Errorf("round trip of %d %q = %s, %v", tc.typ, tc.data, fmtPacket(p), err)
		}
	}
}

func TestAppendPayloadBinary(t *testing.T) {
	cases := []struct {
		data []byte
		want string
	}{
		{nil, "b"},
		{[]byte{}, "b"},
		{[]byte{0}, "bAA=="},
		{[]byte{1, 2}, "bAQI="},
		{[]byte{1, 2, 3}, "bAQID"},
		{[]byte{1, 2, 3, 4}, "bAQIDBA=="},
		{[]byte{0xff}, "b/w=="},
		{[]byte{0xfb, 0xff}, "b+/8="},
		{[]byte("hello"), "baGVsbG8="},
	}
	for _, tc := range cases {
		got := AppendPayloadBinary(nil, tc.data)
		if string(got) != tc.want {
			t.Errorf("AppendPayloadBinary(% x) = %q, want %q", tc.data, got, tc.want)
		}
		p, err := DecodeText(got)
		if err != nil || !samePacket(p, binary(tc.data...)) {
			t.Errorf("DecodeText(%q) = %s, %v", got, fmtPacket(p), err)
		}
	}

	// The brief's payload built with the encoders.
	payload := AppendText(nil, Message, []byte("hello"))
	payload = append(payload, Separator)
	payload = AppendPayloadBinary(payload, []byte{1, 2, 3, 4})
	if string(payload) != "4hello\x1ebAQIDBA==" {
		t.Fatalf("payload = %q", payload)
	}

	// Appending into spare capacity must not disturb the prefix.
	dst := make([]byte, 3, 64)
	copy(dst, "4x\x1e")
	got := AppendPayloadBinary(dst, []byte{1, 2, 3, 4})
	if string(got) != "4x\x1ebAQIDBA==" {
		t.Fatalf("append into capacity = %q", got)
	}
}

func TestBinaryRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for n := 0; n <= 200; n++ {
		data := make([]byte, n)
		rng.Read(data)
		enc := AppendPayloadBinary([]byte("prefix"), data)
		if !bytes.HasPrefix(enc, []byte("prefixb")) {
			t.Fatalf("n=%d: prefix lost: %q", n, enc)
		}
		p, err := DecodeText(enc[len("prefix"):])
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if !p.Binary || p.Type != Message || !bytes.Equal(p.Data, data) {
			t.Fatalf("n=%d: round trip = %s, want % x", n, fmtPacket(p), data)
		}
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	packets := []Packet{
		text(Open, `{"sid":"x"}`),
		text(Message, "hello"),
		binary(1, 2, 3, 4),
		binary(),
		text(Ping, "probe"),
		text(Message, ""),
		binary(0xff, 0, 0x1e),
		text(Noop, ""),
	}
	for n := 1; n <= len(packets); n++ {
		var payload []byte
		for i, p := range packets[:n] {
			if i > 0 {
				payload = append(payload, Separator)
			}
			if p.Binary {
				payload = AppendPayloadBinary(payload, p.Data)
			} else {
				payload = AppendText(payload, p.Type, p.Data)
			}
		}
		got, err := decodeAll(payload)
		if err != nil {
			t.Fatalf("DecodePayload(%q) = %v", payload, err)
		}
		checkPackets(t, string(payload), got, packets[:n])
	}
}
