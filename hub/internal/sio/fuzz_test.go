package sio

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

const fuzzMaxAttachments = 10

// FuzzDecode checks what a successful Decode promises: valid UTF-8, a
// well-formed header,
// a payload of the right JSON shape, Event and Args that are exactly the
// array elements, placeholders in range (on the parsed JSON), and a header
// re-encoded with AppendHeader that decodes to the same packet.
func FuzzDecode(f *testing.F) {
	for _, tc := range decodeCases {
		f.Add([]byte(tc.in))
	}
	for _, ex := range briefExamples {
		f.Add([]byte(ex.in))
	}
	for _, cases := range [][]decodeCase{trailingWhitespaceCases, escapedPlaceholderCases, attachDigitsCases} {
		for _, tc := range cases {
			f.Add([]byte(tc.in))
		}
	}
	for _, s := range []string{
		`2["a",1] `, `3[ ] `, "2[\"x\"]\n", `2[1.5,2]`,
		`52-["x",{"a":{"_placeholder":true,"num":1}},[{"_placeholder":true,"num":0}]]`,
		`51-["x",{"\u005fplaceholder":true,"num":1}]`,
		`2["a\\",",1]`, `2["\"",{"\"":"\\\""}]`,
		`2/a,b,1["x"]`, `0/a/b/c,1{}`, `3/,0[]`,
		`2[` + strings.Repeat("[", 50) + strings.Repeat("]", 50) + `]`,
	} {
		f.Add([]byte(s))
	}

	f.Fuzz(func(t *testing.T, in []byte) {
		orig := bytes.Clone(in)
		p, err := Decode(in, fuzzMaxAttachments)
		if !bytes.Equal(in, orig) {
			t.Fatalf("Decode modified its input")
		}
		if err != nil {
			switch {
			case errors.Is(err, ErrUnknownType), errors.Is(err, ErrIllegalAttach), errors.Is(err, ErrTooManyAttach),
				errors.Is(err, ErrInvalidPayload), errors.Is(err, ErrReservedEvent), errors.Is(err, ErrIllegalNamespace),
				errors.Is(err, ErrInvalidUTF8):
			default:
				t.Fatalf("Decode(%q) returned an undocumented error %v", in, err)
			}
			// With no bound, a count can no longer be too large.
			if _, err2 := Decode(in, 0); errors.Is(err2, ErrTooManyAttach) {
				t.Fatalf("Decode(%q, 0) = ErrTooManyAttach", in)
			}
			return
		}
		if !utf8.Valid(in) {
			t.Fatalf("Decode(%q) accepted invalid UTF-8", in)
		}
		checkDecoded(t, in, p)

		// Without a bound the result is the same.
		if q, err := Decode(in, 0); err != nil || !samePacket(p, q) {
			t.Fatalf("Decode(%q, 0) = %+v, %v; with bound %+v", in, q, err, p)
		}

		// Re-encode and decode again.
		enc := AppendHeader(nil, Header{Type: p.Type, Nsp: p.Nsp, ID: p.ID, Attachments: p.Attachments})
		enc = append(enc, p.Data...)
		q, err := Decode(enc, fuzzMaxAttachments)
		if err != nil {
			t.Fatalf("re-encoded %q as %q, which does not decode: %v", in, enc, err)
		}
		if !samePacket(p, q) {
			t.Fatalf("re-encoded %q as %q: got %+v, want %+v", in, enc, q, p)
		}
		// The encoding is stable.
		enc2 := append(AppendHeader(nil, Header{Type: q.Type, Nsp: q.Nsp, ID: q.ID, Attachments: q.Attachments}), q.Data...)
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable: %q then %q", enc, enc2)
		}
	})
}

func checkDecoded(t *testing.T, in []byte, p Packet) {
	t.Helper()
	if p.Type > BinaryAck || in[0] != byte('0'+p.Type) {
		t.Fatalf("Decode(%q) type %d", in, p.Type)
	}
	if !strings.HasPrefix(p.Nsp, "/") || strings.Contains(p.Nsp, ",") {
		t.Fatalf("Decode(%q) namespace %q", in, p.Nsp)
	}
	if p.ID != NoID && (p.ID < 0 || p.ID > 1<<53) {
		t.Fatalf("Decode(%q) ack id %d", in, p.ID)
	}
	binary := p.Type == BinaryEvent || p.Type == BinaryAck
	if (!binary && p.Attachments != 0) || p.Attachments < 0 || p.Attachments > fuzzMaxAttachments {
		t.Fatalf("Decode(%q) %d attachments for type %d", in, p.Attachments, p.Type)
	}
	if p.Data != nil {
		if len(p.Data) == 0 || !bytes.HasSuffix(in, p.Data) || !json.Valid(p.Data) {
			t.Fatalf("Decode(%q) Data %q is not a JSON suffix of the input", in, p.Data)
		}
	}
	if p.Type != Event && p.Type != BinaryEvent && p.Event != "" {
		t.Fatalf("Decode(%q) Event %q on type %d", in, p.Event, p.Type)
	}
	if p.Args != nil && p.Type != Event && p.Type != BinaryEvent && p.Type != Ack && p.Type != BinaryAck {
		t.Fatalf("Decode(%q) Args %q on type %d", in, p.Args, p.Type)
	}

	// The span of the arguments' array, when given, holds the comma, the
	// arguments and the closing bracket, and nothing else.
	if p.ArgsHi != 0 {
		if p.ArgsLo < 0 || p.ArgsHi > len(p.Data) || p.ArgsLo >= p.ArgsHi || p.Data[p.ArgsLo] != ',' {
			t.Fatalf("Decode(%q): args span [%d,%d) of Data %q", in, p.ArgsLo, p.ArgsHi, p.Data)
		}
		framed := append([]byte{'['}, p.Data[p.ArgsLo+1:p.ArgsHi]...)
		if want := "[" + string(p.Args) + "]"; string(framed) != want || !json.Valid(framed) {
			t.Fatalf("Decode(%q): args span gives %q, want %q", in, framed, want)
		}
	}

	// Every argument is valid JSON.
	args := SplitArgs(p.Args)
	for i, a := range args {
		if !json.Valid(a) {
			t.Fatalf("Decode(%q): argument %d %q is not valid JSON (Args %q)", in, i, a, p.Args)
		}
	}

	switch p.Type {
	case Connect:
		if p.Data != nil && firstByte(p.Data) != '{' {
			t.Fatalf("Decode(%q): CONNECT payload is not an object", in)
		}
	case Disconnect:
		if p.Data != nil {
			t.Fatalf("Decode(%q): DISCONNECT with a payload", in)
		}
	case ConnectError:
		if c := firstByte(p.Data); c != '{' && c != '"' {
			t.Fatalf("Decode(%q): CONNECT_ERROR payload is neither object nor string", in)
		}
	case Event, BinaryEvent, Ack, BinaryAck:
		var elems []json.RawMessage
		if firstByte(p.Data) != '[' || json.Unmarshal(p.Data, &elems) != nil {
			t.Fatalf("Decode(%q): payload %q is not an array", in, p.Data)
		}
		if p.Type == Event || p.Type == BinaryEvent {
			if len(elems) == 0 {
				t.Fatalf("Decode(%q): empty event array accepted", in)
			}
			first := elems[0]
			var name string
			switch c := first[0]; {
			case c == '"':
				if err := json.Unmarshal(first, &name); err != nil {
					t.Fatal(err)
				}
				if Reserved(name) {
					t.Fatalf("Decode(%q): reserved event %q accepted", in, name)
				}
			case c == '-' || (c >= '0' && c <= '9'):
				name = string(first)
			default:
				t.Fatalf("Decode(%q): event name %q is neither string nor number", in, first)
			}
			if p.Event != name {
				t.Fatalf("Decode(%q): Event %q, want %q", in, p.Event, name)
			}
			elems = elems[1:]
		}
		if len(args) != len(elems) {
			t.Fatalf("Decode(%q): Args %q split into %d arguments, the array holds %d", in, p.Args, len(args), len(elems))
		}
		for i := range args {
			if !bytes.Equal(args[i], elems[i]) {
				t.Fatalf("Decode(%q): argument %d = %q, want %q", in, i, args[i], elems[i])
			}
		}
	}

	if binary {
		// Numbers stay json.Number: a valid JSON number may be too large
		// for a float64.
		var v any
		d := json.NewDecoder(bytes.NewReader(p.Data))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
		if bad := badPlaceholder(v, p.Attachments); bad != nil {
			t.Fatalf("Decode(%q) accepted placeholder %v with %d attachments", in, bad, p.Attachments)
		}
	}
}

// firstByte returns the first byte of a JSON text after any whitespace.
func firstByte(b []byte) byte {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

// badPlaceholder returns a placeholder object of v whose num is not an
// integer in [0, n), as the reference's reconstructPacket would reject (or
// resolve to undefined, for a non-integer num).
func badPlaceholder(v any, n int) any {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if bad := badPlaceholder(e, n); bad != nil {
				return bad
			}
		}
	case map[string]any:
		if x["_placeholder"] == true {
			jn, ok := x["num"].(json.Number)
			num, err := jn.Float64()
			if !ok || err != nil || num < 0 || num >= float64(n) || num != float64(int(num)) {
				return x
			}
			return nil
		}
		for _, e := range x {
			if bad := badPlaceholder(e, n); bad != nil {
				return bad
			}
		}
	}
	return nil
}
