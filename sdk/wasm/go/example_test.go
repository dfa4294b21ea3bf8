package hubd_test

import hubd "github.com/hubd/hubd/sdk/wasm/go"

// The package documentation's plugin, compiled with the tests so that it
// stays right: a plugin registers its handlers in init.
func Example() {
	hubd.OnEvent(func(e *hubd.Envelope) hubd.Decision {
		if e.Event() == "spam" {
			return hubd.Drop()
		}
		return hubd.Allow()
	})
}
