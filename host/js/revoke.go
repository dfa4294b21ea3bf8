package js

import (
	"github.com/dop251/goja"
)

// revoke is hubd.revoke(revocation): the revocation, an object such as
// {namespace: "/", data: {path: "user.sub", equals: "u1"}}, is written as
// JSON within the output limits and queued by the host; the call returns
// at once, before any socket is re-decided. It throws when the plugin
// lacks the "revoke" capability or the host refuses the revocation (a bad
// selector, the plugin's rate, a full queue).
func (in *instance) revoke(call goja.FunctionCall) goja.Value {
	if in.loading {
		panic(in.rt.NewTypeError("hubd.revoke can only be called from a handler, not while the script loads"))
	}
	if in.p.revoke == nil {
		panic(in.rt.NewTypeError(`hubd.revoke needs the "revoke" capability: list it in the manifest's capabilities`))
	}
	arg := call.Argument(0)
	if o, ok := arg.(*goja.Object); !ok || o.ClassName() != "Object" {
		panic(in.rt.NewTypeError(`hubd.revoke takes an object such as {namespace: "/", rooms: ["vip"]}`))
	}
	stringify, _ := goja.AssertFunction(in.rt.Get("JSON").ToObject(in.rt).Get("stringify"))
	s, err := stringify(goja.Undefined(), arg)
	if err != nil {
		panic(err)
	}
	if err := in.p.revoke([]byte(s.String())); err != nil {
		panic(in.rt.NewGoError(err))
	}
	return goja.Undefined()
}
