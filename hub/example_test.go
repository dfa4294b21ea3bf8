package hub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"regexp"
	"time"

	"github.com/hubd/hubd/hub"
)

// A chat server: every message is relayed to the rooms the sender is in.
func Example() {
	srv := hub.New(hub.Options{})
	srv.OnConnection(func(s *hub.Socket) {
		s.On("join", func(ev *hub.Event) {
			var room string
			if err := ev.Args.Bind(&room); err != nil {
				_ = ev.Ack(map[string]any{"ok": false, "error": err.Error()})
				return
			}
			_ = s.Join(room)
			_ = ev.Ack(map[string]any{"ok": true})
		})
		s.On("chat", func(ev *hub.Event) {
			// The arguments go out byte for byte as they came in.
			_ = s.To(s.Rooms()...).EmitArgs("chat", ev.Args)
		})
	})
	http.Handle("/socket.io/", srv)
	// log.Fatal(http.ListenAndServe(":3000", nil))
}

// Middleware refuses a connection; the client's connect_error carries the
// message and the data.
func ExampleNamespace_Use() {
	srv := hub.New(hub.Options{})
	admin := srv.Of("/admin")
	admin.Use(func(s *hub.Socket) error {
		var auth struct {
			Token string `json:"token"`
		}
		if err := json.Unmarshal(s.Handshake().Auth, &auth); err != nil || auth.Token != "secret" {
			return &hub.ConnectError{Message: "not authorized", Data: map[string]any{"code": 401}}
		}
		s.SetData(map[string]any{"admin": true})
		return nil
	})
}

// Dynamic namespaces: one per workspace, created on first use.
func ExampleServer_OfPattern() {
	srv := hub.New(hub.Options{})
	workspaces := srv.OfPattern(regexp.MustCompile(`^/workspace-\d+$`))
	workspaces.OnConnection(func(s *hub.Socket) {
		_ = s.Emit("hello", s.Namespace().Name())
	})
}

// Broadcast to a room, leaving one room out, and collect acks with a
// timeout.
func ExampleBroadcastOperator_EmitWithAck() {
	srv := hub.New(hub.Options{})
	ctx := context.Background()
	replies, err := srv.To("players").Except("spectators").Timeout(2*time.Second).EmitWithAck(ctx, "ready?")
	if err != nil {
		log.Printf("%d answered before the timeout: %v", len(replies), err)
	}
	fmt.Println(len(replies))
	// Output: 0
}

// Arguments: Go values in, raw JSON and binary out.
func ExampleNewArgs() {
	args, _ := hub.NewArgs("photo", map[string]any{"w": 2, "h": 1}, []byte{0xff, 0xd8})
	fmt.Println(string(args.JSON()), len(args.Attachments()))

	var name string
	var jpeg []byte
	_ = args.Bind(&name, nil, &jpeg)
	fmt.Println(name, jpeg)
	// Output:
	// ["photo",{"h":1,"w":2},{"_placeholder":true,"num":0}] 1
	// photo [255 216]
}
