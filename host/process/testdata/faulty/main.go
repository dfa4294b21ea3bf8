// Command faulty is a process plugin that misbehaves on demand, for the
// runtime's tests. The event name says what to do; see handle.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/hubd/hubd/sdk/process"
)

type envelope struct {
	Hook   string            `json:"hook"`
	Event  string            `json:"event"`
	Args   []json.RawMessage `json:"args"`
	Socket struct {
		ID string `json:"id"`
	} `json:"socket"`
}

func main() {
	process.Serve(&process.Plugin{
		Name:    "faulty",
		Raw:     handle,
		Hooks:   []process.Hook{process.HookEvent, process.HookDisconnect},
		Observe: []process.Hook{process.HookDisconnect},
	})
}

func handle(ctx context.Context, hook process.Hook, raw []byte, attachments [][]byte) ([]byte, error) {
	var e envelope
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, err
	}
	switch hook {
	case process.HookEvent:
	case process.HookDisconnect:
		// With {"hold": path} as its config, the plugin handles no
		// disconnect before the file exists; with {"revoke": true}, it
		// asks for the revocation of the socket's grants and logs the
		// outcome.
		var cfg struct {
			Hold   string
			Revoke bool
		}
		if process.Config(&cfg) == nil && cfg.Hold != "" {
			hold(cfg.Hold)
		}
		if cfg.Revoke {
			kind, msg := revokeOutcome(process.Revoke(ctx, process.Revocation{Sockets: []string{e.Socket.ID}}))
			process.Log.Info("revoked on disconnect", "kind", kind, "err", msg)
		}
		process.Log.Info("observed disconnect", "socket", e.Socket.ID)
		return nil, nil
	default:
		// Not described, so never called.
		return []byte(`{"action":"deny","reason":"hook not described"}`), nil
	}
	switch e.Event {
	case "echo":
		// The arguments back, and the socket id as the event name: a
		// caller can tell its answer from another's.
		args, _ := json.Marshal(e.Args)
		name, _ := json.Marshal("echo:" + e.Socket.ID)
		return []byte(`{"event":` + string(name) + `,"args":` + string(args) + `}`), nil
	case "attachments":
		// The binary values, as strings, and the placeholders as sent.
		list := []any{}
		for _, a := range attachments {
			list = append(list, string(a))
		}
		reply, _ := json.Marshal([]any{list, e.Args})
		return []byte(`{"action":"reply","reply":` + string(reply) + `}`), nil
	case "hold":
		// Held until the file args[0] names exists (at most a minute):
		// a call the test knows is in the plugin, for as long as it needs.
		var path string
		if len(e.Args) > 0 {
			_ = json.Unmarshal(e.Args[0], &path)
		}
		process.Log.Info("holding", "socket", e.Socket.ID)
		hold(path)
		return nil, nil
	case "sleep":
		var ms int
		if len(e.Args) > 0 {
			_ = json.Unmarshal(e.Args[0], &ms)
		}
		time.Sleep(time.Duration(ms) * time.Millisecond) // deaf to the deadline
		return nil, nil
	case "panic":
		panic("boom: the plugin panicked")
	case "exit":
		os.Exit(3)
	case "garbage":
		return []byte(`{"action":`), nil
	case "badaction":
		return []byte(`{"action":"explode"}`), nil
	case "oversize":
		return []byte(`{"reason":"` + strings.Repeat("x", 2<<20) + `"}`), nil
	case "error":
		return nil, errors.New("the plugin refused")
	case "revoke":
		// Asks for the revocation args[0] is, as JSON, and answers what
		// became of it: [kind, error].
		var rev json.RawMessage
		if len(e.Args) > 0 {
			rev = e.Args[0]
		}
		kind, msg := revokeOutcome(process.Revoke(ctx, rev))
		reply, _ := json.Marshal([]string{kind, msg})
		return []byte(`{"action":"reply","reply":` + string(reply) + `}`), nil
	case "revoke-later":
		// The same, from a goroutine of the plugin's own once the call
		// has returned; the outcome is logged.
		var rev json.RawMessage
		if len(e.Args) > 0 {
			rev = e.Args[0]
		}
		go func() {
			kind, msg := revokeOutcome(process.Revoke(context.Background(), rev))
			process.Log.Info("revoked later", "kind", kind, "err", msg)
		}()
		return nil, nil
	case "log":
		process.Log.Info("hello from the plugin", "socket", e.Socket.ID)
		fmt.Println("a plain line on stdout")
		return nil, nil
	case "config":
		var cfg any
		if err := process.Config(&cfg); err != nil {
			return nil, err
		}
		reply, err := json.Marshal([]any{cfg, process.Name(), os.Getenv("HUBD_TEST_SECRET")})
		if err != nil {
			return nil, err
		}
		return []byte(`{"action":"reply","reply":` + string(reply) + `}`), nil
	}
	return nil, nil
}

// revokeOutcome names the kind of Revoke's error, and gives its text.
func revokeOutcome(err error) (kind, msg string) {
	switch {
	case err == nil:
		return "ok", ""
	case errors.Is(err, process.ErrRevokeNotGranted):
		kind = "not-granted"
	case errors.Is(err, process.ErrRevokeBad):
		kind = "bad"
	case errors.Is(err, process.ErrRevokeRefused):
		kind = "refused"
	case errors.Is(err, process.ErrNotBound):
		kind = "unbound"
	default:
		kind = "other"
	}
	return kind, err.Error()
}

// hold returns once the file at path exists, or after a minute.
func hold(path string) {
	for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(2 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
	}
}
