// Command policy is the example hubd Wasm plugin in Go: the policy every
// runtime's example implements (see examples/wasm/README.md).
//
// Build it with:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o policy.wasm ./examples/wasm/go
package main

import (
	"strings"

	hubd "github.com/hubd/hubd/sdk/wasm/go"
)

func init() {
	hubd.OnConnect(connect)
	hubd.OnJoin(join)
	hubd.OnEvent(event)
}

// connect requires a non-empty string token in auth and attaches it to the
// socket as its user.
func connect(e *hubd.Envelope) hubd.Decision {
	token, ok := e.AuthString("token")
	if !ok || token == "" {
		return hubd.Deny("token required")
	}
	return hubd.Decision{SocketData: e.Object(hubd.KV("user", e.String(token)))}
}

// join refuses private rooms.
func join(e *hubd.Envelope) hubd.Decision {
	for _, room := range e.Rooms() {
		if strings.HasPrefix(room, "private:") {
			return hubd.Deny("private room")
		}
	}
	return hubd.Allow()
}

func event(e *hubd.Envelope) hubd.Decision {
	switch e.Event() {
	case "shout":
		if s, ok := e.ArgString(0); ok { // strings.ToUpper, written straight into the reply

			return hubd.Transform(e.ReplaceArg(0, e.UpperString(s)))
		}
	case "ping":
		return hubd.ReplyWith(hubd.String("pong"))
	case "spam":
		return hubd.Drop()
	case "alert":
		return hubd.Route("alerts")
	}
	return hubd.Allow()
}

func main() {}
