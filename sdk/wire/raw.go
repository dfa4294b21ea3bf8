package wire

import (
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// Raw is one JSON value as its text, e.g. an event's arguments or a
// socket's data; the zero Raw is no value. It marshals and unmarshals as
// itself, as encoding/json's RawMessage does, and its methods read it
// without reflection: strings they return point into the Raw when the
// JSON string has no escapes.
type Raw []byte

// MarshalJSON returns r, or null when r is nil.
func (r Raw) MarshalJSON() ([]byte, error) {
	if r == nil {
		return []byte("null"), nil
	}
	return r, nil
}

// UnmarshalJSON sets *r to a copy of b.
func (r *Raw) UnmarshalJSON(b []byte) error {
	if r == nil {
		return errNilRaw
	}
	*r = append((*r)[:0], b...)
	return nil
}

type rawError string

func (e rawError) Error() string { return string(e) }

const errNilRaw = rawError("wire: UnmarshalJSON on a nil *Raw")

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
	i := SkipSpace(r, 0)
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
	i := SkipSpace(r, 0)
	if i >= len(r) || r[i] != '"' {
		return "", false
	}
	return r.strAt(i)
}

// strAt returns the string whose opening quote is r[i].
func (r Raw) strAt(i int) (string, bool) {
	end, esc := ScanString(r, i)
	if end < 0 {
		return "", false
	}
	if !esc {
		return view(r[i+1 : end-1]), true
	}
	return Unescape(r[i+1 : end-1])
}

// String returns r as JSON text.
func (r Raw) String() string { return string(r) }

// Bool returns the boolean r holds; ok is false if r is not a boolean.
func (r Raw) Bool() (v, ok bool) {
	switch string(trimSpace(r)) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// Float returns the number r holds.
func (r Raw) Float() (float64, bool) {
	t := trimSpace(r)
	if r.Kind() != KindNumber {
		return 0, false
	}
	f, err := strconv.ParseFloat(view(t), 64)
	return f, err == nil
}

// Int returns the integer r holds; ok is false for anything else
// (including numbers with a fraction or an exponent).
func (r Raw) Int() (int64, bool) {
	t := trimSpace(r)
	if r.Kind() != KindNumber {
		return 0, false
	}
	n, err := strconv.ParseInt(view(t), 10, 64)
	return n, err == nil
}

// Get returns the member key of an object, or an empty Raw.
func (r Raw) Get(key string) Raw {
	i := SkipSpace(r, 0)
	if i >= len(r) || r[i] != '{' {
		return nil
	}
	i = SkipSpace(r, i+1)
	for i < len(r) && r[i] == '"' {
		ke, esc := ScanString(r, i)
		if ke < 0 {
			return nil
		}
		k := r[i+1 : ke-1]
		i = SkipSpace(r, ke)
		if i >= len(r) || r[i] != ':' {
			return nil
		}
		vs := SkipSpace(r, i+1)
		ve := SkipValue(r, vs)
		if ve < 0 {
			return nil
		}
		if string(k) == key {
			return r[vs:ve]
		}
		if esc {
			if s, ok := Unescape(k); ok && s == key {
				return r[vs:ve]
			}
		}
		i = SkipSpace(r, ve)
		if i < len(r) && r[i] == ',' {
			i = SkipSpace(r, i+1)
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
	i := SkipSpace(r, 0)
	if n < 0 || i >= len(r) || r[i] != '[' {
		return nil
	}
	i = SkipSpace(r, i+1)
	if i < len(r) && r[i] == ']' {
		return nil
	}
	for k := 0; i < len(r); k++ {
		e := SkipValue(r, i)
		if e < 0 {
			return nil
		}
		if k == n {
			return r[i:e]
		}
		i = SkipSpace(r, e)
		if i >= len(r) || r[i] != ',' {
			return nil
		}
		i = SkipSpace(r, i+1)
	}
	return nil
}

// IndexStr returns element n of an array if it is a string, scanning the
// array once.
func (r Raw) IndexStr(n int) (string, bool) {
	if n == 0 && len(r) > 2 && r[0] == '[' && r[1] == '"' {
		// The common case: the first argument, no whitespace.
		end, esc := ScanString(r, 1)
		if end > 0 && !esc {
			return view(r[2 : end-1]), true
		}
	}
	i := SkipSpace(r, 0)
	if n < 0 || i >= len(r) || r[i] != '[' {
		return "", false
	}
	i = SkipSpace(r, i+1)
	for k := 0; i < len(r) && r[i] != ']'; k++ {
		if k == n {
			if r[i] != '"' {
				return "", false
			}
			return r.strAt(i)
		}
		e := SkipValue(r, i)
		if e < 0 {
			return "", false
		}
		i = SkipSpace(r, e)
		if i >= len(r) || r[i] != ',' {
			return "", false
		}
		i = SkipSpace(r, i+1)
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
	i := SkipSpace(r, 0)
	if i >= len(r) || r[i] != '[' {
		return
	}
	i = SkipSpace(r, i+1)
	if i < len(r) && r[i] == ']' {
		return
	}
	for n := 0; i < len(r); n++ {
		e := SkipValue(r, i)
		if e < 0 {
			return
		}
		if !fn(n, r[i:e]) {
			return
		}
		i = SkipSpace(r, e)
		if i >= len(r) || r[i] != ',' {
			return
		}
		i = SkipSpace(r, i+1)
	}
}

// Members calls fn for each member of an object until fn returns false.
func (r Raw) Members(fn func(key string, v Raw) bool) {
	i := SkipSpace(r, 0)
	if i >= len(r) || r[i] != '{' {
		return
	}
	i = SkipSpace(r, i+1)
	for i < len(r) && r[i] == '"' {
		ke, esc := ScanString(r, i)
		if ke < 0 {
			return
		}
		key := view(r[i+1 : ke-1])
		if esc {
			key, _ = Unescape(r[i+1 : ke-1])
		}
		i = SkipSpace(r, ke)
		if i >= len(r) || r[i] != ':' {
			return
		}
		vs := SkipSpace(r, i+1)
		ve := SkipValue(r, vs)
		if ve < 0 || !fn(key, r[vs:ve]) {
			return
		}
		i = SkipSpace(r, ve)
		if i >= len(r) || r[i] != ',' {
			return
		}
		i = SkipSpace(r, i+1)
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

// The scanner below reads JSON text as the host writes it: it checks the
// structure only (brackets and strings), not that the text is valid. Raw's
// methods and the Go guest SDK's envelope reader share it.

// SkipSpace returns the index of the first byte of b at or after i that is
// not JSON whitespace (len(b) if none).
func SkipSpace(b []byte, i int) int {
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

func trimSpace(b []byte) []byte {
	i := SkipSpace(b, 0)
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

// ScanString returns the index after the JSON string starting at
// b[i] == '"' and whether it holds escapes; -1 if it does not end. (It is
// small enough to be inlined, and its loop ranges over the slice: function
// calls and indexed loops cost several times more in Go compiled to Wasm.)
func ScanString(b []byte, i int) (int, bool) {
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

// scanEscaped finishes ScanString from the backslash at b[j].
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

// SkipValue returns the index after the JSON value starting at b[i], or
// -1 if it does not end.
func SkipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		e, _ := ScanString(b, i)
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

// Unescape decodes s, the inside of a JSON string that has escapes; ok is
// false for a malformed escape. Lone surrogates become U+FFFD.
func Unescape(s []byte) (string, bool) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		if s[i] != '\\' {
			out = append(out, s[i])
			i++
			continue
		}
		if out, i = AppendEscape(out, s, i); i < 0 {
			return "", false
		}
	}
	return string(out), true
}

// AppendEscape appends the character of the JSON escape at s[i] (a
// backslash) to dst and returns dst and the index after the escape, or -1
// when the escape is malformed or cut short. A surrogate pair makes one
// character; a lone half is U+FFFD, and what follows it is read on its
// own, as encoding/json reads it.
func AppendEscape(dst, s []byte, i int) ([]byte, int) {
	if i+1 >= len(s) {
		return dst, -1
	}
	switch e := s[i+1]; e {
	case '"', '\\', '/':
		return append(dst, e), i + 2
	case 'b':
		return append(dst, '\b'), i + 2
	case 'f':
		return append(dst, '\f'), i + 2
	case 'n':
		return append(dst, '\n'), i + 2
	case 'r':
		return append(dst, '\r'), i + 2
	case 't':
		return append(dst, '\t'), i + 2
	case 'u':
		r, ok := hex4(s, i+2)
		if !ok {
			return dst, -1
		}
		i += 6
		if r >= 0xd800 && r < 0xe000 {
			pair := false
			if r < 0xdc00 && i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
				if r2, ok := hex4(s, i+2); ok && r2 >= 0xdc00 && r2 < 0xe000 {
					r, pair = 0x10000+(r-0xd800)<<10+(r2-0xdc00), true
					i += 6
				}
			}
			if !pair {
				r = utf8.RuneError
			}
		}
		return utf8.AppendRune(dst, r), i
	}
	return dst, -1
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
