package eio

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// describe renders decoded packets for comparison: "4:hello", "4b:AQID".
func describe(ps []Packet) string {
	var parts []string
	for _, p := range ps {
		if p.Binary {
			parts = append(parts, fmt.Sprintf("%db:%x", p.Type, p.Data))
		} else {
			parts = append(parts, fmt.Sprintf("%d:%s", p.Type, p.Data))
		}
	}
	return strings.Join(parts, "|")
}

func collect(decode func([]byte, func(Packet) error) error, in []byte) (string, error) {
	var ps []Packet
	err := decode(in, func(p Packet) error {
		p.Data = bytes.Clone(p.Data)
		ps = append(ps, p)
		return nil
	})
	return describe(ps), err
}

var payloadV3Cases = []struct {
	name, in, want string
	ok             bool
}{
	{"one", "6:4hello", "4:hello", true},
	{"two", "6:4hello1:2", "4:hello|2:", true},
	{"empty payload", "0:", "", true},
	{"empty packet skipped", "0:1:2", "2:", true},
	{"open", "3:0{}", "0:{}", true},
	{"probe", "6:2probe", "2:probe", true},
	{"base64", "6:b4AQID", "4b:010203", true},
	{"utf-16 units", "3:4é€", "4:é€", true},
	{"surrogate pair is two units", "3:4😀", "4:😀", true},
	{"leading zeros", "006:4hello", "4:hello", true},
	{"nothing", "", "", false},
	{"no colon", "6", "", false},
	{"no length", ":4hello", "", false},
	{"non-digit length", "6a:4hello", "", false},
	{"negative length", "-6:4hello", "", false},
	{"plus sign", "+6:4hello", "", false},
	{"hex length", "0x6:4hello", "", false},
	{"length too long", "7:4hello", "", false},
	{"length too short", "5:4hello", "4:hell", false},
	{"huge length", "99999999999999999999:4", "", false},
	{"length overflowing int64", "18446744073709551617:4", "", false},
	{"ten digits beyond the payload", "9999999999:4", "", false},
	{"length splits a surrogate pair", "2:4😀", "", false},
	{"length in bytes, not units", "4:4é", "", false},
	{"unknown type", "1:9", "", false},
	{"bad base64", "4:b4A!", "", false},
	{"base64 of another type", "6:b2AQID", "", false},
	{"invalid utf-8", "2:4\xff", "", false},
	{"trailing digits", "1:2 3", "2:", false},
	{"good then bad", "1:2x", "2:", false},
}

func TestDecodePayloadV3(t *testing.T) {
	for _, tc := range payloadV3Cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := collect(DecodePayloadV3, []byte(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("DecodePayloadV3(%q) error = %v, want ok=%v", tc.in, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrParse) {
				t.Fatalf("error %v is not ErrParse", err)
			}
			if got != tc.want {
				t.Fatalf("DecodePayloadV3(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// binaryPayload builds a revision 3 binary payload from kind and bytes
// pairs, with the length written as the reference writes it.
func binaryPayload(parts ...any) []byte {
	var b []byte
	for i := 0; i < len(parts); i += 2 {
		msg := []byte(parts[i+1].(string))
		b = append(b, byte(parts[i].(int)))
		b = appendBinaryLength(b, len(msg))
		b = append(b, msg...)
	}
	return b
}

func TestDecodeBinaryPayloadV3(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		want string
		ok   bool
	}{
		{"text", binaryPayload(0, "4hello"), "4:hello", true},
		{"binary", binaryPayload(1, "\x04\x01\x02"), "4b:0102", true},
		{"mixed", binaryPayload(0, `451-["a",{"_placeholder":true,"num":0}]`, 1, "\x04\xff\x00", 0, "2"),
			`4:51-["a",{"_placeholder":true,"num":0}]|4b:ff00|2:`, true},
		{"text holding base64", binaryPayload(0, "b4AQ=="), "4b:01", true},
		{"twelve bytes", binaryPayload(1, "\x04abcdefghijk"), "4b:6162636465666768696a6b", true},
		{"empty", nil, "", false},
		{"bad kind", []byte{2, 1, 0xff, '2'}, "", false},
		{"no digits", []byte{0, 0xff, '2'}, "", false},
		{"no 255", []byte{0, 1, 2, 3}, "", false},
		{"digit above 9", []byte{0, 10, 0xff, '2'}, "", false},
		{"length beyond payload", []byte{0, 9, 0xff, '2'}, "", false},
		{"huge length", append([]byte{1}, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 0xff, 4), "", false},
		{"ten nines", []byte{1, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 0xff, 4}, "", false},
		{"binary not a message", binaryPayload(1, "\x02ab"), "", false},
		{"empty binary", binaryPayload(1, ""), "", false},
		{"bad text", binaryPayload(0, "4ok", 0, "x"), "4:ok", false},
		{"invalid utf-8 text", binaryPayload(0, "4\xff"), "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := collect(DecodeBinaryPayloadV3, tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("DecodeBinaryPayloadV3(%q) error = %v, want ok=%v", tc.in, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrParse) {
				t.Fatalf("error %v is not ErrParse", err)
			}
			if got != tc.want {
				t.Fatalf("DecodeBinaryPayloadV3(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestDecodeFramesV3(t *testing.T) {
	p, err := DecodeBinaryV3([]byte{4, 1, 2})
	if err != nil || !p.Binary || p.Type != Message || !bytes.Equal(p.Data, []byte{1, 2}) {
		t.Fatalf("DecodeBinaryV3 = %+v, %v", p, err)
	}
	for _, bad := range [][]byte{nil, {}, {2, 1}, {0}} {
		if _, err := DecodeBinaryV3(bad); !errors.Is(err, ErrParse) {
			t.Errorf("DecodeBinaryV3(%v) error = %v, want ErrParse", bad, err)
		}
	}
	p, err = DecodeTextV3([]byte("b4AQI="))
	if err != nil || !p.Binary || !bytes.Equal(p.Data, []byte{1, 2}) {
		t.Fatalf("DecodeTextV3(b4AQI=) = %+v, %v", p, err)
	}
	for _, bad := range []string{"b", "bAQI=", "b4!!", ""} {
		if _, err := DecodeTextV3([]byte(bad)); !errors.Is(err, ErrParse) {
			t.Errorf("DecodeTextV3(%q) error = %v, want ErrParse", bad, err)
		}
	}
}

func TestEncodePayloadV3(t *testing.T) {
	var b []byte
	b = AppendPayloadTextV3(b, []byte("0{}"))
	b = AppendPayloadTextV3(b, []byte("4é😀"))
	b = AppendPayloadBase64V3(b, []byte{1, 2, 3})
	if got, want := string(b), "3:0{}4:4é😀6:b4AQID"; got != want {
		t.Fatalf("text payload = %q, want %q", got, want)
	}
	got, err := collect(DecodePayloadV3, b)
	if err != nil || got != "0:{}|4:é😀|4b:010203" {
		t.Fatalf("decoded back: %q, %v", got, err)
	}

	var bin []byte
	bin = AppendBinaryPayloadTextV3(bin, []byte("4hello world"))
	bin = AppendBinaryPayloadBinaryV3(bin, []byte{9, 8})
	want := append([]byte{0, 1, 2, 0xff}, "4hello world"...)
	want = append(want, 1, 3, 0xff, 4, 9, 8)
	if !bytes.Equal(bin, want) {
		t.Fatalf("binary payload = %v, want %v", bin, want)
	}
	got, err = collect(DecodeBinaryPayloadV3, bin)
	if err != nil || got != "4:hello world|4b:0908" {
		t.Fatalf("decoded back: %q, %v", got, err)
	}
}

func TestUTF16Len(t *testing.T) {
	for in, want := range map[string]int{"": 0, "abc": 3, "é": 1, "€": 1, "😀": 2, "a😀é": 4} {
		if got := UTF16Len([]byte(in)); got != want {
			t.Errorf("UTF16Len(%q) = %d, want %d", in, got, want)
		}
	}
}

// FuzzEIO3Payload feeds both revision 3 payload decoders anything: they
// must not panic, must fail with ErrParse, must hand out no packet longer
// than the input, and what they decode must encode back to a payload that
// decodes to the same packets.
func FuzzEIO3Payload(f *testing.F) {
	for _, tc := range payloadV3Cases {
		f.Add([]byte(tc.in))
	}
	f.Add(binaryPayload(0, "4hello", 1, "\x04\x01\x02"))
	f.Add([]byte{1, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 0xff, 4})
	f.Add([]byte("2:4é1:6"))
	f.Fuzz(func(t *testing.T, in []byte) {
		orig := bytes.Clone(in)
		for _, dec := range []struct {
			name   string
			decode func([]byte, func(Packet) error) error
		}{{"text", DecodePayloadV3}, {"binary", DecodeBinaryPayloadV3}} {
			var ps []Packet
			err := dec.decode(in, func(p Packet) error {
				if len(p.Data) > len(in) {
					t.Fatalf("%s: packet of %d bytes from %d", dec.name, len(p.Data), len(in))
				}
				p.Data = bytes.Clone(p.Data)
				ps = append(ps, p)
				return nil
			})
			if !bytes.Equal(in, orig) {
				t.Fatalf("%s decoder modified its input", dec.name)
			}
			if err != nil {
				if !errors.Is(err, ErrParse) {
					t.Fatalf("%s: error %v is not ErrParse", dec.name, err)
				}
				continue
			}
			var text, bin []byte
			for _, p := range ps {
				if p.Binary {
					text = AppendPayloadBase64V3(text, p.Data)
					bin = AppendBinaryPayloadBinaryV3(bin, p.Data)
				} else {
					pkt := AppendText(nil, p.Type, p.Data)
					text = AppendPayloadTextV3(text, pkt)
					bin = AppendBinaryPayloadTextV3(bin, pkt)
				}
			}
			want := describe(ps)
			if len(ps) == 0 {
				continue // nothing to encode back ("0:")
			}
			if got, err := collect(DecodePayloadV3, text); err != nil || got != want {
				t.Fatalf("%s: %q decoded to %q; as a text payload %q it decodes to %q, %v", dec.name, in, want, text, got, err)
			}
			if got, err := collect(DecodeBinaryPayloadV3, bin); err != nil || got != want {
				t.Fatalf("%s: %q decoded to %q; as a binary payload it decodes to %q, %v", dec.name, in, want, got, err)
			}
		}
	})
}

// TestDecodePayloadV3Allocs: a length a client claims costs nothing: the
// decoders allocate only a base64 packet's bytes, never for a length.
func TestDecodePayloadV3Allocs(t *testing.T) {
	noop := func(Packet) error { return nil }
	for _, in := range [][]byte{
		[]byte("9999999999:4"),
		[]byte("99999999999999999999:4"),
		[]byte("5:4hello1:2"),
		{1, 9, 9, 9, 9, 9, 9, 9, 9, 9, 0xff, 4},
		binaryPayload(0, "4hello", 1, "\x04\x01"),
	} {
		n := testing.AllocsPerRun(100, func() {
			_ = DecodePayloadV3(in, noop)
			_ = DecodeBinaryPayloadV3(in, noop)
		})
		if n != 0 {
			t.Errorf("%q: %v allocations", in, n)
		}
	}
}
