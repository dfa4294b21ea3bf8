package js

import (
	"slices"

	"github.com/dop251/goja"
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
