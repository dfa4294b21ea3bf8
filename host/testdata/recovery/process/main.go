// Command process is the connect hook of TestConnectHookSeesRecovery
// (host/recovery_test.go) as a process plugin; recovery.js says what it
// does.
package main

import (
	"context"

	"github.com/hubd/hubd/sdk/process"
)

func main() {
	process.Serve(&process.Plugin{Name: "recovery", OnConnect: connect})
}

func connect(_ context.Context, e *process.Envelope) (*process.Decision, error) {
	var auth struct {
		Refuse bool `json:"refuse"`
	}
	_ = e.AuthInto(&auth)
	if e.Recovered && auth.Refuse {
		return process.Deny("recovery refused"), nil
	}
	prev := e.Socket.Data
	if len(prev) == 0 {
		prev = process.Raw("null")
	}
	data := map[string]any{"recovered": e.Recovered, "prev": prev}
	if !e.Recovered {
		data["fresh"] = true
	}
	return process.Allow().WithSocketData(data), nil
}
