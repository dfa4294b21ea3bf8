// Command process is the policy of TestDecisionTraces
// (host/trace_e2e_test.go) as a process plugin; trace.js says what it
// does.
package main

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/hubd/hubd/sdk/process"
)

func main() {
	process.Serve(&process.Plugin{
		Name:      "trace",
		OnConnect: connect,
		OnJoin:    join,
		Events:    map[string]process.Handler{"shout": shout, "secret": secret},
	})
}

func connect(_ context.Context, e *process.Envelope) (*process.Decision, error) {
	var auth struct {
		Token *string `json:"token"`
	}
	if err := e.AuthInto(&auth); err != nil || auth.Token == nil {
		return process.Deny("token required").WithData(map[string]int{"code": 401}), nil
	}
	return process.Allow().WithSocketData(map[string]string{"user": *auth.Token}), nil
}

func join(_ context.Context, e *process.Envelope) (*process.Decision, error) {
	for _, r := range e.Rooms {
		if strings.HasPrefix(r, "private:") {
			return process.Deny("private room"), nil
		}
	}
	return nil, nil
}

func shout(_ context.Context, e *process.Envelope) (*process.Decision, error) {
	args, err := e.ArgList()
	if err != nil {
		return nil, err
	}
	first := json.RawMessage("null")
	if len(args) > 0 {
		first = args[0]
	}
	return process.Allow().WithArgs(map[string]json.RawMessage{"shout": first}).WithRooms("lobby"), nil
}

func secret(context.Context, *process.Envelope) (*process.Decision, error) {
	return process.Deny("no secrets"), nil
}
