// Command rate-limit is a hubd process plugin that limits, per socket, how
// fast a client may emit events and join rooms, with one token bucket per
// socket and kind. See README.md.
//
//	{"events_per_second": 20, "burst": 40, "joins_per_second": 2, "join_burst": 10}
//
// Build it with
//
//	go build -o plugins/rate-limit/rate-limit ./plugins/rate-limit
//
// and the folder is a plugin hubd can load (see plugin.json).
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/hubd/hubd/sdk/process"
)

func main() {
	var cfg Config
	if err := process.Config(&cfg); err != nil {
		fmt.Fprintln(os.Stderr, "rate-limit: config:", err)
		os.Exit(1)
	}
	l, err := NewLimiter(cfg, time.Now)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rate-limit:", err)
		os.Exit(1)
	}
	go l.SweepEvery(time.Minute)
	process.Serve(l.Plugin())
}

// Plugin is the process plugin over l: event and join handlers for the
// limits that are set, and the disconnect hook, observed, to forget the
// socket.
func (l *Limiter) Plugin() *process.Plugin {
	p := &process.Plugin{
		Name:         "rate-limit",
		OnDisconnect: l.disconnect,
		Observe:      []process.Hook{process.HookDisconnect},
	}
	if l.events.on() {
		p.OnEvent = func(_ context.Context, e *process.Envelope) (*process.Decision, error) {
			if e.Event == joinCommand {
				return nil, nil // a join request: the join bucket's
			}
			return l.take(e.Socket.ID, kindEvent), nil
		}
	}
	if l.joins.on() {
		p.OnJoin = func(_ context.Context, e *process.Envelope) (*process.Decision, error) {
			return l.take(e.Socket.ID, kindJoin), nil
		}
	}
	return p
}

// joinCommand is hubd's join request. The event hook sees it too (as an
// event named "hub:join"); it takes a token of the join bucket only, so that
// joining never uses up a client's events.
const joinCommand = "hub:join"

func (l *Limiter) disconnect(_ context.Context, e *process.Envelope) (*process.Decision, error) {
	l.Forget(e.Socket.ID)
	return nil, nil
}

// take spends a token of the socket's bucket of kind k: nil (allow) if it
// had one, else a deny "rate limited" with data {"retry_after_ms": …}.
func (l *Limiter) take(socket string, k kind) *process.Decision {
	ok, wait := l.Take(socket, k)
	if ok {
		return nil
	}
	ms := (wait + time.Millisecond - 1) / time.Millisecond
	return process.Deny("rate limited").WithData(map[string]int64{"retry_after_ms": int64(ms)})
}
