package hubd

import (
	"strconv"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/hubd/hubd/internal/jsonstr"
)

// Raw is one JSON value as bytes, e.g. an event argument or the socket's
// data. The zero Raw is "no value". Its methods read it without reflection
// and without copying: strings they return point into the Raw when the
// JSON string has no escapes.
//
// A Raw taken from an Envelope is only valid while the handler runs (the
// host reuses the buffer for the next call): copy what you keep
// (bytes.Clone, strings.Clone).
type Raw []byte

// Kind is the type of a JSON value.
type Kind byte

// The kinds of Raw.Kind.
const (
	KindNone   Kind = 0
	KindNull   Kind = 'n'
	KindBool   Kind = 'b'
	KindNumber Kind = '0'
	KindString Kind = 's'
	KindArray  Kind = 'a'
	KindObject Kind = 'o'
)

// Kind returns the value's type (KindNone for an empty Raw).
func (r Raw) Kind() Kind {
	i := skipWS(r, 0)
	if i >= len(r) {
		return KindNone
	}
	switch r[i] {
	case '"':
		return KindString
	case '{':
		return KindObject
	case '[':
		return KindArray
	case 't', 'f':
		return KindBool
	case 'n':
		return KindNull
	}
	return KindNumber
}

// IsNull reports whether r is null or empty.
func (r Raw) IsNull() bool { k := r.Kind(); return k == KindNull || k == KindNone }

// Str returns the string r holds; ok is false if r is not a string.
func (r Raw) Str() (s string, ok bool) {
	i := skipWS(r, 0)
	if i >= len(r) || r[i] != '"' {
		return "", false
	}
	end, esc := scanString(r, i)
	if end < 0 {
		return "", false
	}
	if !esc {
		return view(r[i+1 : end-1]), true
	}
	return unescape(r[i+1 : end-1])
}

// String returns r as JSON text.
func (r Raw) String() string { return string(r) }

// Bool returns the boolean r holds; ok is false if r is not a boolean.
func (r Raw) Bool() (v, ok bool) {
	switch string(trimWS(r)) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// Float returns the number r holds.
func (r Raw) Float() (float64, bool) {
	t := trimWS(r)
	if r.Kind() != KindNumber {
		return 0, false
	}
	f, err := strconv.ParseFloat(view(t), 64)
	return f, err == nil
}

// Int returns the integer r holds; ok is false for anything else
// (including numbers with a fraction or an exponent).
func (r Raw) Int() (int64, bool) {
	t := trimWS(r)
	if r.Kind() != KindNumber {
		return 0, false
	}
	n, err := strconv.ParseInt(view(t), 10, 64)
	return n, err == nil
}

// Get returns the member key of an object, or an empty Raw.
func (r Raw) Get(key string) Raw {
	i := skipWS(r, 0)
	if i >= len(r) || r[i] != '{' {
		return nil
	}
	i = skipWS(r, i+1)
	for i < len(r) && r[i] == '"' {
		ke, esc := scanString(r, i)
		if ke < 0 {
			return nil
		}
		k := r[i+1 : ke-1]
		i = skipWS(r, ke)
		if i >= len(r) || r[i] != ':' {
			return nil
		}
		vs := skipWS(r, i+1)
		ve := skipValue(r, vs)
		if ve < 0 {
			return nil
		}
		if string(k) == key {
			return r[vs:ve]
		}
		if esc {
			if s, ok := unescape(k); ok && s == key {
				return r[vs:ve]
			}
		}
		i = skipWS(r, ve)
		if i < len(r) && r[i] == ',' {
			i = skipWS(r, i+1)
			continue
		}
		break
	}
	return nil
}

// GetString returns the string member key of an object.
func (r Raw) GetString(key string) (string, bool) { return r.Get(key).Str() }

// Index returns element n of an array, or an empty Raw.
func (r Raw) Index(n int) Raw {
	i := skipWS(r, 0)
	if n < 0 || i >= len(r) || r[i] != '[' {
		return nil
	}
	i = skipWS(r, i+1)
	if i < len(r) && r[i] == ']' {
		return nil
	}
	for k := 0; i < len(r); k++ {
		e := skipValue(r, i)
		if e < 0 {
			return nil
		}
		if k == n {
			return r[i:e]
		}
		i = skipWS(r, e)
		if i >= len(r) || r[i] != ',' {
			return nil
		}
		i = skipWS(r, i+1)
	}
	return nil
}

// indexStr returns element n of an array if it is a string, scanning it
// once.
func (r Raw) indexStr(n int) (string, bool) {
	if n == 0 && len(r) > 2 && r[0] == '[' && r[1] == '"' {
		// The common case: the first argument, no whitespace.
		end, esc := scanString(r, 1)
		if end > 0 && !esc {
			return view(r[2 : end-1]), true
		}
	}
	i := skipWS(r, 0)
	if n < 0 || i >= len(r) || r[i] != '[' {
		return "", false
	}
	i = skipWS(r, i+1)
	for k := 0; i < len(r) && r[i] != ']'; k++ {
		if k == n {
			if r[i] != '"' {
				return "", false
			}
			end, esc := scanString(r, i)
			if end < 0 {
				return "", false
			}
			if !esc {
				return view(r[i+1 : end-1]), true
			}
			return unescape(r[i+1 : end-1])
		}
		e := skipValue(r, i)
		if e < 0 {
			return "", false
		}
		i = skipWS(r, e)
		if i >= len(r) || r[i] != ',' {
			return "", false
		}
		i = skipWS(r, i+1)
	}
	return "", false
}

// Len returns the number of elements of an array (members of an object),
// or 0.
func (r Raw) Len() int {
	n := 0
	if r.Kind() == KindObject {
		r.Members(func(string, Raw) bool { n++; return true })
		return n
	}
	r.Each(func(int, Raw) bool { n++; return true })
	return n
}

// Each calls fn for each element of an array until fn returns false.
func (r Raw) Each(fn func(i int, v Raw) bool) {
	i := skipWS(r, 0)
	if i >= len(r) || r[i] != '[' {
		return
	}
	i = skipWS(r, i+1)
	if i < len(r) && r[i] == ']' {
		return
	}
	for n := 0; i < len(r); n++ {
		e := skipValue(r, i)
		if e < 0 {
			return
		}
		if !fn(n, r[i:e]) {
			return
		}
		i = skipWS(r, e)
		if i >= len(r) || r[i] != ',' {
			return
		}
		i = skipWS(r, i+1)
	}
}

// Members calls fn for each member of an object until fn returns false.
func (r Raw) Members(fn func(key string, v Raw) bool) {
	i := skipWS(r, 0)
	if i >= len(r) || r[i] != '{' {
		return
	}
	i = skipWS(r, i+1)
	for i < len(r) && r[i] == '"' {
		ke, esc := scanString(r, i)
		if ke < 0 {
			return
		}
		key := view(r[i+1 : ke-1])
		if esc {
			key, _ = unescape(r[i+1 : ke-1])
		}
		i = skipWS(r, ke)
		if i >= len(r) || r[i] != ':' {
			return
		}
		vs := skipWS(r, i+1)
		ve := skipValue(r, vs)
		if ve < 0 || !fn(key, r[vs:ve]) {
			return
		}
		i = skipWS(r, ve)
		if i >= len(r) || r[i] != ',' {
			return
		}
		i = skipWS(r, i+1)
	}
}

// Strings returns the strings of an array of strings (other elements are
// skipped).
func (r Raw) Strings() []string {
	var out []string
	r.Each(func(_ int, v Raw) bool {
		if s, ok := v.Str(); ok {
			out = append(out, s)
		}
		return true
	})
	return out
}

// view returns b as a string without copying.
func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

func skipWS(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	for j, c := range b[i:] {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return i + j
		}
	}
	return len(b)
}

func trimWS(b []byte) []byte {
	i := skipWS(b, 0)
	j := len(b)
	for j > i {
		switch b[j-1] {
		case ' ', '\t', '\n', '\r':
			j--
			continue
		}
		break
	}
	return b[i:j]
}

// scanString returns the index after the string starting at b[i] == '"'
// and whether it holds escapes; -1 if it does not end. (It is small enough
// to be inlined, and its loop ranges over the slice: function calls and
// indexed loops cost several times more in Go compiled to Wasm.)
func scanString(b []byte, i int) (int, bool) {
	if i+1 > len(b) {
		return -1, false
	}
	for j, c := range b[i+1:] {
		if c == '"' {
			return i + 2 + j, false
		}
		if c == '\\' {
			return scanEscaped(b, i+1+j), true
		}
	}
	return -1, false
}

// scanEscaped finishes scanString from the backslash at b[j].
func scanEscaped(b []byte, j int) int {
	for j < len(b) {
		switch b[j] {
		case '\\':
			j += 2
			continue
		case '"':
			return j + 1
		}
		j++
	}
	return -1
}

// skipValue returns the index after the value starting at b[i], or -1.
// It checks the structure only (brackets and strings); the host sends
// valid JSON.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		e, _ := scanString(b, i)
		return e
	case '{', '[':
		depth := 0
		inString, escaped := false, false
		for j, c := range b[i:] {
			if inString {
				if escaped {
					escaped = false
				} else if c == '\\' {
					escaped = true
				} else if c == '"' {
					inString = false
				}
				continue
			}
			switch c {
			case '"':
				inString = true
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + j + 1
				}
			}
		}
		return -1
	}
	for j, c := range b[i:] {
		switch c {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			if j == 0 {
				return -1
			}
			return i + j
		}
	}
	return len(b)
}

// unescape decodes the inside of a JSON string that has escapes.
func unescape(s []byte) (string, bool) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(s) {
			return "", false
		}
		switch s[i] {
		case '"', '\\', '/':
			out = append(out, s[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(s, i+1)
			if !ok {
				return "", false
			}
			i += 4
			if r >= 0xd800 && r < 0xdc00 {
				// a surrogate pair
				if i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
					if r2, ok := hex4(s, i+3); ok && r2 >= 0xdc00 && r2 < 0xe000 {
						r = 0x10000 + (r-0xd800)<<10 + (r2 - 0xdc00)
						i += 6
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			} else if r >= 0xdc00 && r < 0xe000 {
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", false
		}
	}
	return string(out), true
}

func hex4(s []byte, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range s[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// appendString appends s as a JSON string, escaped as the host escapes
// its envelopes (the same code: control characters, \b and \f, invalid
// UTF-8 as \ufffd).
func appendString(dst []byte, s string) []byte { return jsonstr.Append(dst, s) }

// bytesOf returns s's bytes without copying (not to be written).
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

const utf8RuneSelf = 0x80

func toUpper(r rune) rune { return unicode.ToUpper(r) }

// appendRuneJSON appends r, escaped as appendString escapes it (invalid
// runes as U+FFFD).
func appendRuneJSON(dst []byte, r rune) []byte {
	if r >= 0x80 || r < 0 {
		return utf8.AppendRune(dst, r)
	}
	const hex = "0123456789abcdef"
	c := byte(r)
	switch {
	case c == '"' || c == '\\':
		return append(dst, '\\', c)
	case c >= 0x20:
		return append(dst, c)
	case c == '\n':
		return append(dst, '\\', 'n')
	case c == '\r':
		return append(dst, '\\', 'r')
	case c == '\t':
		return append(dst, '\\', 't')
	case c == '\b':
		return append(dst, '\\', 'b')
	case c == '\f':
		return append(dst, '\\', 'f')
	}
	return append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
}

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

func appendStrings(dst []byte, ss []string) []byte {
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, s)
	}
	return append(dst, ']')
}

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
