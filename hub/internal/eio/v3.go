package eio

// Revision 3 of the protocol, spoken by engine.io-client 3.x (socket.io-client
// 2.x). Its packets are those of revision 4 but for binary ones, which carry
// their type: a binary WebSocket frame starts with the type byte (4 for a
// message) and a binary message in text form is "b4" followed by base64. Its
// polling payloads frame each packet with its length instead of joining
// them with a separator:
//
//   - a text payload prefixes each packet with its length in UTF-16 code
//     units (a JavaScript string's length) and a colon: "6:4hello1:2";
//   - a binary payload (application/octet-stream, for clients that did not
//     ask for base64) prefixes each packet with a kind byte (0 text, 1
//     binary), its length in bytes as one byte per decimal digit, and 255.
//
// Every length is the client's to choose, so the decoders check it against
// the bytes that are actually there before using it: they allocate nothing
// but a base64 packet's decoded bytes, which are fewer than its text.

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Errors of the revision 3 payload decoders; each wraps ErrParse.
var (
	errV3Empty      = fmt.Errorf("%w: empty payload", ErrParse)
	errV3Length     = fmt.Errorf("%w: bad packet length", ErrParse)
	errV3Overrun    = fmt.Errorf("%w: packet length beyond the payload", ErrParse)
	errV3Kind       = fmt.Errorf("%w: bad binary payload packet kind", ErrParse)
	errV3BinaryType = fmt.Errorf("%w: binary packet that is not a message", ErrParse)
)

// maxLengthDigits bounds the digits of a length prefix: ten digits exceed
// any payload a server accepts, and the value then fits an int64 whatever
// the digits are.
const maxLengthDigits = 10

// BinaryMessageV3 is the type byte that starts a binary message in
// revision 3.
const BinaryMessageV3 = byte(Message)

// DecodeTextV3 decodes a revision 3 text packet, as carried by a WebSocket
// text frame or inside a payload. A binary message in text form is "b4"
// followed by standard base64.
func DecodeTextV3(b []byte) (Packet, error) {
	if len(b) > 0 && b[0] == 'b' {
		if len(b) < 2 || b[1] != '0'+byte(Message) {
			return Packet{}, errV3BinaryType
		}
		raw, err := decodeBase64(b[2:])
		if err != nil {
			return Packet{}, ErrParse
		}
		return Packet{Type: Message, Data: raw, Binary: true}, nil
	}
	return DecodeText(b)
}

// DecodeBinaryV3 decodes a revision 3 binary WebSocket frame: the type byte,
// which must be that of a message, then the data.
func DecodeBinaryV3(b []byte) (Packet, error) {
	if len(b) == 0 || b[0] != BinaryMessageV3 {
		return Packet{}, errV3BinaryType
	}
	return Packet{Type: Message, Data: b[1:], Binary: true}, nil
}

// DecodePayloadV3 splits a revision 3 text payload and calls fn for each
// packet in order. A packet of length zero is skipped, as the reference
// does ("0:" is the empty payload). It stops at the first malformed packet
// with an error wrapping ErrParse; the packets before it have already been
// handed to fn, as in the reference. fn's error stops decoding and is
// returned.
func DecodePayloadV3(b []byte, fn func(Packet) error) error {
	if len(b) == 0 {
		return errV3Empty
	}
	for len(b) > 0 {
		n, rest, err := textLength(b)
		if err != nil {
			return err
		}
		end, err := utf16Prefix(rest, n)
		if err != nil {
			return err
		}
		msg := rest[:end]
		b = rest[end:]
		if len(msg) == 0 {
			continue
		}
		p, err := DecodeTextV3(msg)
		if err != nil {
			return err
		}
		if err := fn(p); err != nil {
			return err
		}
	}
	return nil
}

// textLength reads a text payload's "<digits>:" and returns the length and
// what follows the colon. The length is never more than len(b): a packet
// has at least one byte per UTF-16 code unit.
func textLength(b []byte) (int, []byte, error) {
	var n int64
	for i, c := range b {
		switch {
		case c == ':' && i > 0:
			if n > int64(len(b)-i-1) {
				return 0, nil, errV3Overrun
			}
			return int(n), b[i+1:], nil
		case c < '0' || c > '9' || i >= maxLengthDigits:
			return 0, nil, errV3Length
		}
		n = n*10 + int64(c-'0')
	}
	return 0, nil, errV3Length // no colon
}

// utf16Prefix returns how many bytes of b hold its first n UTF-16 code
// units. b must be valid UTF-8 that far and must not split a character
// there.
func utf16Prefix(b []byte, n int) (int, error) {
	i := 0
	for ; n > 0; n-- {
		if i >= len(b) {
			return 0, errV3Overrun
		}
		if c := b[i]; c < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return 0, fmt.Errorf("%w: invalid UTF-8", ErrParse)
		}
		if r > 0xffff {
			// Two code units: the length may not end between them.
			if n == 1 {
				return 0, errV3Length
			}
			n--
		}
		i += size
	}
	return i, nil
}

// UTF16Len returns the length of valid UTF-8 text b in UTF-16 code units,
// the length a revision 3 text payload gives a packet.
func UTF16Len(b []byte) int {
	n := 0
	for _, c := range b {
		switch {
		case c < 0x80 || c >= 0xc0 && c < 0xf0:
			n++ // one byte, or the start of a two- or three-byte character
		case c >= 0xf0:
			n += 2 // the start of a four-byte character: a surrogate pair
		}
	}
	return n
}

// DecodeBinaryPayloadV3 splits a revision 3 binary payload and calls fn for
// each packet in order, with the same error behaviour as DecodePayloadV3.
func DecodeBinaryPayloadV3(b []byte, fn func(Packet) error) error {
	if len(b) == 0 {
		return errV3Empty
	}
	for len(b) > 0 {
		kind := b[0]
		if kind > 1 {
			return errV3Kind
		}
		var n int64
		i := 1
		for ; i < len(b) && b[i] != 0xff; i++ {
			if b[i] > 9 || i > maxLengthDigits {
				return errV3Length
			}
			n = n*10 + int64(b[i])
		}
		if i == 1 || i == len(b) {
			return errV3Length // no digit, or no 255
		}
		b = b[i+1:]
		if n > int64(len(b)) {
			return errV3Overrun
		}
		msg := b[:n]
		b = b[n:]
		var p Packet
		var err error
		if kind == 0 {
			p, err = DecodeTextV3(msg)
		} else {
			p, err = DecodeBinaryV3(msg)
		}
		if err != nil {
			return err
		}
		if err := fn(p); err != nil {
			return err
		}
	}
	return nil
}

// AppendPayloadTextV3 appends text packet pkt (type digit included) to a
// revision 3 text payload. pkt must be valid UTF-8.
func AppendPayloadTextV3(dst, pkt []byte) []byte {
	dst = strconv.AppendInt(dst, int64(UTF16Len(pkt)), 10)
	dst = append(dst, ':')
	return append(dst, pkt...)
}

// AppendPayloadBase64V3 appends binary message data to a revision 3 text
// payload, in its text form "b4" followed by base64.
func AppendPayloadBase64V3(dst, data []byte) []byte {
	n := base64.StdEncoding.EncodedLen(len(data))
	dst = strconv.AppendInt(dst, int64(2+n), 10)
	dst = append(dst, ':', 'b', '0'+byte(Message))
	start := len(dst)
	dst = slices.Grow(dst, n)[:start+n]
	base64.StdEncoding.Encode(dst[start:], data)
	return dst
}

// AppendBinaryPayloadTextV3 appends text packet pkt (type digit included)
// to a revision 3 binary payload.
func AppendBinaryPayloadTextV3(dst, pkt []byte) []byte {
	dst = appendBinaryLength(append(dst, 0), len(pkt))
	return append(dst, pkt...)
}

// AppendBinaryPayloadBinaryV3 appends binary message data to a revision 3
// binary payload.
func AppendBinaryPayloadBinaryV3(dst, data []byte) []byte {
	dst = appendBinaryLength(append(dst, 1), 1+len(data))
	dst = append(dst, BinaryMessageV3)
	return append(dst, data...)
}

// appendBinaryLength appends n as one byte per decimal digit, then 255.
func appendBinaryLength(dst []byte, n int) []byte {
	start := len(dst)
	dst = strconv.AppendInt(dst, int64(n), 10)
	for i := start; i < len(dst); i++ {
		dst[i] -= '0'
	}
	return append(dst, 0xff)
}
