// Command wasmgo is bench/hub/plugins/js/hook.js as a Go Wasm guest: an
// event hook that reads the event name and the first argument and allows
// the event unchanged. Build it into a plugin directory of its own:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o DIR/hook.wasm ./bench/hub/plugins/wasmgo
package main

import hubd "github.com/hubd/hubd/sdk/wasm/go"

var last hubd.Raw

func init() {
	hubd.OnEvent(func(e *hubd.Envelope) hubd.Decision {
		if e.Event() == "never" {
			return hubd.Deny("never")
		}
		last = e.Arg(0)
		return hubd.Allow()
	})
}

func main() {}
