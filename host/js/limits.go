package js

import (
	"fmt"
	"math"
	"strings"

	"github.com/dop251/goja"
)

// The memory limit of a call.
//
// goja cannot cap a runtime's memory, and its built-ins run to completion
// in Go, out of the watchdog's reach: "x".repeat(2**40) asks the Go
// runtime for a terabyte at once, which kills the process with a fatal
// error no recover catches, and new Array(2**32 - 1).indexOf(1) loops for
// minutes. So each runtime's built-ins that build or visit something of a
// size they are given are replaced, before the script runs, by wrappers
// that check that size first and throw a RangeError when it is over the
// plugin's limit; what ordinary code piles up one instruction at a time
// (s += s) is caught by the watchdog, which stops a call that allocated
// more than the limit (watchdog.go).

// DefaultMaxMemoryMiB is a JavaScript plugin's memory limit when its
// manifest sets none (max_memory_mib).
const DefaultMaxMemoryMiB = 64

// maxNesting bounds how deep the wrapped built-ins that recurse (join,
// flat, JSON.stringify) follow nested values: goja's own recursion in Go
// is quadratic in the depth, and deep enough would exhaust the stack.
const maxNesting = 1000

// limits are the bounds derived from a plugin's memory limit.
type limits struct {
	bytes int64 // what one call may allocate, and the largest buffer
	chars int64 // the longest string a built-in may build (UTF-16 units)
	elems int64 // the most elements a built-in may build or visit
}

// elemCost is what an array element costs when a built-in makes it, at
// most (measured on goja: 150 to 220 bytes for fill, map, push or
// Array.from; a plain slot is 16).
const elemCost = 256

func newLimits(mib int) limits {
	if mib <= 0 {
		mib = DefaultMaxMemoryMiB
	}
	b := int64(mib) << 20
	// A string costs up to 2 bytes a character.
	return limits{bytes: b, chars: b / 2, elems: b / elemCost}
}

// throwRange throws a RangeError saying what went over which limit.
func (in *instance) throwRange(what string, size float64, limit int64, unit string) {
	in.throwRangeMsg(fmt.Sprintf("%s would make %.0f %s, over the plugin's limit of %d (max_memory_mib %d)",
		what, size, unit, limit, in.p.limits.bytes>>20))
}

// throwRangeMsg throws a RangeError with msg.
func (in *instance) throwRangeMsg(msg string) {
	if in.rangeError != nil {
		if obj, err := in.rangeError(nil, in.rt.ToValue(msg)); err == nil {
			panic(obj)
		}
	}
	panic(in.rt.NewTypeError(msg))
}

// guard is a check run before a built-in; it may replace the call's
// this and arguments by the values it converted, so that the built-in
// does not convert them (and run their valueOf or toString) again.
type guard func(call goja.FunctionCall) goja.FunctionCall

// wrap replaces obj[name], a built-in method, by a native function of the
// same name and length that runs g, then the original. It does nothing if
// the runtime has no such method.
func (in *instance) wrap(obj *goja.Object, name string, g guard) error {
	v := obj.Get(name)
	orig, ok := goja.AssertFunction(v)
	if !ok {
		return nil
	}
	length := v.ToObject(in.rt).Get("length")
	return in.replace(obj, name, length, func(call goja.FunctionCall) goja.Value {
		call = g(call)
		ret, err := orig(call.This, call.Arguments...)
		if err != nil {
			panic(err) // rethrown as it was: an exception, or an interrupt
		}
		return ret
	})
}

// replace defines obj[name] as fn, with the attributes of a built-in.
func (in *instance) replace(obj *goja.Object, name string, length goja.Value, fn func(goja.FunctionCall) goja.Value) error {
	f := in.rt.ToValue(fn).(*goja.Object)
	if err := f.DefineDataProperty("name", in.rt.ToValue(name), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_TRUE); err != nil {
		return err
	}
	if err := f.DefineDataProperty("length", length, goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_TRUE); err != nil {
		return err
	}
	return obj.DefineDataProperty(name, f, goja.FLAG_TRUE, goja.FLAG_FALSE, goja.FLAG_TRUE)
}

// installLimits wraps the built-ins of the runtime, before the script
// runs.
func (in *instance) installLimits() error {
	rt := in.rt
	in.rangeError, _ = goja.AssertConstructor(rt.Get("RangeError")) // the script's may differ
	proto := func(ctor string) *goja.Object {
		return rt.Get(ctor).ToObject(rt).Get("prototype").ToObject(rt)
	}
	str, arr := proto("String"), proto("Array")
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(in.wrap(str, "repeat", in.guardRepeat))
	add(in.wrap(str, "padStart", in.guardPad))
	add(in.wrap(str, "padEnd", in.guardPad))
	add(in.wrap(str, "concat", in.guardConcat))
	add(in.wrap(str, "split", in.guardSplit))
	add(in.wrap(str, "replace", in.guardReplace(false)))
	add(in.wrap(str, "replaceAll", in.guardReplace(true)))
	for _, name := range []string{
		"copyWithin", "every", "fill", "filter", "find", "findIndex", "findLast", "findLastIndex",
		"flatMap", "forEach", "includes", "indexOf", "lastIndexOf", "map", "reduce", "reduceRight",
		"reverse", "shift", "slice", "some", "sort", "splice", "toReversed", "toSorted", "toSpliced",
		"unshift", "with",
	} {
		add(in.wrap(arr, name, in.guardLength))
	}
	add(in.wrap(arr, "concat", in.guardArrayConcat))
	add(in.wrap(arr, "flat", in.guardFlat))
	add(in.replace(arr, "join", rt.ToValue(1), in.join))
	add(in.replace(arr, "toLocaleString", rt.ToValue(0), in.toLocaleString))
	arrayCtor := rt.Get("Array").ToObject(rt)
	add(in.wrap(arrayCtor, "from", in.guardFrom))
	fnProto := proto("Function")
	add(in.wrap(fnProto, "apply", in.guardArgList(1)))
	reflect := rt.Get("Reflect").ToObject(rt)
	add(in.wrap(reflect, "apply", in.guardArgList(2)))
	add(in.wrap(reflect, "construct", in.guardArgList(1)))
	json := rt.Get("JSON").ToObject(rt)
	add(in.wrap(json, "parse", in.guardParse))
	add(in.installStringify(json))
	add(in.installBuffers())
	if len(errs) > 0 {
		return fmt.Errorf("js: installing the memory limits: %v", errs)
	}
	return nil
}

// thisString converts a String.prototype method's this as the method
// would; ok is false for null and undefined (the original throws).
func (in *instance) thisString(call goja.FunctionCall) (goja.String, bool) {
	if call.This == nil || goja.IsUndefined(call.This) || goja.IsNull(call.This) {
		return nil, false
	}
	return in.jsString(call.This), true
}

// jsString converts v as ToString does (an object's toString or valueOf
// runs). goja's Value.ToString leaves numbers and booleans as they are.
func (in *instance) jsString(v goja.Value) goja.String {
	if s, ok := v.(goja.String); ok {
		return s
	}
	p := v.ToString()
	if s, ok := p.(goja.String); ok {
		return s
	}
	return in.rt.ToValue(p.String()).(goja.String)
}

// guardRepeat: String.prototype.repeat(count).
func (in *instance) guardRepeat(call goja.FunctionCall) goja.FunctionCall {
	s, ok := in.thisString(call)
	if !ok {
		return call
	}
	count := call.Argument(0).ToNumber()
	n := count.ToFloat()
	if size := float64(s.Length()) * n; n >= 1 && !math.IsInf(n, 0) && size > float64(in.p.limits.chars) {
		in.throwRange("String.prototype.repeat", size, in.p.limits.chars, "characters")
	}
	return goja.FunctionCall{This: s, Arguments: []goja.Value{count}}
}

// guardPad: String.prototype.padStart and padEnd(maxLength, fillString).
func (in *instance) guardPad(call goja.FunctionCall) goja.FunctionCall {
	s, ok := in.thisString(call)
	if !ok {
		return call
	}
	target := call.Argument(0).ToNumber()
	args := []goja.Value{target}
	fill := call.Argument(1)
	empty := false
	if !goja.IsUndefined(fill) {
		fs := in.jsString(fill)
		args = append(args, fs)
		empty = fs.Length() == 0
	}
	if n := target.ToFloat(); !empty && n > float64(s.Length()) && n > float64(in.p.limits.chars) {
		in.throwRange("String.prototype.padStart/padEnd", n, in.p.limits.chars, "characters")
	}
	return goja.FunctionCall{This: s, Arguments: args}
}

// guardConcat: String.prototype.concat(...strings).
func (in *instance) guardConcat(call goja.FunctionCall) goja.FunctionCall {
	s, ok := in.thisString(call)
	if !ok {
		return call
	}
	size := float64(s.Length())
	args := make([]goja.Value, len(call.Arguments))
	for i, a := range call.Arguments {
		as := in.jsString(a)
		args[i] = as
		size += float64(as.Length())
	}
	if size > float64(in.p.limits.chars) {
		in.throwRange("String.prototype.concat", size, in.p.limits.chars, "characters")
	}
	return goja.FunctionCall{This: s, Arguments: args}
}

// pieceCost is what a piece of String.prototype.split costs, at most
// (measured: about 50 bytes).
const pieceCost = 64

// guardSplit: String.prototype.split(separator, limit). The pieces of a
// string separator are counted when they might be too many; any other
// separator (a regular expression) may make one per character.
func (in *instance) guardSplit(call goja.FunctionCall) goja.FunctionCall {
	if call.This == nil || goja.IsUndefined(call.This) || goja.IsNull(call.This) {
		return call
	}
	s := in.jsString(call.This)
	maxPieces := in.p.limits.bytes / pieceCost
	sep := call.Argument(0)
	if _, isObj := sep.(*goja.Object); isObj {
		if n := int64(s.Length()) + 1; n > maxPieces {
			in.throwRange("String.prototype.split", float64(n), maxPieces, "pieces")
		}
		return goja.FunctionCall{This: s, Arguments: call.Arguments}
	}
	limit := call.Argument(1)
	most := int64(math.MaxUint32)
	if !goja.IsUndefined(limit) {
		limit = limit.ToNumber()
		if f := limit.ToFloat(); f >= 0 && f < float64(most) {
			most = int64(f)
		}
	}
	if goja.IsUndefined(sep) {
		return goja.FunctionCall{This: s, Arguments: []goja.Value{sep, limit}}
	}
	sepStr := in.jsString(sep)
	n := int64(s.Length()) + 1
	if l := int64(sepStr.Length()); l > 0 {
		n = int64(s.Length())/l + 1
	}
	if n = min(n, most); n > maxPieces && sepStr.Length() > 0 {
		n = min(int64(countPieces(s.String(), sepStr.String())), most)
	}
	if n > maxPieces {
		in.throwRange("String.prototype.split", float64(n), maxPieces, "pieces")
	}
	return goja.FunctionCall{This: s, Arguments: []goja.Value{sepStr, limit}}
}

// guardReplace: String.prototype.replace and replaceAll(pattern,
// replacement) with a string replacement, whose result is counted before:
// each match makes the replacement, whose $` and $' patterns can each
// make the whole string again (the other $ patterns make matches, which do
// not overlap: the whole string at most, all matches together). A string
// pattern's matches are counted; a regular expression is taken to match at
// every character. A function as the replacement is not checked: it runs
// between the matches, where the watchdog can stop the call.
func (in *instance) guardReplace(all bool) guard {
	return func(call goja.FunctionCall) goja.FunctionCall {
		if call.This == nil || goja.IsUndefined(call.This) || goja.IsNull(call.This) {
			return call
		}
		repl := call.Argument(1)
		if _, isFn := goja.AssertFunction(repl); isFn {
			return call
		}
		pattern := call.Argument(0)
		if o, isObj := pattern.(*goja.Object); isObj && o.ClassName() != "RegExp" {
			return call // a custom Symbol.replace: the script's own code
		}
		s := in.jsString(call.This)
		r := in.jsString(repl)
		rs := r.String()
		n := int64(s.Length())
		whole := int64(strings.Count(rs, "$`") + strings.Count(rs, "$'"))
		parts := int64(strings.Count(rs, "$")) - whole
		per := int64(r.Length()) + whole*n // what each match may make
		matches := int64(1)
		if _, isObj := pattern.(*goja.Object); isObj {
			matches = int64(s.Length()) + 1
		} else {
			p := in.jsString(pattern)
			pattern = p
			if all {
				if p.Length() == 0 {
					matches = int64(s.Length()) + 1
				} else if int64(s.Length())+per*int64(s.Length()/p.Length()+1) > in.p.limits.chars {
					matches = int64(strings.Count(s.String(), p.String()))
				} else {
					matches = 0 // few enough whatever the count
				}
			}
		}
		if size := float64(n+parts*n) + float64(matches)*float64(per); size > float64(in.p.limits.chars) {
			in.throwRange("String.prototype.replace", size, in.p.limits.chars, "characters")
		}
		return goja.FunctionCall{This: s, Arguments: []goja.Value{pattern, r}}
	}
}

// countPieces is the number of pieces split makes of s (sep not empty).
func countPieces(s, sep string) int {
	n := 1
	for {
		i := strings.Index(s, sep)
		if i < 0 {
			return n
		}
		n++
		s = s[i+len(sep):]
	}
}

// lengthOf reads an array-like's length as Array.prototype methods do.
func (in *instance) lengthOf(o *goja.Object) int64 {
	v := o.Get("length")
	if v == nil {
		return 0
	}
	f := v.ToNumber().ToFloat()
	switch {
	case math.IsNaN(f) || f <= 0:
		return 0
	case f > math.MaxInt64/2:
		return math.MaxInt64 / 2
	}
	return int64(f)
}

// guardLength: an Array.prototype method that visits or builds as many
// elements as this has (this need not be an array: the methods are
// generic).
func (in *instance) guardLength(call goja.FunctionCall) goja.FunctionCall {
	if call.This == nil || goja.IsUndefined(call.This) || goja.IsNull(call.This) {
		return call
	}
	o := call.This.ToObject(in.rt)
	if n := in.lengthOf(o); n > in.p.limits.elems {
		in.throwRange("an array method", float64(n), in.p.limits.elems, "elements")
	}
	return goja.FunctionCall{This: o, Arguments: call.Arguments}
}

// guardArrayConcat: Array.prototype.concat(...items).
func (in *instance) guardArrayConcat(call goja.FunctionCall) goja.FunctionCall {
	if call.This == nil || goja.IsUndefined(call.This) || goja.IsNull(call.This) {
		return call
	}
	o := call.This.ToObject(in.rt)
	var n int64
	for _, v := range append([]goja.Value{o}, call.Arguments...) {
		n++
		if a, ok := v.(*goja.Object); ok && in.spreadable(a) {
			n += in.lengthOf(a)
		}
		if n > in.p.limits.elems {
			in.throwRange("Array.prototype.concat", float64(n), in.p.limits.elems, "elements")
		}
	}
	return goja.FunctionCall{This: o, Arguments: call.Arguments}
}

// spreadable is IsConcatSpreadable.
func (in *instance) spreadable(o *goja.Object) bool {
	if s := o.GetSymbol(goja.SymIsConcatSpreadable); s != nil && !goja.IsUndefined(s) {
		return s.ToBoolean()
	}
	return o.ClassName() == "Array"
}

// guardFlat: Array.prototype.flat(depth). The elements it would make are
// counted first, without recursion, as far as the limits allow.
func (in *instance) guardFlat(call goja.FunctionCall) goja.FunctionCall {
	if call.This == nil || goja.IsUndefined(call.This) || goja.IsNull(call.This) {
		return call
	}
	o := call.This.ToObject(in.rt)
	depth := 1.0
	arg := call.Argument(0)
	if !goja.IsUndefined(arg) {
		arg = arg.ToNumber()
		if depth = arg.ToFloat(); math.IsNaN(depth) {
			depth = 0
		}
	}
	type level struct {
		a    *goja.Object
		i, n int64
	}
	stack := []level{{o, 0, in.lengthOf(o)}}
	var count int64
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if top.i >= top.n {
			stack = stack[:len(stack)-1]
			continue
		}
		count++
		if top.n > in.p.limits.elems || count > in.p.limits.elems {
			in.throwRange("Array.prototype.flat", float64(max(count, top.n)), in.p.limits.elems, "elements")
		}
		v := top.a.Get(index(top.i))
		top.i++
		if a, ok := v.(*goja.Object); ok && a.ClassName() == "Array" && float64(len(stack)) <= depth {
			if len(stack) > maxNesting {
				in.throwRange("Array.prototype.flat", float64(len(stack)), maxNesting, "levels of nesting")
			}
			count--
			stack = append(stack, level{a, 0, in.lengthOf(a)})
		}
	}
	return goja.FunctionCall{This: o, Arguments: []goja.Value{arg}}
}

// guardFrom: Array.from(items, mapFn, thisArg) of an array-like.
func (in *instance) guardFrom(call goja.FunctionCall) goja.FunctionCall {
	if o, ok := call.Argument(0).(*goja.Object); ok {
		if n := in.lengthOf(o); n > in.p.limits.elems {
			in.throwRange("Array.from", float64(n), in.p.limits.elems, "elements")
		}
	}
	return call
}

// guardArgList: Function.prototype.apply, Reflect.apply and
// Reflect.construct, whose argument i is made into an argument list.
func (in *instance) guardArgList(i int) guard {
	return func(call goja.FunctionCall) goja.FunctionCall {
		if o, ok := call.Argument(i).(*goja.Object); ok {
			if n := in.lengthOf(o); n > in.p.limits.elems {
				in.throwRange("an argument list", float64(n), in.p.limits.elems, "elements")
			}
		}
		return call
	}
}

// jsonValueCost is what goja's JSON.parse allocates per value, at most
// (measured: about 670 bytes for an empty array).
const jsonValueCost = 768

// guardParse: JSON.parse(text, reviver). A value in JSON can take a byte
// or two and cost hundreds in goja, so the values are counted first.
func (in *instance) guardParse(call goja.FunctionCall) goja.FunctionCall {
	text := in.jsString(call.Argument(0))
	s := text.String()
	if int64(len(s))*jsonValueCost > in.p.limits.bytes {
		values := int64(1)
		for i := 0; i < len(s); i++ {
			switch s[i] {
			case ',', '[', '{':
				values++
			}
		}
		if cost := values*jsonValueCost + int64(len(s)); cost > in.p.limits.bytes {
			in.throwRange("JSON.parse", float64(cost), in.p.limits.bytes, "bytes")
		}
	}
	args := []goja.Value{text}
	if len(call.Arguments) > 1 {
		args = append(args, call.Arguments[1:]...)
	}
	return goja.FunctionCall{This: call.This, Arguments: args}
}

// join is Array.prototype.join, built within the limits: the string is
// checked as it grows, a join inside an element's toString is one level
// of nesting (bounded), and an array met again while it is being joined
// makes "" (as goja and the major engines do).
func (in *instance) join(call goja.FunctionCall) goja.Value {
	o := call.This.ToObject(in.rt)
	sep := in.jsString(in.rt.ToValue(","))
	if arg := call.Argument(0); !goja.IsUndefined(arg) {
		sep = in.jsString(arg)
	}
	return in.joinWith(o, "Array.prototype.join", func(b *goja.StringBuilder, size *int64, i int64) {
		if i > 0 {
			*size += int64(sep.Length())
			b.WriteString(sep)
		}
		v := o.Get(index(i))
		if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
			return
		}
		s := in.jsString(v)
		if *size += int64(s.Length()); *size > in.p.limits.chars {
			in.throwRange("Array.prototype.join", float64(*size), in.p.limits.chars, "characters")
		}
		b.WriteString(s)
	}, sep.Length())
}

// toLocaleString is Array.prototype.toLocaleString within the limits.
func (in *instance) toLocaleString(call goja.FunctionCall) goja.Value {
	o := call.This.ToObject(in.rt)
	comma := in.jsString(in.rt.ToValue(","))
	return in.joinWith(o, "Array.prototype.toLocaleString", func(b *goja.StringBuilder, size *int64, i int64) {
		if i > 0 {
			*size++
			b.WriteString(comma)
		}
		v := o.Get(index(i))
		if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
			return
		}
		f, ok := goja.AssertFunction(v.ToObject(in.rt).Get("toLocaleString"))
		if !ok {
			panic(in.rt.NewTypeError("Property 'toLocaleString' of object %s is not a function", v.String()))
		}
		r, err := f(v)
		if err != nil {
			panic(err)
		}
		s := in.jsString(r)
		if *size += int64(s.Length()); *size > in.p.limits.chars {
			in.throwRange("Array.prototype.toLocaleString", float64(*size), in.p.limits.chars, "characters")
		}
		b.WriteString(s)
	}, 1)
}

// joinWith runs one element at a time of a join of o, with the checks
// they share.
func (in *instance) joinWith(o *goja.Object, what string, each func(b *goja.StringBuilder, size *int64, i int64), sepLen int) goja.Value {
	for _, x := range in.joining {
		if x == o {
			return in.rt.ToValue("")
		}
	}
	if len(in.joining) >= maxNesting {
		in.throwRange(what, float64(len(in.joining)+1), maxNesting, "levels of nesting")
	}
	n := in.lengthOf(o)
	if n > in.p.limits.elems {
		in.throwRange(what, float64(n), in.p.limits.elems, "elements")
	}
	if size := float64(n-1) * float64(sepLen); size > float64(in.p.limits.chars) {
		in.throwRange(what, size, in.p.limits.chars, "characters")
	}
	in.joining = append(in.joining, o)
	defer func() {
		in.joining[len(in.joining)-1] = nil
		in.joining = in.joining[:len(in.joining)-1]
	}()
	var b goja.StringBuilder
	var size int64
	for i := int64(0); i < n; i++ {
		each(&b, &size, i)
	}
	return b.String()
}

// typedArrays are the constructors installBuffers checks, besides
// ArrayBuffer.
var typedArrays = []string{
	"Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array",
	"Uint32Array", "Float16Array", "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array",
}

// collections are the constructors that take every element of an
// iterable, in Go.
var collections = []string{"Set", "Map", "WeakSet", "WeakMap"}

// installBuffers puts ArrayBuffer, the typed array constructors and the
// collections behind proxies that check the size of what they are asked
// to make, and bounds TypedArray.prototype.join and the functions that
// take every element of an array-like (Object.fromEntries, Promise.all
// and its kin).
func (in *instance) installBuffers() error {
	rt := in.rt
	g := rt.GlobalObject()
	for _, name := range append([]string{"ArrayBuffer"}, typedArrays...) {
		elem := int64(1)
		if name != "ArrayBuffer" {
			if c, ok := g.Get(name).(*goja.Object); ok {
				elem = max(c.Get("BYTES_PER_ELEMENT").ToInteger(), 1)
			}
		}
		if err := in.guardConstructor(name, func(args []goja.Value) { in.checkBuffer(name, elem, args) }); err != nil {
			return err
		}
	}
	for _, name := range collections {
		if err := in.guardConstructor(name, func(args []goja.Value) {
			if len(args) > 0 {
				in.checkElements(name, args[0])
			}
		}); err != nil {
			return err
		}
	}
	object := g.Get("Object").ToObject(rt)
	if err := in.wrap(object, "fromEntries", in.guardElements("Object.fromEntries", 0)); err != nil {
		return err
	}
	if promise, ok := g.Get("Promise").(*goja.Object); ok {
		for _, name := range []string{"all", "allSettled", "any", "race"} {
			if err := in.wrap(promise, name, in.guardElements("Promise."+name, 0)); err != nil {
				return err
			}
		}
	}
	// %TypedArray%.prototype, shared by every typed array.
	ta := g.Get("Uint8Array").ToObject(rt).Get("prototype").ToObject(rt).Prototype()
	if ta == nil {
		return nil
	}
	return in.wrap(ta, "join", in.guardTypedJoin)
}

// guardConstructor puts the global constructor name behind a proxy that
// runs check on the arguments of new. The proxy is also the prototype's
// constructor, so that species lookups and x.constructor === Name go
// through it too.
func (in *instance) guardConstructor(name string, check func(args []goja.Value)) error {
	rt := in.rt
	g := rt.GlobalObject()
	target, ok := g.Get(name).(*goja.Object)
	if !ok {
		return nil
	}
	ctor, ok := goja.AssertConstructor(target)
	if !ok {
		return nil
	}
	proxy := rt.ToValue(rt.NewProxy(target, &goja.ProxyTrapConfig{
		Construct: func(_ *goja.Object, args []goja.Value, newTarget *goja.Object) *goja.Object {
			check(args)
			o, err := ctor(newTarget, args...)
			if err != nil {
				panic(err)
			}
			return o
		},
	}))
	// goja's instanceof does not see through a proxy (it finds no
	// Symbol.hasInstance, which the standard puts on Function.prototype),
	// so the target gets its own.
	if err := target.DefineDataPropertySymbol(goja.SymHasInstance, in.hasInstance(target),
		goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE); err != nil {
		return err
	}
	if err := g.DefineDataProperty(name, proxy, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE); err != nil {
		return err
	}
	proto := target.Get("prototype").ToObject(rt)
	return proto.DefineDataProperty("constructor", proxy, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
}

// checkElements checks an array-like or an array given to a built-in that
// takes every element (an iterable without a length, such as a generator,
// runs script code for each element, where the watchdog can stop it).
func (in *instance) checkElements(what string, v goja.Value) {
	if o, ok := v.(*goja.Object); ok {
		if n := in.lengthOf(o); n > in.p.limits.elems {
			in.throwRange(what, float64(n), in.p.limits.elems, "elements")
		}
	}
}

// guardElements: a function whose argument i is an iterable it takes in
// whole.
func (in *instance) guardElements(what string, i int) guard {
	return func(call goja.FunctionCall) goja.FunctionCall {
		in.checkElements(what, call.Argument(i))
		return call
	}
}

// hasInstance is OrdinaryHasInstance for ctor, as a function.
func (in *instance) hasInstance(ctor *goja.Object) goja.Value {
	return in.rt.ToValue(func(call goja.FunctionCall) goja.Value {
		o, ok := call.Argument(0).(*goja.Object)
		if !ok {
			return in.falseValue
		}
		proto, _ := ctor.Get("prototype").(*goja.Object)
		for p := o.Prototype(); p != nil; p = p.Prototype() {
			if p == proto {
				return in.trueValue
			}
		}
		return in.falseValue
	})
}

// checkBuffer checks what new name(args...) would allocate.
func (in *instance) checkBuffer(name string, elem int64, args []goja.Value) {
	if len(args) == 0 {
		return
	}
	var n float64
	switch a, isObj := args[0].(*goja.Object); {
	case name == "ArrayBuffer" || !isObj:
		// A length; the number is handed on, so that an object's
		// valueOf runs once.
		args[0] = args[0].ToNumber()
		n = args[0].ToFloat()
	case a.ExportType() == arrayBufferType:
		return // a view of an existing buffer
	default:
		n = float64(in.lengthOf(a)) // an array-like, or a typed array
	}
	if size := n * float64(elem); size > float64(in.p.limits.bytes) {
		in.throwRange(name, size, in.p.limits.bytes, "bytes")
	}
}

// guardTypedJoin: TypedArray.prototype.join(separator), whose elements
// are numbers: at most 4 characters for 1-byte elements, 6 for 2-byte, 16
// for 4-byte and 24 for 8-byte ones.
func (in *instance) guardTypedJoin(call goja.FunctionCall) goja.FunctionCall {
	o, ok := call.This.(*goja.Object)
	if !ok {
		return call
	}
	sep := in.jsString(in.rt.ToValue(","))
	if arg := call.Argument(0); !goja.IsUndefined(arg) {
		sep = in.jsString(arg)
	}
	n := float64(in.lengthOf(o))
	digits := 24.0
	switch o.Get("BYTES_PER_ELEMENT").ToInteger() {
	case 1:
		digits = 4
	case 2:
		digits = 6
	case 4:
		digits = 16
	}
	if size := n*digits + (n-1)*float64(sep.Length()); size > float64(in.p.limits.chars) {
		in.throwRange("TypedArray.prototype.join", size, in.p.limits.chars, "characters")
	}
	return goja.FunctionCall{This: call.This, Arguments: []goja.Value{sep}}
}
