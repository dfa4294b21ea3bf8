package process_test

import (
	"context"
	"strings"

	"github.com/hubd/hubd/sdk/process"
)

// A plugin that refuses private rooms and upper-cases "shout" events.
func ExampleServe() {
	process.Serve(&process.Plugin{
		Name: "rooms",
		OnJoin: func(_ context.Context, e *process.Envelope) (*process.Decision, error) {
			for _, room := range e.Rooms {
				if strings.HasPrefix(room, "private:") {
					return process.Deny("private room"), nil
				}
			}
			return nil, nil // allow unchanged
		},
		Events: map[string]process.Handler{
			"shout": func(_ context.Context, e *process.Envelope) (*process.Decision, error) {
				var text string
				if err := e.Arg(0, &text); err != nil {
					return nil, nil
				}
				return process.Allow().WithArgs(strings.ToUpper(text)), nil
			},
		},
	})
}
