// Command wasmgo is the event hook of TestBinaryReply
// (host/binreply_test.go) as a Wasm guest in Go; binreply.js says what it
// does.
package main

import hubd "github.com/hubd/hubd/sdk/wasm/go"

func init() {
	hubd.OnEvent(func(e *hubd.Envelope) hubd.Decision {
		if e.Event() != "echo" {
			return hubd.Allow()
		}
		return hubd.ReplyWith(hubd.Object(hubd.KV("echo", e.Arg(0)), hubd.KV("n", hubd.Int(int64(e.NumArgs())))))
	})
}

func main() {}
