package js

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/dop251/goja"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/sdk/wire"
)

var promiseType = reflect.TypeOf((*goja.Promise)(nil))

// Bounds of a decision, as the host checks them.
const (
	maxReason = wire.MaxReason
	maxRooms  = wire.MaxRooms
)

// decision converts what a handler returned. undefined and null allow
// unchanged; a settled promise stands for its value.
func (in *instance) decision(ret goja.Value) (*host.Decision, error) {
	if obj, ok := ret.(*goja.Object); ok && obj.ExportType() == promiseType {
		p, _ := obj.Export().(*goja.Promise)
		if p == nil {
			return nil, garbage("the handler returned an unusable promise")
		}
		switch p.State() {
		case goja.PromiseStatePending:
			return nil, errors.New("js: the handler returned a promise that is still pending; there are no timers or I/O, so an async handler must not wait for anything that has not happened yet")
		case goja.PromiseStateRejected:
			return nil, fmt.Errorf("js: the handler's promise was rejected: %s", in.reasonText(p.Result()))
		}
		ret = p.Result()
	}
	if ret == nil || goja.IsUndefined(ret) || goja.IsNull(ret) {
		return nil, nil // allowed unchanged
	}
	obj, ok := ret.(*goja.Object)
	if !ok {
		return nil, garbage("the handler returned %s, not a decision object", typeName(ret))
	}
	switch obj.ClassName() {
	case "Array":
		return nil, garbage("the handler returned an array, not a decision object")
	case "Function", "AsyncFunction", "GeneratorFunction":
		return nil, garbage("the handler returned a function, not a decision object")
	}

	d := &host.Decision{}
	e := &in.enc
	e.reset(in.p.maxOut)
	defer e.release()
	// JSON values are written one after the other into e.buf and cut
	// apart at the end, so that a decision costs one copy.
	type span struct {
		dst        *wire.Raw
		start, end int
	}
	var spans [4]span
	nspans := 0
	encode := func(name string, dst *wire.Raw, v goja.Value, array bool) error {
		if array {
			if o, ok := v.(*goja.Object); !ok || o.ClassName() != "Array" {
				return garbage("%s must be an array, not %s", name, typeName(v))
			}
		}
		start := len(e.buf)
		written := e.value(v, 0)
		if e.err != nil {
			return e.err
		}
		if !written {
			return nil
		}
		spans[nspans] = span{dst, start, len(e.buf)}
		nspans++
		return nil
	}

	var err error
	get := func(name string) goja.Value {
		v := obj.Get(name)
		if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
			return nil
		}
		return v
	}
	if v := get("action"); v != nil {
		s, ok := stringOf(v)
		if !ok {
			return nil, garbage("action must be a string, not %s", typeName(v))
		}
		switch a := host.Action(s); a {
		case "", host.Allow, host.Deny, host.Drop, host.Reply, host.Disconnect:
			d.Action = a
		default:
			return nil, garbage("unknown action %q (use allow, deny, drop, reply or disconnect)", s)
		}
	}
	if v := get("reason"); v != nil {
		s, ok := stringOf(v)
		if !ok {
			return nil, garbage("reason must be a string, not %s", typeName(v))
		}
		if len(s) > maxReason {
			return nil, garbage("reason longer than %d bytes", maxReason)
		}
		d.Reason = s
	}
	if v := get("event"); v != nil {
		s, ok := stringOf(v)
		if !ok {
			return nil, garbage("event must be a string, not %s", typeName(v))
		}
		d.Event = s
	}
	if v := get("rooms"); v != nil {
		if d.Rooms, err = roomList("rooms", v); err != nil {
			return nil, err
		}
	}
	if v := get("except"); v != nil {
		if d.Except, err = roomList("except", v); err != nil {
			return nil, err
		}
	}
	if v := get("join"); v != nil {
		if d.Join, err = roomList("join", v); err != nil {
			return nil, err
		}
	}
	if v := get("to_sender"); v != nil {
		switch v {
		case in.trueValue:
			d.ToSender = new(true)
		case in.falseValue:
			d.ToSender = new(false)
		default:
			return nil, garbage("to_sender must be a boolean, not %s", typeName(v))
		}
	}
	for _, f := range [...]struct {
		name  string
		dst   *wire.Raw
		array bool
	}{
		{"data", &d.Data, false},
		{"args", &d.Args, true},
		{"reply", &d.Reply, true},
		{"socket_data", &d.SocketData, false},
	} {
		if v := get(f.name); v != nil {
			if err := encode(f.name, f.dst, v, f.array); err != nil {
				if errors.Is(err, errTooLarge) {
					return nil, garbage("the decision is larger than %d bytes", in.p.maxOut)
				}
				if errors.Is(err, host.ErrGarbage) {
					return nil, err
				}
				return nil, garbage("%s: %v", f.name, err)
			}
		}
	}
	if len(e.buf) > in.p.maxOut {
		return nil, garbage("the decision is larger than %d bytes", in.p.maxOut)
	}
	if nspans > 0 {
		all := make([]byte, len(e.buf))
		copy(all, e.buf)
		for _, s := range spans[:nspans] {
			*s.dst = all[s.start:s.end:s.end]
		}
	}
	if d.Action == host.Reply && d.Reply == nil {
		d.Reply = wire.Raw("[]")
	}
	return d, nil
}

// roomList reads a room name or an array of room names.
func roomList(name string, v goja.Value) ([]string, error) {
	if s, ok := stringOf(v); ok {
		if s == "" {
			return nil, garbage("%s: empty room name", name)
		}
		return []string{s}, nil
	}
	obj, ok := v.(*goja.Object)
	if !ok || obj.ClassName() != "Array" {
		return nil, garbage("%s must be a room name or an array of them, not %s", name, typeName(v))
	}
	n := obj.Get("length").ToInteger()
	if n > maxRooms {
		return nil, garbage("%s: more than %d rooms", name, maxRooms)
	}
	out := make([]string, n)
	for i := range out {
		s, ok := stringOf(obj.Get(index(int64(i))))
		if !ok || s == "" {
			return nil, garbage("%s: a room name must be a non-empty string", name)
		}
		out[i] = s
	}
	return out, nil
}

func stringOf(v goja.Value) (string, bool) {
	if goja.IsString(v) {
		return v.String(), true
	}
	return "", false
}

// typeName names a value's type for error messages.
func typeName(v goja.Value) string {
	switch {
	case v == nil || goja.IsUndefined(v):
		return "undefined"
	case goja.IsNull(v):
		return "null"
	case goja.IsString(v):
		return "a string"
	case goja.IsNumber(v):
		return "a number"
	case goja.IsBigInt(v):
		return "a BigInt"
	}
	switch o := v.(type) {
	case *goja.Object:
		switch o.ClassName() {
		case "Array":
			return "an array"
		case "Function", "AsyncFunction", "GeneratorFunction":
			return "a function"
		}
		return "an object"
	case *goja.Symbol:
		return "a symbol"
	}
	return "a boolean"
}

// reasonText renders a rejection reason with its stack, if it has one.
func (in *instance) reasonText(v goja.Value) string {
	if o, ok := v.(*goja.Object); ok {
		if st := o.Get("stack"); st != nil && goja.IsString(st) {
			return st.String()
		}
	}
	if v == nil {
		return "undefined"
	}
	return v.String()
}
