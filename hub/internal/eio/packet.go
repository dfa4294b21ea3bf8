// Package eio holds the Engine.IO v4 wire codec: single packets and the
// long-polling payload that joins them with the record separator; and
// revision 3's, for socket.io-client 2.x (v3.go).
//
// A text packet is one type digit followed by UTF-8 data ("4hello", "2",
// "3probe"). A binary packet is always a message; over WebSocket it is a
// binary frame with no prefix, inside a polling payload it is "b" followed by
// standard base64.
package eio

import (
	"encoding/base64"
	"errors"
	"slices"
	"unicode/utf8"
)

// Type is an Engine.IO packet type.
type Type byte

// The Engine.IO v4 packet types.
const (
	Open Type = iota
	Close
	Ping
	Pong
	Message
	Upgrade
	Noop
)

// Separator joins packets in a polling payload.
const Separator = 0x1e

// ErrParse reports a packet or payload that does not follow the protocol.
var ErrParse = errors.New("eio: parse error")

// Packet is one decoded Engine.IO packet. Data aliases the input it was
// decoded from unless stated otherwise.
type Packet struct {
	Type   Type
	Data   []byte
	Binary bool // a binary message (only with Type == Message)
}

// DecodeText decodes a text packet as carried by a WebSocket text frame.
// A "b" prefix is read as a base64 binary message, as the reference does.
func DecodeText(b []byte) (Packet, error) {
	if len(b) == 0 {
		return Packet{}, ErrParse
	}
	c := b[0]
	if c == 'b' {
		raw, err := decodeBase64(b[1:])
		if err != nil {
			return Packet{}, ErrParse
		}
		return Packet{Type: Message, Data: raw, Binary: true}, nil
	}
	if c < '0' || c > '6' {
		return Packet{}, ErrParse
	}
	if !utf8.Valid(b[1:]) {
		return Packet{}, ErrParse
	}
	return Packet{Type: Type(c - '0'), Data: b[1:]}, nil
}

// DecodePayload splits a polling payload and calls fn for each packet in
// order. It stops at the first malformed packet and returns ErrParse; the
// packets before it have already been handed to fn, as in the reference.
// fn's error stops decoding and is returned.
func DecodePayload(b []byte, fn func(Packet) error) error {
	if len(b) == 0 {
		return ErrParse
	}
	for len(b) > 0 {
		var part []byte
		trailing := false
		i := indexByte(b, Separator)
		if i < 0 {
			part, b = b, nil
		} else {
			part, b = b[:i], b[i+1:]
			trailing = len(b) == 0
		}
		p, err := DecodeText(part)
		if err != nil {
			return err
		}
		if err := fn(p); err != nil {
			return err
		}
		if trailing {
			return ErrParse
		}
	}
	return nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func decodeBase64(b []byte) ([]byte, error) {
	out := make([]byte, base64.StdEncoding.DecodedLen(len(b)))
	n, err := base64.StdEncoding.Decode(out, b)
	if err != nil {
		return nil, err
	}
	return out[:n], nil
}

// AppendText appends the text form of a packet of type t with data to dst.
func AppendText(dst []byte, t Type, data []byte) []byte {
	dst = append(dst, byte('0'+t))
	return append(dst, data...)
}

// AppendPayloadBinary appends a binary message in its polling form, "b"
// followed by standard base64.
func AppendPayloadBinary(dst, data []byte) []byte {
	dst = append(dst, 'b')
	n := base64.StdEncoding.EncodedLen(len(data))
	start := len(dst)
	dst = slices.Grow(dst, n)[:start+n]
	base64.StdEncoding.Encode(dst[start:], data)
	return dst
}
