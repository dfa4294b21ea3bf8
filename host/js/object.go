package js

import (
	"cmp"
	"slices"

	"github.com/dop251/goja"
)

// jsonObject backs the objects in env.args: a goja dynamic object over
// the object's JSON, whose members are split out when the script first
// touches the object (reads, writes, deletes or lists a key) and whose
// values are converted one by one when first read, objects among them
// lazily again. A handler that passes an argument on, or reads one field
// of it, pays for nothing else: hubbench's echo payload, kept whole by the
// benchmark hook, costs no conversion at all.
//
// It is an ordinary object to the script (Object.prototype, keys in JSON
// order with the last of duplicate keys winning, as JSON.parse gives;
// JSON.stringify, spread, Object.keys, in, delete) with the limits of
// every dynamic object: it cannot be frozen, sealed or made
// non-extensible, and it takes only plain data properties with string
// keys.
//
// What its values cost was charged when env.args was read (lazyArgs), so
// converting them later charges nothing. The JSON is the envelope's, which
// nothing changes: an object kept past the call converts the same values
// later.
type jsonObject struct {
	in       *instance
	raw      []byte // the object's JSON until split; nil after
	*members        // nil until split: an object passed on untouched costs less
}

// members are a split jsonObject's keys, in order; vals[i] is nil until
// keys[i]'s value is converted from raws[i].
type members struct {
	keys []string
	vals []goja.Value
	raws [][]byte
	// at indexes keys when there are many.
	at map[string]int
}

// jsonObjectIndexed is how many keys an object has before lookups go
// through a map rather than a scan.
const jsonObjectIndexed = 12

func (in *instance) newJSONObject(raw []byte) *goja.Object {
	o := &jsonObject{in: in, raw: raw}
	return in.rt.NewDynamicObject(o)
}

// split parses the members out of raw, once. Raw is valid JSON (it passed
// scanArray's or the decoder's scan), but split still reports malformed
// input as parseInput does, by throwing.
func (o *jsonObject) split() {
	if o.raw == nil {
		return
	}
	raw := o.raw
	o.members = &members{}
	in := o.in
	in.dec.paid = true
	defer func() { in.dec.paid = false }()
	if err := in.dec.members(raw, o); err != nil {
		panic(in.rt.NewTypeError("hubd: invalid JSON in the envelope's args: %v", err))
	}
	o.raw = nil
}

// add appends a member found by split; a duplicate key replaces the value
// of the first, as JSON.parse does.
func (o *members) add(k string, raw []byte) {
	if i := o.find(k); i >= 0 {
		o.vals[i], o.raws[i] = nil, raw
		return
	}
	o.push(k, nil, raw)
}

// push appends a key with its value, or its raw JSON.
func (o *members) push(k string, v goja.Value, raw []byte) {
	o.keys = append(o.keys, k)
	o.vals = append(o.vals, v)
	o.raws = append(o.raws, raw)
	if o.at != nil {
		o.at[k] = len(o.keys) - 1
	} else if len(o.keys) > jsonObjectIndexed {
		o.reindex()
	}
}

func (o *members) reindex() {
	o.at = make(map[string]int, len(o.keys))
	for i, k := range o.keys {
		o.at[k] = i
	}
}

func (o *members) find(k string) int {
	if o.at != nil {
		if i, ok := o.at[k]; ok {
			return i
		}
		return -1
	}
	for i, x := range o.keys {
		if x == k {
			return i
		}
	}
	return -1
}

func (o *jsonObject) Get(key string) goja.Value {
	o.split()
	i := o.find(key)
	if i < 0 {
		return nil
	}
	if o.vals[i] == nil {
		o.vals[i] = o.in.parseLazy(o.raws[i]) // a throw leaves it raw
		o.raws[i] = nil
	}
	return o.vals[i]
}

func (o *jsonObject) Set(key string, v goja.Value) bool {
	o.split()
	if i := o.find(key); i >= 0 {
		o.vals[i], o.raws[i] = v, nil
		return true
	}
	o.push(key, v, nil)
	return true
}

func (o *jsonObject) Has(key string) bool {
	o.split()
	return o.find(key) >= 0
}

func (o *jsonObject) Delete(key string) bool {
	o.split()
	i := o.find(key)
	if i < 0 {
		return true
	}
	o.keys = slices.Delete(o.keys, i, i+1)
	o.vals = slices.Delete(o.vals, i, i+1)
	o.raws = slices.Delete(o.raws, i, i+1)
	if o.at != nil {
		// The keys after it moved down one; the map is kept, so that a
		// script deleting every key of a large argument makes no garbage.
		delete(o.at, key)
		for j := i; j < len(o.keys); j++ {
			o.at[o.keys[j]] = j
		}
	}
	return true
}

// Keys lists the keys as an ordinary object does: array indexes first, in
// ascending order, then the others in the order they were added.
func (o *jsonObject) Keys() []string {
	o.split()
	keys := slices.Clone(o.keys)
	n := 0
	for _, k := range keys {
		if _, ok := arrayIndex(k); ok {
			n++
		}
	}
	if n == 0 {
		return keys
	}
	slices.SortStableFunc(keys, func(a, b string) int {
		x, xok := arrayIndex(a)
		y, yok := arrayIndex(b)
		switch {
		case xok && yok:
			return cmp.Compare(x, y)
		case xok:
			return -1
		case yok:
			return 1
		}
		return 0
	})
	return keys
}

// arrayIndex reports whether k is an array index (a canonical integer
// below 2^32-1), and which.
func arrayIndex(k string) (uint32, bool) {
	if k == "" || len(k) > 10 || len(k) > 1 && k[0] == '0' {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if n >= 1<<32-1 {
		return 0, false
	}
	return uint32(n), true
}

// parseLazy converts one value of a jsonObject, whose cost was charged:
// objects in it stay lazy.
func (in *instance) parseLazy(raw []byte) goja.Value {
	in.dec.paid, in.dec.lazy = true, true
	defer func() { in.dec.paid, in.dec.lazy = false, false }()
	return in.parseInput(raw, "args")
}
