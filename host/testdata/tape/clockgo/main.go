// Command clockgo is a Wasm guest in Go that reads the clocks and the
// random source, for the replay tests (host/tape_e2e_test.go): it answers
// the event "roll" with a reply of hubd.Now() and time.Now() in Unix
// milliseconds and a number from crypto/rand; it lets every other call
// through.
package main

import (
	"crypto/rand"
	"encoding/binary"
	"time"

	hubd "github.com/hubd/hubd/sdk/wasm/go"
)

func init() {
	hubd.OnEvent(func(e *hubd.Envelope) hubd.Decision {
		if e.Event() != "roll" {
			return hubd.Allow()
		}
		var b [4]byte
		if _, err := rand.Read(b[:]); err != nil {
			return hubd.Deny("no random source")
		}
		return hubd.ReplyWith(hubd.Int(hubd.Now().UnixMilli()), hubd.Int(time.Now().UnixMilli()), hubd.Int(int64(binary.LittleEndian.Uint32(b[:]))))
	})
}

func main() {}
