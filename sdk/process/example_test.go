package process_test

import (
	"context"
	"errors"
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

// A plugin granted the "revoke" capability: a "logout" event takes back
// the user's grants on every socket, and a goroutine of its own
// disconnects the users whose session it has expired.
func ExampleRevoke() {
	expired := make(chan string) // fed by the plugin's session store
	go func() {
		for user := range expired {
			err := process.Revoke(context.Background(), process.Revocation{
				Data:    &process.DataSelector{Path: "user.sub", Equals: user},
				Recheck: process.RecheckConnect,
			})
			if err != nil {
				process.Log.Warn("revoking an expired session", "user", user, "err", err)
			}
		}
	}()
	process.Serve(&process.Plugin{
		OnConnect: func(context.Context, *process.Envelope) (*process.Decision, error) {
			return nil, nil // the plugin's own check of the session
		},
		Events: map[string]process.Handler{
			"logout": func(ctx context.Context, e *process.Envelope) (*process.Decision, error) {
				var data struct{ User struct{ Sub string } }
				if err := e.DataInto(&data); err != nil {
					return nil, err
				}
				err := process.Revoke(ctx, process.Revocation{
					Data:    &process.DataSelector{Path: "user.sub", Equals: data.User.Sub},
					Recheck: process.RecheckConnect,
				})
				if errors.Is(err, process.ErrRevokeRefused) {
					return process.Reply("try again later"), nil
				}
				if err != nil {
					return nil, err
				}
				return process.Reply("logged out"), nil
			},
		},
	})
}
