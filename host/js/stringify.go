package js

import (
	"math"

	"github.com/dop251/goja"
)

// JSON.stringify within the limits.
//
// goja's JSON.stringify builds its string in Go in one call: an array
// holding one long string a million times, or a sparse array of length
// 2**32-1, makes gigabytes before the watchdog can stop it, and its check
// for cycles makes a deeply nested value quadratic (one nested 100,000
// levels took 53 s). The wrapper keeps goja's serializer and its
// semantics, but hands it a replacer function of its own, which sees every
// value before it is written: it calls the script's replacer first, if
// any, then counts the output the value will make (within limits.chars)
// and its nesting (within maxNesting), and throws a RangeError past
// either. A property list (an array as the replacer) is applied by the
// same function: each object is handed on as a copy holding the listed
// keys in the list's order (integer-like keys excepted: objects put them
// first), so a cyclic value meets the nesting bound (a RangeError) rather
// than goja's cycle check (a TypeError).

// stringifyRun is the state of one JSON.stringify call; calls nest when a
// toJSON or a replacer calls JSON.stringify.
type stringifyRun struct {
	user    goja.Callable // the script's replacer function, if any
	keys    []string      // the script's property list, if hasKeys
	hasKeys bool
	gap     int64                // indentation per level
	depth   map[*goja.Object]int // nesting of the objects met so far
	size    int64                // characters counted so far
}

// installStringify wraps JSON.stringify.
func (in *instance) installStringify(json *goja.Object) error {
	orig, ok := goja.AssertFunction(json.Get("stringify"))
	if !ok {
		return nil
	}
	step := in.rt.ToValue(in.stringifyStep)
	return in.replace(json, "stringify", in.rt.ToValue(3), func(call goja.FunctionCall) goja.Value {
		run := &stringifyRun{depth: make(map[*goja.Object]int)}
		if f, ok := goja.AssertFunction(call.Argument(1)); ok {
			run.user = f
		} else if o, ok := call.Argument(1).(*goja.Object); ok && o.ClassName() == "Array" {
			run.keys, run.hasKeys = in.propertyList(o), true
		}
		gap := in.gap(call.Argument(2))
		run.gap = int64(in.jsString(gap).Length())
		in.stringify = append(in.stringify, run)
		defer func() {
			in.stringify[len(in.stringify)-1] = nil
			in.stringify = in.stringify[:len(in.stringify)-1]
		}()
		ret, err := orig(call.This, call.Argument(0), step, gap)
		if err != nil {
			panic(err)
		}
		return ret
	})
}

// propertyList reads a replacer array as JSON.stringify does: its strings
// and numbers (and String and Number objects), as strings, once each.
func (in *instance) propertyList(o *goja.Object) []string {
	n := in.lengthOf(o)
	if n > in.p.limits.elems {
		in.throwRange("JSON.stringify's property list", float64(n), in.p.limits.elems, "elements")
	}
	keys := []string{}
	seen := make(map[string]bool)
	for i := int64(0); i < n; i++ {
		v := o.Get(index(i))
		switch {
		case goja.IsString(v), goja.IsNumber(v):
		case isBoxed(v, "String"), isBoxed(v, "Number"):
		default:
			continue
		}
		if k := v.String(); !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys
}

func isBoxed(v goja.Value, class string) bool {
	o, ok := v.(*goja.Object)
	return ok && o.ClassName() == class
}

// gap is JSON.stringify's indentation for its space argument: up to 10
// spaces, or the first 10 characters of a string.
func (in *instance) gap(space goja.Value) goja.Value {
	switch {
	case isBoxed(space, "Number"):
		space = space.ToNumber()
	case isBoxed(space, "String"):
		space = in.jsString(space)
	}
	switch {
	case goja.IsNumber(space):
		n := min(10, space.ToFloat())
		if n < 1 || math.IsNaN(n) {
			return in.rt.ToValue("")
		}
		return in.rt.ToValue("          "[:int(n)])
	case goja.IsString(space):
		s := in.jsString(space)
		if s.Length() > 10 {
			return s.Substring(0, 10)
		}
		return s
	}
	return in.rt.ToValue("")
}

// stringifyStep is the replacer the wrapper hands to goja's
// JSON.stringify: this is the holder, then the key and the value.
func (in *instance) stringifyStep(call goja.FunctionCall) goja.Value {
	run := in.stringify[len(in.stringify)-1]
	lim := in.p.limits
	key, v := call.Argument(0), call.Argument(1)
	if run.user != nil {
		r, err := run.user(call.This, key, v)
		if err != nil {
			panic(err)
		}
		v = r
	}
	holder, _ := call.This.(*goja.Object)
	d := run.depth[holder] // 0 for the root's holder
	// "key": with a comma, a newline and the indentation.
	size := int64(in.jsString(key).Length()) + 4 + int64(d+1)*run.gap
	switch {
	case goja.IsString(v):
		size += run.stringLen(v.(goja.String), lim.chars)
	case goja.IsNumber(v):
		size += 24
	default:
		size += 5 // null, true, false, or nothing
		if o, ok := v.(*goja.Object); ok {
			var more int64
			v, more = in.stringifyObject(run, o, d)
			size += more
		}
	}
	if run.size += size; run.size > lim.chars {
		in.throwRange("JSON.stringify", float64(run.size), lim.chars, "characters")
	}
	return v
}

// stringifyObject counts an object value at nesting d of its holder, and
// returns the value to hand on (a copy, for a property list) and what it
// adds to the output besides its contents.
func (in *instance) stringifyObject(run *stringifyRun, o *goja.Object, d int) (goja.Value, int64) {
	switch o.ClassName() {
	case "String":
		return o, run.stringLen(in.jsString(o), in.p.limits.chars)
	case "Number", "Boolean", "BigInt":
		return o, 24
	case "RawJSON":
		return o, int64(in.jsString(o.Get("rawJSON")).Length())
	}
	if _, callable := goja.AssertFunction(o); callable {
		return o, 0
	}
	if d+1 > maxNesting {
		in.throwRange("JSON.stringify", float64(d+1), maxNesting, "levels of nesting")
	}
	if o.ClassName() == "Array" {
		if n := in.lengthOf(o); n > in.p.limits.elems {
			in.throwRange("JSON.stringify", float64(n), in.p.limits.elems, "array elements")
		}
	} else if run.hasKeys {
		o = in.pick(o, run.keys)
	}
	run.depth[o] = d + 1
	return o, 2
}

// stringLen is what s takes in JSON: its length and quotes, and its
// escapes when they could matter.
func (run *stringifyRun) stringLen(s goja.String, limit int64) int64 {
	n := int64(s.Length())
	if run.size+6*n+2 <= limit {
		return n + 2
	}
	for i := range s.Length() {
		switch c := s.CharAt(i); {
		case c < 0x20:
			n += 5
		case c == '"', c == '\\':
			n++
		case c >= 0xd800 && c < 0xe000:
			n += 5 // a lone surrogate, at most
		}
	}
	return n + 2
}

// pick copies the listed keys of o, in the list's order.
func (in *instance) pick(o *goja.Object, keys []string) *goja.Object {
	c := in.rt.NewObject()
	for _, k := range keys {
		if v := o.Get(k); v != nil && !goja.IsUndefined(v) {
			_ = c.Set(k, v)
		}
	}
	return c
}
