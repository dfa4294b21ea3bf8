// Package process is the Go SDK for hubd process plugins: programs that
// hubd starts and calls over gRPC (hashicorp/go-plugin) on the connect,
// join, leave, event and disconnect moments of its sockets.
//
// A plugin is a main package that calls Serve:
//
//	func main() {
//		process.Serve(&process.Plugin{
//			OnConnect: func(ctx context.Context, e *process.Envelope) (*process.Decision, error) {
//				var auth struct{ Token string `json:"token"` }
//				if e.AuthInto(&auth) != nil || auth.Token == "" {
//					return process.Deny("token required"), nil
//				}
//				return process.Allow().WithSocketData(map[string]string{"user": auth.Token}), nil
//			},
//			Events: map[string]process.Handler{
//				"ping": func(context.Context, *process.Envelope) (*process.Decision, error) {
//					return process.Reply("pong"), nil
//				},
//			},
//		})
//	}
//
// Build it with go build and point a plugin.json at the binary
// ({"runtime": "process", "entry": "myplugin"}). The envelope and the
// decision are the ones every hubd runtime uses: Envelope and Decision
// embed package wire's types (sdk/wire), whose fields they promote, and add
// the decoding helpers and builders; their JSON values are wire.Raw (Raw
// here). The gRPC service that carries them is in sdk/proto/hubd/v1, for
// plugins in other languages.
//
// Handlers run concurrently, one goroutine per call, and must stop when
// ctx is done: hubd has given up on the call by then. A handler that
// panics ends the process; hubd fails the calls in flight and starts the
// plugin again with a growing delay. Log writes to hubd's log.
//
// A plugin whose manifest grants the "revoke" capability may ask hubd to
// put sockets' grants back to the plugins with Revoke — from a handler,
// an observed hook or a goroutine of its own (a ticker that expires
// sessions, say):
//
//	err := process.Revoke(ctx, process.Revocation{
//		Data:    &process.DataSelector{Path: "user.sub", Equals: "u123"},
//		Recheck: process.RecheckConnect,
//	})
//
// hubd queues the revocation and answers at once. Its errors keep their
// kind: errors.Is tells ErrRevokeNotGranted (no capability), ErrRevokeBad
// (hubd's reason in the message) and ErrRevokeRefused (rate or queue:
// later may work) apart. hubd tells the process where to reach it (Bind)
// as it starts, before the first hook call; a goroutine that calls Revoke
// before then gets ErrNotBound.
package process
