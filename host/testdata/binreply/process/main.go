// Command process is the event hook of TestBinaryReply
// (host/binreply_test.go) as a process plugin; binreply.js says what it
// does.
package main

import (
	"context"
	"encoding/json"

	"github.com/hubd/hubd/sdk/process"
)

func main() {
	process.Serve(&process.Plugin{Name: "binreply", Events: map[string]process.Handler{"echo": echo}})
}

func echo(_ context.Context, e *process.Envelope) (*process.Decision, error) {
	var args []json.RawMessage
	if err := json.Unmarshal(e.Args, &args); err != nil {
		return nil, err
	}
	var first json.RawMessage = json.RawMessage("null")
	if len(args) > 0 {
		first = args[0]
	}
	return process.Reply(map[string]any{"echo": first, "n": len(args)}), nil
}
