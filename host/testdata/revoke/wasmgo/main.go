// Command wasmgo is the "kick" event of grants.js (host/revoke_e2e_test.go)
// as a Wasm guest in Go: it asks the host to revoke (hubd.Revoke) the
// connect grant of the user its argument names, or the revocation its
// argument is when it is an object, and answers {ok} or {ok, error}.
package main

import (
	hubd "github.com/hubd/hubd/sdk/wasm/go"
)

func init() {
	hubd.OnEvent(func(e *hubd.Envelope) hubd.Decision {
		if e.Event() != "kick" {
			return hubd.Allow()
		}
		arg := e.Arg(0)
		revocation := arg
		if _, ok := arg.Str(); ok {
			revocation = hubd.Object(
				hubd.KV("data", hubd.Object(hubd.KV("path", hubd.String("user.sub")), hubd.KV("equals", arg))),
				hubd.KV("recheck", hubd.String("connect")))
		}
		if err := hubd.Revoke(revocation); err != nil {
			return hubd.ReplyWith(hubd.Object(hubd.KV("ok", hubd.Bool(false)), hubd.KV("error", hubd.String(err.Error()))))
		}
		return hubd.ReplyWith(hubd.Object(hubd.KV("ok", hubd.Bool(true))))
	})
}

func main() {}
