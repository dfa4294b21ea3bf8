package js

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"

	"github.com/dop251/goja"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/internal/jsonstr"
)

// encoder writes JS values as JSON, as JSON.stringify does (toJSON is
// honoured; undefined, functions and symbols are left out of objects and
// become null in arrays), but within a byte budget and a step budget, so
// that no value, however shared or cyclic, makes it run long or big.
// Binary values (ArrayBuffer, typed arrays) and BigInts are refused.
type encoder struct {
	in    *instance
	buf   []byte
	limit int // bytes of buf allowed
	steps int // values and keys left to visit
	err   error
}

const maxEncodeDepth = 64

var errTooLarge = errors.New("too large")

// reset starts a new budget of limit bytes.
func (e *encoder) reset(limit int) {
	e.buf = e.buf[:0]
	e.limit = limit
	e.steps = 4*limit + 64
	e.err = nil
}

// release drops a large buffer after use.
func (e *encoder) release() {
	if cap(e.buf) > 64<<10 {
		e.buf = nil
	}
}

func (e *encoder) fail(err error) {
	if e.err == nil {
		e.err = err
	}
}

// value appends v and reports whether anything was written (undefined,
// functions and symbols are not).
func (e *encoder) value(v goja.Value, depth int) bool {
	if e.err != nil {
		return false
	}
	e.steps--
	if e.steps < 0 || len(e.buf) > e.limit {
		e.fail(errTooLarge)
		return false
	}
	in := e.in
	switch {
	case v == nil || goja.IsUndefined(v):
		return false
	case goja.IsNull(v):
		e.buf = append(e.buf, "null"...)
		return true
	case v == in.trueValue:
		e.buf = append(e.buf, "true"...)
		return true
	case v == in.falseValue:
		e.buf = append(e.buf, "false"...)
		return true
	case goja.IsString(v):
		e.buf = jsonstr.Append(e.buf, v.String())
		return true
	case goja.IsNumber(v):
		e.buf = appendNumber(e.buf, v.ToFloat())
		return true
	case goja.IsBigInt(v):
		e.fail(errors.New("a BigInt cannot be serialized"))
		return false
	}
	obj, ok := v.(*goja.Object)
	if !ok {
		return false // symbol
	}
	if depth >= maxEncodeDepth {
		e.fail(fmt.Errorf("nested deeper than %d levels (or cyclic)", maxEncodeDepth))
		return false
	}
	switch obj.ClassName() {
	case "Function", "AsyncFunction", "GeneratorFunction":
		return false
	case "Array":
		e.array(obj, depth)
		return true
	case "String":
		e.buf = jsonstr.Append(e.buf, obj.String())
		return true
	case "Number":
		e.buf = appendNumber(e.buf, obj.ToFloat())
		return true
	case "Boolean":
		if b, _ := obj.Export().(bool); b {
			e.buf = append(e.buf, "true"...)
		} else {
			e.buf = append(e.buf, "false"...)
		}
		return true
	case "RawJSON":
		e.buf = append(e.buf, obj.Get("rawJSON").String()...)
		return true
	case "Object":
		if t := obj.ExportType(); t != nil && t != mapType {
			if t == arrayBufferType || t.Kind() == reflect.Slice {
				e.fail(errors.New("binary values (ArrayBuffer, typed arrays) cannot be returned; keep the attachment placeholders in args"))
				return false
			}
		}
	}
	if toJSON, ok := goja.AssertFunction(obj.Get("toJSON")); ok {
		r, err := toJSON(obj)
		if err != nil {
			panic(err)
		}
		return e.value(r, depth+1)
	}
	e.object(obj, depth)
	return true
}

var (
	mapType         = reflect.TypeOf(map[string]any(nil))
	arrayBufferType = reflect.TypeOf(goja.ArrayBuffer{})
)

func (e *encoder) array(obj *goja.Object, depth int) {
	n := obj.Get("length").ToInteger()
	e.buf = append(e.buf, '[')
	for i := int64(0); i < n && e.err == nil; i++ {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		if !e.value(obj.Get(index(i)), depth+1) {
			e.buf = append(e.buf, "null"...)
		}
	}
	e.buf = append(e.buf, ']')
}

func (e *encoder) object(obj *goja.Object, depth int) {
	e.buf = append(e.buf, '{')
	first := true
	for _, k := range obj.Keys() {
		if e.err != nil {
			return
		}
		e.steps--
		mark := len(e.buf)
		if !first {
			e.buf = append(e.buf, ',')
		}
		e.buf = jsonstr.Append(e.buf, k)
		e.buf = append(e.buf, ':')
		if e.value(obj.Get(k), depth+1) {
			first = false
		} else {
			e.buf = e.buf[:mark]
		}
	}
	e.buf = append(e.buf, '}')
}

var indexes = func() (s [64]string) {
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return
}()

func index(i int64) string {
	if i < int64(len(indexes)) {
		return indexes[i]
	}
	return strconv.FormatInt(i, 10)
}

func appendNumber(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return append(dst, "null"...)
	case f == math.Trunc(f) && math.Abs(f) < 1e15:
		return strconv.AppendInt(dst, int64(f), 10)
	case f == math.Trunc(f) && math.Abs(f) < 1e21:
		return strconv.AppendFloat(dst, f, 'f', -1, 64)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64)
}

// garbage makes an host.ErrGarbage error.
func garbage(format string, args ...any) error {
	return fmt.Errorf("%w: %s", host.ErrGarbage, fmt.Sprintf(format, args...))
}
