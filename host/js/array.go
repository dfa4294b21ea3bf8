package js

import (
	"fmt"
	"slices"

	"github.com/dop251/goja"

	"github.com/hubd/hubd/internal/jsonstr"
)

// valueArray backs the arrays the host hands to a script (args, rooms,
// arrays in socket data): a goja dynamic array over a slice, which costs a
// fraction of a goja array (no property map). It is a true array to the
// script — Array.isArray, length, indexing, push, the Array.prototype
// methods and JSON.stringify work — but it holds only its elements: other
// own properties cannot be added, and it cannot be frozen.
type valueArray struct {
	vals  []goja.Value
	small [2]goja.Value // backs vals for short arrays: one allocation less
}

// maxArrayGrowth bounds how far a write past the end may grow an array,
// so that args[1e9] = 1 cannot allocate gigabytes at once.
const maxArrayGrowth = 1 << 20

// newArray makes an array of a copy of vals.
func (in *instance) newArray(vals []goja.Value) *goja.Object {
	a := &valueArray{}
	if len(vals) <= len(a.small) {
		a.vals = append(a.small[:0], vals...)
	} else {
		a.vals = slices.Clone(vals)
	}
	return in.rt.NewDynamicArray(a)
}

func (a *valueArray) Len() int { return len(a.vals) }

func (a *valueArray) Get(i int) goja.Value {
	if i < 0 || i >= len(a.vals) {
		return nil
	}
	return a.vals[i]
}

func (a *valueArray) Set(i int, v goja.Value) bool {
	if i < 0 {
		return false
	}
	if i >= len(a.vals) && !a.SetLen(i+1) {
		return false
	}
	a.vals[i] = v
	return true
}

func (a *valueArray) SetLen(n int) bool {
	switch {
	case n < 0 || n > len(a.vals)+maxArrayGrowth:
		return false
	case n <= len(a.vals):
		clear(a.vals[n:])
		a.vals = a.vals[:n]
	default:
		for len(a.vals) < n {
			a.vals = append(a.vals, goja.Undefined())
		}
	}
	return true
}

// argsArray is env.args: a valueArray whose elements are converted from
// the envelope's JSON when the script first reads them, so that a handler
// that reads env.args[0] pays for that argument only. The JSON is the
// envelope's, which nothing changes (host.Envelope), so an element read
// after the call shows what it would have shown during it.
type argsArray struct {
	valueArray
	in *instance
	// lazy holds the raw JSON of each element not converted yet (nil once
	// it is, or once the script set it).
	lazy      [][]byte
	lazySmall [2][]byte
	// first backs the first element read that is an object: most
	// handlers read one, and it then costs no allocation of its own.
	first     jsonObject
	firstUsed bool
}

func (a *argsArray) Get(i int) goja.Value {
	if i >= 0 && i < len(a.lazy) && a.lazy[i] != nil {
		var v goja.Value
		if raw := a.lazy[i]; raw[0] == '{' {
			v = a.objectArg(raw) // split when touched
		} else {
			v = a.in.parseLazy(raw) // a throw leaves it lazy
		}
		a.vals[i], a.lazy[i] = v, nil
	}
	return a.valueArray.Get(i)
}

// objectArg wraps an object argument; the first one read is a.first.
func (a *argsArray) objectArg(raw []byte) goja.Value {
	if a.firstUsed {
		return a.in.newJSONObject(raw)
	}
	a.firstUsed = true
	a.first = jsonObject{in: a.in, raw: raw}
	return a.in.rt.NewDynamicObject(&a.first)
}

func (a *argsArray) Set(i int, v goja.Value) bool {
	if !a.valueArray.Set(i, v) {
		return false
	}
	if i < len(a.lazy) {
		a.lazy[i] = nil
	}
	return true
}

func (a *argsArray) SetLen(n int) bool {
	if !a.valueArray.SetLen(n) {
		return false
	}
	if n < len(a.lazy) {
		clear(a.lazy[n:])
		a.lazy = a.lazy[:n]
	}
	return true
}

// lazyArgs makes env.args from raw, the envelope's JSON array, in a (the
// envelope object's own, one allocation less). JSON that does not split
// into elements is parsed at once, which throws as parseInput does.
//
// What the elements' values would cost is charged at once, as if they
// were all made (see valueCost): reading env.args throws the same
// RangeError past the memory limit as when it made every value, and
// before anything is allocated for them.
func (in *instance) lazyArgs(a *argsArray, raw []byte) goja.Value {
	*a = argsArray{in: in} // a read that threw may have filled a; no script holds it
	// One pass when the elements fit the small array (most events); a
	// longer array is counted and charged first, and split after.
	lazy, n, cost, ok := scanArray(raw, a.lazySmall[:0], len(a.lazySmall))
	if !ok {
		return in.parseInput(raw, "args")
	}
	in.chargeArgs(cost)
	if n <= len(a.lazySmall) {
		a.lazy = lazy
	} else {
		a.lazy, _, _, _ = scanArray(raw, make([][]byte, 0, n), n)
	}
	if n <= len(a.small) {
		a.vals = a.small[:n]
	} else {
		a.vals = make([]goja.Value, n)
	}
	for i := range a.vals {
		a.vals[i] = goja.Undefined() // replaced by the element when read
	}
	return in.rt.NewDynamicArray(a)
}

// chargeArgs charges cost to the call, throwing parseInput's RangeError
// past the memory limit.
func (in *instance) chargeArgs(cost int64) {
	d := &in.dec
	if d.spent += cost; d.spent > in.p.limits.bytes {
		in.throwRangeMsg(fmt.Sprintf("hubd: the envelope's args cannot be read: %v: its values would take more than %d MiB (at least %d bytes); raise max_memory_mib in the manifest if the plugin needs them",
			ErrMemoryLimit, in.p.limits.bytes>>20, d.spent))
	}
}

// scanArray finds the elements of the JSON array b: it counts them and
// appends the first max of them (their surrounding spaces trimmed) to dst.
// cost is what the decoder would charge for all of b's values, or a little
// more. It only looks at brackets, braces, strings, commas and colons, so
// it reports false for what is not an array; what is inside the elements
// is checked as they are read.
func scanArray(b []byte, dst [][]byte, max int) (elems [][]byte, n int, cost int64, ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return dst, 0, 0, false
	}
	cost = valueCost + arrayCost
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return dst, 0, cost, skipSpace(b, i+1) == len(b)
	}
	cost += valueCost // the first element
	depth, start := 0, i
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			end, _ := jsonstr.SkipString(b, i)
			if end < 0 {
				return dst, n, cost, false
			}
			i = end - 1 // at the closing quote
		case '[':
			depth++
			cost += arrayCost + valueCost // its first element, if any
		case '{':
			depth++
			cost += objectCost
		case ':':
			cost += keyCost + valueCost
		case '}':
			if depth--; depth < 0 {
				return dst, n, cost, false
			}
		case ',':
			cost += valueCost
			if depth > 0 {
				continue
			}
			fallthrough
		case ']':
			if depth > 0 {
				depth--
				continue
			}
			end := skipSpaceBack(b, start, i)
			if end == start {
				return dst, n, cost, false
			}
			if n < max {
				dst = append(dst, b[start:end])
			}
			n++
			if b[i] == ']' {
				return dst, n, cost, skipSpace(b, i+1) == len(b)
			}
			start = skipSpace(b, i+1)
		}
	}
	return dst, n, cost, false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipSpaceBack returns the end of b[start:end] without trailing spaces.
func skipSpaceBack(b []byte, start, end int) int {
	for end > start && isSpace(b[end-1]) {
		end--
	}
	return end
}
