// Command policy is hubd's example process plugin. It carries the policy
// that the JavaScript, WebAssembly and process examples share, so that the
// three runtimes can be checked against one table:
//
//   - connect: deny "token required" unless handshake.auth has a non-empty
//     "token" string; then allow and attach socket data {"user": token};
//   - join: deny "private room" for rooms matching "private:*";
//   - event "shout": upper-case the first argument when it is a string;
//   - event "ping": reply ["pong"];
//   - event "spam": drop;
//   - event "alert": route to the room "alerts";
//   - anything else: allow.
//
// Build it with
//
//	go build -o examples/process/policy/policy ./examples/process/policy
//
// and the folder is a plugin hubd can load (see plugin.json).
package main

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/hubd/hubd/sdk/process"
)

func main() {
	process.Serve(&process.Plugin{
		Name:      "policy",
		OnConnect: connect,
		OnJoin:    join,
		Events: map[string]process.Handler{
			"shout": shout,
			"ping":  ping,
			"spam":  spam,
			"alert": alert,
		},
	})
}

func connect(_ context.Context, e *process.Envelope) (*process.Decision, error) {
	var auth map[string]any
	_ = e.AuthInto(&auth) // auth that is not an object has no token
	token, _ := auth["token"].(string)
	if token == "" {
		return process.Deny("token required"), nil
	}
	return process.Allow().WithSocketData(map[string]string{"user": token}), nil
}

func join(_ context.Context, e *process.Envelope) (*process.Decision, error) {
	for _, room := range e.Rooms {
		if strings.HasPrefix(room, "private:") {
			return process.Deny("private room"), nil
		}
	}
	return nil, nil
}

func shout(_ context.Context, e *process.Envelope) (*process.Decision, error) {
	args, err := e.ArgList()
	if err != nil || len(args) == 0 {
		return nil, nil
	}
	var s string
	if json.Unmarshal(args[0], &s) != nil {
		return nil, nil // not a string: unchanged
	}
	up, err := json.Marshal(strings.ToUpper(s))
	if err != nil {
		return nil, err
	}
	args[0] = up
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = a
	}
	return process.Allow().WithArgs(out...), nil
}

func ping(context.Context, *process.Envelope) (*process.Decision, error) {
	return process.Reply("pong"), nil
}

func spam(context.Context, *process.Envelope) (*process.Decision, error) {
	return process.Drop(), nil
}

func alert(context.Context, *process.Envelope) (*process.Decision, error) {
	return process.Allow().WithRooms("alerts"), nil
}
