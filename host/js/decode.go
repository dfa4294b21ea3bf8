package js

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dop251/goja"

	"github.com/hubd/hubd/internal/jsonstr"
)

// decoder turns JSON into JS values directly (goja's JSON.parse goes
// through encoding/json's token reader and costs several times more).
// Objects get their keys as own data properties, like JSON.parse.
type decoder struct {
	in    *instance
	b     []byte
	i     int
	depth int
	stack []goja.Value // array items being collected, shared by nesting levels
	// plain makes goja arrays instead of valueArrays (for the config,
	// which is frozen).
	plain bool
	buf   []byte
	// spent is what the values made so far in the call cost, as far as
	// the plugin's memory limit is concerned (see valueCost).
	spent int64
	// paid: what is parsed was charged already (argsArray).
	paid bool
	// lazy makes objects jsonObjects, split when first touched (with
	// paid: env.args).
	lazy bool
}

// What the decoder's values cost goja, at most (measured: a number or a
// string about 100 bytes with its slot, an empty array 210, an empty
// object 270, and 330 more per key). One megabyte of JSON can make a
// hundred of them.
const (
	valueCost  = 96
	arrayCost  = 224
	objectCost = 256
	keyCost    = 352
)

// overLimit is the panic of a decode that went over the memory limit.
type overLimit struct{ spent int64 }

// spend charges cost to the call, and stops the decode past the limit.
func (d *decoder) spend(cost int64) {
	if d.paid {
		return
	}
	if d.spent += cost; d.spent > d.in.p.limits.bytes {
		panic(overLimit{d.spent})
	}
}

const maxDepth = 256

type syntaxError struct{ msg string }

func (e *syntaxError) Error() string { return e.msg }

func (d *decoder) fail(format string, args ...any) {
	panic(&syntaxError{fmt.Sprintf(format, args...) + " at offset " + strconv.Itoa(d.i)})
}

// parse decodes one JSON value.
func (d *decoder) parse(b []byte) (v goja.Value, err error) {
	err = d.run(b, func() {
		v = d.value()
		d.space()
		if d.i != len(d.b) {
			d.fail("unexpected data after the value")
		}
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}

// members splits the JSON object b into o's keys and raw values.
func (d *decoder) members(b []byte, o *jsonObject) error {
	return d.run(b, func() {
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != '{' {
			d.fail("expected {")
		}
		d.eachMember(func(k string) {
			start := d.i
			d.skip()
			o.add(k, d.b[start:d.i])
		})
		d.space()
		if d.i != len(d.b) {
			d.fail("unexpected data after the value")
		}
	})
}

// skip moves past one JSON value without converting it. It checks the
// value's bounds only (strings, brackets); what is inside is checked when
// it is converted.
func (d *decoder) skip() {
	start, depth := d.i, 0
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case '"':
			end, _ := jsonstr.SkipString(d.b, d.i)
			if end < 0 {
				d.i = len(d.b)
				d.fail("unterminated string")
			}
			d.i = end
			if depth == 0 {
				return
			}
			continue
		case '[', '{':
			depth++
		case ']', '}':
			if depth == 0 {
				if d.i == start {
					d.fail("expected a value")
				}
				return // a number or literal ends the enclosing value
			}
			if depth--; depth == 0 {
				d.i++
				return
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				if d.i == start {
					d.fail("expected a value")
				}
				return
			}
		}
		d.i++
	}
	if depth > 0 || d.i == start {
		d.fail("unexpected end of JSON")
	}
}

// lazyObject makes the object at d.b[d.i] a jsonObject over its JSON.
func (d *decoder) lazyObject() goja.Value {
	start := d.i
	d.skip()
	return d.in.newJSONObject(d.b[start:d.i])
}

// run runs f over b, turning its failures into errors.
func (d *decoder) run(b []byte, f func()) (err error) {
	d.b, d.i, d.depth = b, 0, 0
	defer func() {
		d.b = nil
		clear(d.stack) // left over only after a syntax error
		d.stack = d.stack[:0]
		if cap(d.stack) > 4096 {
			d.stack = nil
		}
		if cap(d.buf) > 64<<10 {
			d.buf = nil
		}
		if x := recover(); x != nil {
			if ol, ok := x.(overLimit); ok {
				err = fmt.Errorf("%w: its values would take more than %d MiB (at least %d bytes); raise max_memory_mib in the manifest if the plugin needs them",
					ErrMemoryLimit, d.in.p.limits.bytes>>20, ol.spent)
				return
			}
			se, ok := x.(*syntaxError)
			if !ok {
				panic(x)
			}
			err = errors.New(se.msg)
		}
	}()
	f()
	return nil
}

func (d *decoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) value() goja.Value {
	d.spend(valueCost)
	d.space()
	if d.i >= len(d.b) {
		d.fail("unexpected end of JSON")
	}
	rt := d.in.rt
	switch c := d.b[d.i]; c {
	case '"':
		return rt.ToValue(d.str())
	case '[':
		return d.array()
	case '{':
		if d.lazy {
			return d.lazyObject()
		}
		return d.object()
	case 't':
		d.literal("true")
		return d.in.trueValue
	case 'f':
		d.literal("false")
		return d.in.falseValue
	case 'n':
		d.literal("null")
		return goja.Null()
	default:
		if c == '-' || c >= '0' && c <= '9' {
			return d.number()
		}
		d.fail("unexpected character %q", c)
	}
	return nil
}

func (d *decoder) literal(s string) {
	if len(d.b)-d.i < len(s) || string(d.b[d.i:d.i+len(s)]) != s {
		d.fail("invalid literal")
	}
	d.i += len(s)
}

func (d *decoder) nest() {
	d.depth++
	if d.depth > maxDepth {
		d.fail("nested deeper than %d levels", maxDepth)
	}
}

func (d *decoder) array() goja.Value {
	d.spend(arrayCost)
	d.nest()
	d.i++ // [
	base := len(d.stack)
	d.space()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
	} else {
		for {
			d.stack = append(d.stack, d.value())
			d.space()
			if d.i >= len(d.b) {
				d.fail("unexpected end of JSON")
			}
			if d.b[d.i] == ',' {
				d.i++
				continue
			}
			if d.b[d.i] == ']' {
				d.i++
				break
			}
			d.fail("expected , or ]")
		}
	}
	var arr *goja.Object
	if d.plain {
		items := make([]any, len(d.stack)-base)
		for i, v := range d.stack[base:] {
			items[i] = v
		}
		arr = d.in.rt.NewArray(items...)
	} else {
		arr = d.in.newArray(d.stack[base:])
	}
	clear(d.stack[base:])
	d.stack = d.stack[:base]
	d.depth--
	return arr
}

func (d *decoder) object() goja.Value {
	d.spend(objectCost)
	d.nest()
	// Made without a prototype, so that setting a key creates an own data
	// property whatever Object.prototype holds (a "__proto__" key, a
	// setter a script defined there), as JSON.parse's CreateDataProperty
	// does, and cheaper than defining each; the prototype comes last.
	obj := d.in.rt.CreateObject(nil)
	d.eachMember(func(k string) {
		d.spend(keyCost)
		if err := obj.Set(k, d.value()); err != nil {
			panic(err)
		}
	})
	d.depth--
	if err := obj.SetPrototype(d.in.objectProto); err != nil {
		panic(err)
	}
	return obj
}

// eachMember reads the object at d.b[d.i] ('{'), calling value for each
// key with d.i at the key's value, which value reads.
func (d *decoder) eachMember(value func(key string)) {
	d.i++ // {
	d.space()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return
	}
	for {
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			d.fail("expected a string key")
		}
		k := d.str()
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			d.fail("expected :")
		}
		d.i++
		d.space()
		value(k)
		d.space()
		if d.i >= len(d.b) {
			d.fail("unexpected end of JSON")
		}
		if d.b[d.i] == ',' {
			d.i++
			continue
		}
		if d.b[d.i] == '}' {
			d.i++
			return
		}
		d.fail("expected , or }")
	}
}

// str reads a JSON string; d.b[d.i] is its opening quote.
func (d *decoder) str() string {
	d.i++
	start := d.i
	high := false
	for d.i < len(d.b) {
		switch c := d.b[d.i]; {
		case c == '"':
			s := string(d.b[start:d.i])
			d.i++
			if high && !utf8.ValidString(s) {
				s = validUTF8(s)
			}
			return s
		case c >= 0x80:
			high = true
		case c == '\\':
			return d.escaped(start)
		case c < 0x20:
			d.fail("control character in a string")
		}
		d.i++
	}
	d.fail("unterminated string")
	return ""
}

// escaped finishes a string that has escapes; start is just after its
// opening quote.
func (d *decoder) escaped(start int) string {
	buf, n, err := jsonstr.Unquote(d.buf[:0], d.b[start-1:])
	if err != nil {
		d.i = start - 1 + n
		d.fail("%v", err)
	}
	d.buf = buf
	d.i = start - 1 + n
	if !utf8.Valid(buf) {
		return validUTF8(string(buf))
	}
	return string(buf)
}

// validUTF8 replaces each byte of s that is not part of valid UTF-8 with
// U+FFFD, as JSON.parse does.
func validUTF8(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r)
	}
	return b.String()
}

func (d *decoder) number() goja.Value {
	start := d.i
	neg := d.b[d.i] == '-'
	if neg {
		d.i++
	}
	var n int64
	digits := 0
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		n = n*10 + int64(d.b[d.i]-'0')
		d.i++
		digits++
	}
	if digits == 0 {
		d.fail("invalid number")
	}
	if d.i == len(d.b) || d.b[d.i] != '.' && d.b[d.i] != 'e' && d.b[d.i] != 'E' {
		if digits <= 15 {
			if neg {
				if n == 0 {
					return d.in.rt.ToValue(math.Copysign(0, -1))
				}
				n = -n
			}
			return d.in.rt.ToValue(n)
		}
		if digits <= 18 && (d.b[start] != '0' && d.b[start] != '-' || digits == 1) {
			// Exact in an int64, and converting rounds to the nearest
			// float64 as parsing the digits does (a Unix time in
			// nanoseconds, say).
			f := float64(n)
			if neg {
				f = -f
			}
			return d.in.rt.ToValue(f)
		}
	}
	for d.i < len(d.b) {
		c := d.b[d.i]
		if c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-' {
			d.i++
			continue
		}
		break
	}
	f, err := strconv.ParseFloat(string(d.b[start:d.i]), 64)
	if err != nil {
		var ne *strconv.NumError
		if !errors.As(err, &ne) || ne.Err != strconv.ErrRange {
			d.fail("invalid number")
		}
	}
	return d.in.rt.ToValue(f)
}
