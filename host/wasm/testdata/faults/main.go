//go:build wasip1

// Command faults is a test guest for host/wasm: each event name makes it
// misbehave in one way, or report what the sandbox lets it see.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
	"unsafe"

	hubd "github.com/hubd/hubd/sdk/wasm/go"
)

//go:wasmimport hubd output
func output(ptr unsafe.Pointer, n uint32)

func raw(b []byte) {
	output(unsafe.Pointer(unsafe.SliceData(b)), uint32(len(b)))
}

var keep [][]byte

func init() {
	hubd.OnConnect(func(e *hubd.Envelope) hubd.Decision {
		return hubd.Decision{SocketData: hubd.Object(hubd.KV("id", hubd.String(e.SocketID())))}
	})
	hubd.OnEvent(event)
}

func event(e *hubd.Envelope) hubd.Decision {
	switch e.Event() {
	case "ok":
		return hubd.Allow()
	case "loop":
		for {
		}
	case "logloop":
		// A loop the host's log tells has begun.
		hubd.Info("looping")
		for {
		}
	case "sleep":
		time.Sleep(time.Hour)
	case "bomb":
		for {
			keep = append(keep, make([]byte, 1<<20))
		}
	case "panic":
		panic("boom")
	case "exit":
		os.Exit(3)
	case "garbage":
		raw([]byte(`{"action":`))
	case "badaction":
		raw([]byte(`{"action":"explode"}`))
	case "oversize":
		b := make([]byte, 2<<20)
		for i := range b {
			b[i] = ' '
		}
		b[0], b[len(b)-2], b[len(b)-1] = '{', ' ', '}'
		raw(b)
	case "echo":
		return hubd.ReplyWith(hubd.String(e.SocketID()), e.SocketData(), e.Arg(0))
	case "sandbox":
		_, ferr := os.ReadFile("/etc/passwd")
		_, derr := os.ReadDir("/")
		_, cerr := os.Create("/tmp/hubd-wasm-escape")
		return hubd.ReplyWith(errString(ferr), errString(derr), errString(cerr),
			hubd.Int(int64(len(os.Environ()))), hubd.String(os.Getenv("HOME")), hubd.Int(int64(len(os.Args))))
	case "log":
		hubd.Info("hello from the guest")
		hubd.Warn("careful")
		fmt.Println("a line on stdout")
		fmt.Fprintln(os.Stderr, "a line on stderr")
	case "config":
		cfg := hubd.Config()
		if cfg == nil {
			cfg = hubd.Null
		}
		return hubd.ReplyWith(cfg)
	case "clock":
		return hubd.ReplyWith(hubd.Int(hubd.Now().UnixNano()), hubd.Int(time.Now().UnixNano()))
	case "attach":
		var vals []hubd.Raw
		for i := 0; ; i++ {
			b, ok := hubd.Attachment(i)
			if !ok {
				break
			}
			vals = append(vals, hubd.String(string(b)))
		}
		return hubd.ReplyWith(hubd.Array(vals...))
	case "big":
		// Echo the size of a large envelope back.
		return hubd.ReplyWith(hubd.Int(int64(len(e.Args()))))
	case "count":
		counter++
		return hubd.ReplyWith(hubd.String(strconv.Itoa(counter)))
	}
	return hubd.Allow()
}

var counter int

func errString(err error) hubd.Raw {
	if err == nil {
		return hubd.Null
	}
	return hubd.String(err.Error())
}

func main() {}
