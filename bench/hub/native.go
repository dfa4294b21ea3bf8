package main

import (
	"context"
	"time"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/sdk/wire"
)

// nativeRuntime is a plugin runtime for the benchmark only: its plugins
// are bench/hub/plugins/js/hook.js written in Go and called in the
// process, with no sandbox. A plugin directory whose manifest says
// "runtime": "go" measures what the hook path costs apart from a
// sandboxed runtime: the envelope, the chain, its trace and its stats.
type nativeRuntime struct{}

func (nativeRuntime) Load(context.Context, host.Spec) (host.Plugin, error) { return nativeHook{}, nil }

type nativeHook struct{}

// last keeps what the hook read, as the JS hook's `last` does.
var last wire.Raw

func (nativeHook) HandleBy(_ context.Context, _ time.Time, env *host.Envelope) (*host.Decision, error) {
	if env.Event == "never" {
		return &host.Decision{Action: host.Deny, Reason: "never"}, nil
	}
	last = env.Args.Index(0)
	return nil, nil
}

func (h nativeHook) Handle(ctx context.Context, env *host.Envelope) (*host.Decision, error) {
	return h.HandleBy(ctx, time.Time{}, env)
}

func (nativeHook) Close() error { return nil }
