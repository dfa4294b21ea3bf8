// Command wasmgo is the connect hook of TestConnectHookSeesRecovery
// (host/recovery_test.go) as a Wasm guest in Go; recovery.js says what it
// does.
package main

import hubd "github.com/hubd/hubd/sdk/wasm/go"

func init() {
	hubd.OnConnect(func(e *hubd.Envelope) hubd.Decision {
		if refuse, _ := e.Auth().Get("refuse").Bool(); e.Recovered() && refuse {
			return hubd.Deny("recovery refused")
		}
		prev := e.SocketData()
		if len(prev) == 0 {
			prev = hubd.Null
		}
		fields := []hubd.Field{hubd.KV("recovered", hubd.Bool(e.Recovered())), hubd.KV("prev", prev)}
		if !e.Recovered() {
			fields = append(fields, hubd.KV("fresh", hubd.Bool(true)))
		}
		return hubd.Decision{SocketData: e.Object(fields...)}
	})
}

func main() {}
