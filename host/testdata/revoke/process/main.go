// Command process is the "kick" event of grants.js (host/revoke_e2e_test.go)
// as a process plugin: it asks the host to revoke (process.Revoke) the
// connect grant of the user its argument names, or the revocation its
// argument is when it is an object, and answers {ok} or {ok, error}.
package main

import (
	"context"
	"encoding/json"

	"github.com/hubd/hubd/sdk/process"
)

func main() {
	process.Serve(&process.Plugin{
		Name:   "kick",
		Events: map[string]process.Handler{"kick": kick},
	})
}

func kick(ctx context.Context, e *process.Envelope) (*process.Decision, error) {
	var arg json.RawMessage
	if err := e.Arg(0, &arg); err != nil {
		return nil, err
	}
	var revocation any = arg
	var user string
	if json.Unmarshal(arg, &user) == nil {
		revocation = process.Revocation{
			Data:    &process.DataSelector{Path: "user.sub", Equals: user},
			Recheck: process.RecheckConnect,
		}
	}
	if err := process.Revoke(ctx, revocation); err != nil {
		return process.Reply(map[string]any{"ok": false, "error": err.Error()}), nil
	}
	return process.Reply(map[string]any{"ok": true}), nil
}
