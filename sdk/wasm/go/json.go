package hubd

import (
	"strconv"
	"unicode"
	"unsafe"

	"github.com/hubd/hubd/sdk/wire"
)

// Raw is one JSON value as bytes, e.g. an event argument or the socket's
// data (package wire's Raw, shared with the host). The zero Raw is "no
// value". Its methods read it without reflection and without copying:
// strings they return point into the Raw when the JSON string has no
// escapes.
//
// A Raw taken from an Envelope is only valid while the handler runs (the
// host reuses the buffer for the next call): copy what you keep
// (bytes.Clone, strings.Clone).
type Raw = wire.Raw

// Kind is the type of a JSON value.
type Kind = wire.Kind

// The kinds of Raw.Kind.
const (
	KindNone   = wire.KindNone
	KindNull   = wire.KindNull
	KindBool   = wire.KindBool
	KindNumber = wire.KindNumber
	KindString = wire.KindString
	KindArray  = wire.KindArray
	KindObject = wire.KindObject
)

// view returns b as a string without copying.
func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// appendString appends s as a JSON string, escaped as the host escapes
// its envelopes (the same code, wire.AppendString: control characters,
// \b and \f, invalid UTF-8 as \ufffd).
func appendString(dst []byte, s string) []byte { return wire.AppendString(dst, s) }

// bytesOf returns s's bytes without copying (not to be written).
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

const utf8RuneSelf = 0x80

func toUpper(r rune) rune { return unicode.ToUpper(r) }

// appendRuneJSON appends r, escaped as appendString escapes it (invalid
// runes as U+FFFD).
func appendRuneJSON(dst []byte, r rune) []byte { return wire.AppendRune(dst, r) }

// String returns s as a JSON string value.
func String(s string) Raw { return appendString(make(Raw, 0, len(s)+2), s) }

// Int returns n as a JSON number.
func Int(n int64) Raw { return strconv.AppendInt(nil, n, 10) }

// Float returns f as a JSON number.
func Float(f float64) Raw { return strconv.AppendFloat(nil, f, 'g', -1, 64) }

// Bool returns b as a JSON boolean.
func Bool(b bool) Raw {
	if b {
		return Raw("true")
	}
	return Raw("false")
}

// Null is the JSON null.
var Null = Raw("null")

// Array returns a JSON array of the values.
func Array(values ...Raw) Raw { return appendArray(nil, values) }

// Strings returns a JSON array of strings.
func Strings(ss ...string) Raw { return appendStrings(nil, ss) }

// Field is one member of an object built with Object.
type Field struct {
	Key   string
	Value Raw
}

// KV returns the member key: value.
func KV(key string, value Raw) Field { return Field{key, value} }

// Object returns a JSON object of the fields, in order.
func Object(fields ...Field) Raw { return appendObject(nil, fields) }

func appendArray(dst []byte, values []Raw) []byte {
	dst = append(dst, '[')
	for i, v := range values {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendValue(dst, v)
	}
	return append(dst, ']')
}

func appendStrings(dst []byte, ss []string) []byte { return wire.AppendStrings(dst, ss) }

func appendObject(dst []byte, fields []Field) []byte {
	dst = append(dst, '{')
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, f.Key)
		dst = append(dst, ':')
		dst = appendValue(dst, f.Value)
	}
	return append(dst, '}')
}

// appendValue appends v, or null for an empty Raw.
func appendValue(dst []byte, v Raw) []byte {
	if len(v) == 0 {
		return append(dst, "null"...)
	}
	return append(dst, v...)
}
