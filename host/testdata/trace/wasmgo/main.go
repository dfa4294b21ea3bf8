// Command wasmgo is the policy of TestDecisionTraces
// (host/trace_e2e_test.go) as a Wasm guest in Go; trace.js says what it
// does.
package main

import (
	"strings"

	hubd "github.com/hubd/hubd/sdk/wasm/go"
)

func init() {
	hubd.OnConnect(func(e *hubd.Envelope) hubd.Decision {
		token, ok := e.AuthString("token")
		if !ok {
			return hubd.DenyWith("token required", hubd.Raw(`{"code":401}`))
		}
		return hubd.Decision{SocketData: e.Object(hubd.KV("user", e.String(token)))}
	})
	hubd.OnJoin(func(e *hubd.Envelope) hubd.Decision {
		for _, r := range e.Rooms() {
			if strings.HasPrefix(r, "private:") {
				return hubd.Deny("private room")
			}
		}
		return hubd.Allow()
	})
	hubd.OnEvent(func(e *hubd.Envelope) hubd.Decision {
		switch e.Event() {
		case "shout":
			return hubd.Decision{Args: e.Array(e.Object(hubd.KV("shout", e.Arg(0)))), Rooms: []string{"lobby"}}
		case "secret":
			return hubd.Deny("no secrets")
		}
		return hubd.Allow()
	})
}

func main() {}
