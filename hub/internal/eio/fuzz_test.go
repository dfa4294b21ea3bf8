package eio

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"
	"unicode/utf8"
)

// fuzzSeeds returns every input of the unit tables plus a few extra shapes.
func fuzzSeeds() [][]byte {
	var seeds [][]byte
	for _, tc := range textCases {
		seeds = append(seeds, []byte(tc.in))
	}
	for _, tc := range payloadCases {
		seeds = append(seeds, []byte(tc.in))
	}
	for _, s := range []string{
		"4hello\x1e", "4a\x1e4b\x1e", "bAQIDBA==\x1e",
		"4test1\x1e4test2\x1e4test3",
		"bAQ\nIDBA==", "bAQ\r\nIDBA==", "bAR==", "bAQJ=",
		"0\x1e1\x1e2\x1e3\x1e4\x1e5\x1e6",
		"4\xef\xbb\xbfbom",
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// FuzzDecodeText checks that DecodeText accepts exactly the well-formed
// packets and that the encoders reproduce what it decoded.
func FuzzDecodeText(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		orig := bytes.Clone(in)
		p, err := DecodeText(in)
		if !bytes.Equal(in, orig) {
			t.Fatalf("DecodeText modified its input")
		}

		// What the protocol says about this input.
		var wantOK bool
		var wantBin []byte
		switch {
		case len(in) == 0:
		case in[0] == 'b':
			raw, derr := base64.StdEncoding.DecodeString(string(in[1:]))
			wantOK, wantBin = derr == nil, raw
		case in[0] >= '0' && in[0] <= '6':
			wantOK = utf8.Valid(in[1:])
		}

		if err != nil {
			if !errors.Is(err, ErrParse) {
				t.Fatalf("DecodeText(%q) error %v is not ErrParse", in, err)
			}
			if wantOK {
				t.Fatalf("DecodeText(%q) rejected a well-formed packet: %v", in, err)
			}
		} else {
			if !wantOK {
				t.Fatalf("DecodeText(%q) accepted a malformed packet: %s", in, fmtPacket(p))
			}
			if p.Binary {
				if in[0] != 'b' || p.Type != Message {
					t.Fatalf("DecodeText(%q) = %s: binary must come from \"b\" and be a message", in, fmtPacket(p))
				}
				if !bytes.Equal(p.Data, wantBin) {
					t.Fatalf("DecodeText(%q) data % x, want % x", in, p.Data, wantBin)
				}
				enc := AppendPayloadBinary(nil, p.Data)
				q, err := DecodeText(enc)
				if err != nil || !q.Binary || q.Type != Message || !bytes.Equal(q.Data, p.Data) {
					t.Fatalf("binary round trip %q -> %s, %v", enc, fmtPacket(q), err)
				}
				// The encoder's output is canonical: it re-encodes to itself.
				if again := AppendPayloadBinary(nil, q.Data); !bytes.Equal(again, enc) {
					t.Fatalf("AppendPayloadBinary not stable: %q vs %q", again, enc)
				}
			} else {
				if in[0] == 'b' || p.Type > Noop || byte('0'+p.Type) != in[0] {
					t.Fatalf("DecodeText(%q) = %s: wrong type", in, fmtPacket(p))
				}
				if !utf8.Valid(p.Data) {
					t.Fatalf("DecodeText(%q) returned non-UTF-8 data", in)
				}
				if enc := AppendText(nil, p.Type, p.Data); !bytes.Equal(enc, in) {
					t.Fatalf("AppendText re-encodes %q as %q", in, enc)
				}
			}
		}

		// Any byte string survives the binary encoding.
		enc := AppendPayloadBinary([]byte("4x\x1e"), in)
		if !bytes.HasPrefix(enc, []byte("4x\x1eb")) {
			t.Fatalf("AppendPayloadBinary lost the prefix: %q", enc)
		}
		q, err := DecodeText(enc[3:])
		if err != nil || !q.Binary || q.Type != Message || !bytes.Equal(q.Data, in) {
			t.Fatalf("binary round trip of % x -> %s, %v", in, fmtPacket(q), err)
		}
		if bytes.IndexByte(enc[3:], Separator) >= 0 {
			t.Fatalf("binary encoding contains the separator: %q", enc)
		}
	})
}

// FuzzDecodePayload compares DecodePayload with a split-and-decode model of
// the reference (engine.io-parser's decodePayload): split on 0x1E, decode each
// part in order, stop at the first bad one after handing over all earlier
// packets. Successful payloads must re-encode and decode to the same packets.
func FuzzDecodePayload(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := decodeAll(in)

		// Reference model.
		var want []Packet
		var wantErr error
		if len(in) == 0 {
			wantErr = ErrParse
		} else {
			for _, part := range bytes.Split(in, []byte{Separator}) {
				p, perr := DecodeText(part)
				if perr != nil {
					wantErr = ErrParse
					break
				}
				want = append(want, p)
			}
		}

		if (err == nil) != (wantErr == nil) || (err != nil && !errors.Is(err, ErrParse)) {
			t.Fatalf("DecodePayload(%q) error = %v, want %v", in, err, wantErr)
		}
		checkPackets(t, string(in), got, want)

		if err != nil {
			return
		}

		// Re-encode and decode again.
		var enc []byte
		textOnly := true
		for i, p := range got {
			if i > 0 {
				enc = append(enc, Separator)
			}
			if p.Binary {
				textOnly = false
				enc = AppendPayloadBinary(enc, p.Data)
			} else {
				enc = AppendText(enc, p.Type, p.Data)
			}
		}
		if textOnly && !bytes.Equal(enc, in) {
			t.Fatalf("re-encoding %q gave %q", in, enc)
		}
		again, err := decodeAll(enc)
		if err != nil {
			t.Fatalf("re-encoded payload %q does not decode: %v", enc, err)
		}
		checkPackets(t, string(enc), again, got)

		// A callback error stops decoding at once and is returned as is.
		stop := errors.New("stop")
		calls := 0
		err = DecodePayload(in, func(Packet) error {
			calls++
			if calls == len(got) {
				return stop
			}
			return nil
		})
		if err != stop || calls != len(got) {
			t.Fatalf("callback error: got %v after %d calls, want stop after %d", err, calls, len(got))
		}
	})
}
