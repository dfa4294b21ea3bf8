// Package sio holds the Socket.IO v5 packet codec (the default text parser):
//
//	<type>[<attachments>-][<nsp>,][<ack id>][<JSON payload>]
//
// Payloads stay raw JSON: the decoder validates them and finds the event name
// and the argument list without building values, so an event can be relayed
// byte for byte.
//
// A packet that is not valid UTF-8 is refused as a whole (ErrInvalidUTF8)
// rather than repaired: relayed byte for byte, it would reach WebSocket
// recipients in text frames, which clients must drop the connection over,
// and no client that encodes JavaScript strings can produce one. (The
// Engine.IO decoder refuses such text first; the check here keeps the
// decoder's promise on its own, for hub.RawArgs too.)
package sio

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"
)

// Type is a Socket.IO packet type.
type Type byte

// The Socket.IO v5 packet types.
const (
	Connect Type = iota
	Disconnect
	Event
	Ack
	ConnectError
	BinaryEvent
	BinaryAck
)

// NoID marks a packet that carries no ack id.
const NoID = -1

// Errors returned by Decode.
var (
	ErrUnknownType      = errors.New("sio: unknown packet type")
	ErrIllegalAttach    = errors.New("sio: illegal attachments")
	ErrTooManyAttach    = errors.New("sio: too many attachments")
	ErrInvalidPayload   = errors.New("sio: invalid payload")
	ErrReservedEvent    = errors.New("sio: reserved event name")
	ErrIllegalNamespace = errors.New("sio: illegal namespace")
	ErrInvalidUTF8      = errors.New("sio: packet is not valid UTF-8")
)

// reserved holds the event names a client may not send (and the server may
// not emit).
var reserved = map[string]bool{
	"connect":        true,
	"connect_error":  true,
	"disconnect":     true,
	"disconnecting":  true,
	"newListener":    true,
	"removeListener": true,
}

// Reserved reports whether name is one of Socket.IO's reserved event names.
func Reserved(name string) bool { return reserved[name] }

// Packet is a decoded Socket.IO packet. Byte slices alias the decoded input.
type Packet struct {
	Type        Type
	Nsp         string
	ID          int64 // NoID when absent
	Attachments int   // only for BinaryEvent and BinaryAck
	// Data is the raw JSON payload, nil when there is none.
	Data []byte
	// Event is the event name of an Event or BinaryEvent (a number is kept
	// in its JSON text form).
	Event string
	// Args is the argument list of an event or ack: the elements of the JSON
	// array, comma-separated, without the brackets (and without the event
	// name for events).
	Args []byte
	// ArgsLo and ArgsHi, when ArgsHi is not zero, are where an event's
	// Args sit in Data with the comma before them and the closing bracket
	// after (Data[ArgsLo] is ',' and Data[ArgsHi-1] is ']', nothing else
	// in between but Args): with '[' written over that comma,
	// Data[ArgsLo:ArgsHi] is Args as a JSON array, for whoever owns the
	// input and wants the array without a copy.
	ArgsLo, ArgsHi int
}

// Decode decodes a text packet; its namespace, event name and payload are
// valid UTF-8 when it succeeds. maxAttachments bounds the attachment count of
// binary packets (0 means no bound).
func Decode(b []byte, maxAttachments int) (Packet, error) {
	p := Packet{ID: NoID, Nsp: "/"}
	if len(b) == 0 || b[0] < '0' || b[0] > '6' {
		return p, ErrUnknownType
	}
	if !utf8.Valid(b) {
		return p, ErrInvalidUTF8
	}
	p.Type = Type(b[0] - '0')
	i := 1
	if p.Type == BinaryEvent || p.Type == BinaryAck {
		j := i
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j == i || j >= len(b) || b[j] != '-' {
			return p, ErrIllegalAttach
		}
		k := i
		for k < j-1 && b[k] == '0' {
			k++
		}
		if j-k > 9 {
			if maxAttachments > 0 {
				return p, ErrTooManyAttach
			}
			return p, ErrIllegalAttach
		}
		n, _ := strconv.Atoi(string(b[k:j]))
		if maxAttachments > 0 && n > maxAttachments {
			return p, ErrTooManyAttach
		}
		p.Attachments = n
		i = j + 1
	}
	if i < len(b) && b[i] == '/' {
		j := bytes.IndexByte(b[i:], ',')
		if j < 0 {
			p.Nsp = string(b[i:])
			i = len(b)
		} else {
			p.Nsp = string(b[i : i+j])
			i += j + 1
		}
	}
	if i < len(b) && b[i] >= '0' && b[i] <= '9' {
		j := i
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		id, err := strconv.ParseInt(string(b[i:j]), 10, 64)
		if err != nil || id > 1<<53 {
			return p, ErrInvalidPayload
		}
		p.ID = id
		i = j
	}
	if i < len(b) {
		p.Data = b[i:]
	}
	return p, p.validate()
}

func (p *Packet) validate() error {
	d := bytes.TrimRight(p.Data, " \t\r\n")
	if p.Data != nil && len(d) == 0 {
		return ErrInvalidPayload
	}
	switch p.Type {
	case Connect:
		if d != nil && !isObject(d) {
			return ErrInvalidPayload
		}
	case Disconnect:
		if d != nil {
			return ErrInvalidPayload
		}
	case ConnectError:
		if d == nil || !(isObject(d) || isString(d)) {
			return ErrInvalidPayload
		}
	case Event, BinaryEvent:
		if d == nil || d[0] != '[' || !json.Valid(d) {
			return ErrInvalidPayload
		}
		first, rest, ok := splitFirst(d)
		if !ok || len(first) == 0 {
			return ErrInvalidPayload
		}
		switch {
		case first[0] == '"':
			name, ok := unquote(first)
			if !ok {
				return ErrInvalidPayload
			}
			if reserved[name] {
				return ErrReservedEvent
			}
			p.Event = name
		case first[0] == '-' || (first[0] >= '0' && first[0] <= '9'):
			p.Event = string(first)
		default:
			return ErrInvalidPayload
		}
		p.Args = rest
		if lo := cap(p.Data) - cap(rest) - 1; len(rest) > 0 && p.Data[lo] == ',' && lo+len(rest)+2 == len(d) {
			p.ArgsLo, p.ArgsHi = lo, len(d)
		}
	case Ack, BinaryAck:
		if d == nil || d[0] != '[' || !json.Valid(d) {
			return ErrInvalidPayload
		}
		p.Args = trimSpace(d[1 : len(d)-1])
	}
	if p.Type == BinaryEvent || p.Type == BinaryAck {
		return checkPlaceholders(d, p.Attachments)
	}
	return nil
}

func isObject(d []byte) bool { return len(d) > 0 && d[0] == '{' && json.Valid(d) }
func isString(d []byte) bool { return len(d) > 0 && d[0] == '"' && json.Valid(d) }

func trimSpace(b []byte) []byte { return bytes.TrimSpace(b) }

// splitFirst splits a valid JSON array into its first element and the
// remaining elements (comma-separated, without brackets).
func splitFirst(arr []byte) (first, rest []byte, ok bool) {
	inner := trimSpace(arr[1 : len(arr)-1])
	if len(inner) == 0 {
		return nil, nil, false
	}
	end := elementEnd(inner)
	first = inner[:end]
	rest = trimSpace(inner[end:])
	if len(rest) > 0 {
		if rest[0] != ',' {
			return nil, nil, false
		}
		rest = trimSpace(rest[1:])
	}
	return trimSpace(first), rest, true
}

// elementEnd returns the index just past the first element of a valid JSON
// element list.
func elementEnd(b []byte) int {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '"':
			i++
			for i < len(b) && b[i] != '"' {
				if b[i] == '\\' {
					i++
				}
				i++
			}
		case '[', '{':
			depth++
		case ']', '}':
			depth--
		case ',':
			if depth == 0 {
				return i
			}
		}
	}
	return len(b)
}

// SplitArgs returns the elements of a comma-separated list of valid JSON
// values, as found in Packet.Args.
func SplitArgs(list []byte) [][]byte {
	var out [][]byte
	for len(list) > 0 {
		end := elementEnd(list)
		out = append(out, trimSpace(list[:end]))
		if end == len(list) {
			break
		}
		list = trimSpace(list[end+1:])
	}
	return out
}

var placeholderKey = []byte(`"_placeholder"`)

// checkPlaceholders verifies that every binary placeholder in d points at one
// of n attachments.
func checkPlaceholders(d []byte, n int) error {
	if !bytes.Contains(d, placeholderKey) && !bytes.Contains(d, []byte(`\u`)) {
		return nil
	}
	var v any
	if err := json.Unmarshal(d, &v); err != nil {
		return ErrInvalidPayload
	}
	if !placeholdersValid(v, n) {
		return ErrIllegalAttach
	}
	return nil
}

func placeholdersValid(v any, n int) bool {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if !placeholdersValid(e, n) {
				return false
			}
		}
	case map[string]any:
		if ph, _ := x["_placeholder"].(bool); ph {
			num, ok := x["num"].(float64)
			return ok && num >= 0 && num < float64(n) && num == float64(int(num))
		}
		for _, e := range x {
			if !placeholdersValid(e, n) {
				return false
			}
		}
	}
	return true
}

// Header is what precedes the payload of an encoded packet.
type Header struct {
	Type        Type
	Nsp         string
	ID          int64 // NoID for none
	Attachments int
}

// AppendHeader appends the encoded header of a packet to dst.
func AppendHeader(dst []byte, h Header) []byte {
	dst = append(dst, byte('0'+h.Type))
	if h.Type == BinaryEvent || h.Type == BinaryAck {
		dst = strconv.AppendInt(dst, int64(h.Attachments), 10)
		dst = append(dst, '-')
	}
	if h.Nsp != "" && h.Nsp != "/" {
		dst = append(dst, h.Nsp...)
		dst = append(dst, ',')
	}
	if h.ID >= 0 {
		dst = strconv.AppendInt(dst, h.ID, 10)
	}
	return dst
}

// unquote returns the value of a valid JSON string, without going through
// encoding/json when it has no escapes.
func unquote(q []byte) (string, bool) {
	inner := q[1 : len(q)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner), true
	}
	var s string
	if err := json.Unmarshal(q, &s); err != nil {
		return "", false
	}
	return s, true
}
