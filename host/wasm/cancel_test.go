package wasm

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hubd/hubd/host"
)

// TestCallStopsWithItsContext: a guest looping in a call whose context is
// cancelled (its socket went away) is stopped long before its deadline,
// and the call reports the context's error, not a timeout; the instance
// is replaced and the next call works.
func TestCallStopsWithItsContext(t *testing.T) {
	p := load(t, guestFaults, func(m *host.Manifest) { m.Timeout = host.Duration(10 * time.Minute) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctx = host.WithDeadline(ctx, time.Now().Add(10*time.Minute))
	err := returns(t, "the cancelled call", func() error {
		go func() {
			// Cancelled once the call holds an instance (or after 20 s,
			// and then the call still has nearly ten minutes to run).
			for limit := time.Now().Add(20 * time.Second); time.Now().Before(limit); time.Sleep(time.Millisecond) {
				if s := p.Stats(); s.Free < s.Instances {
					break
				}
			}
			cancel()
		}()
		_, err := p.Handle(ctx, eventEnv("loop", "[]"))
		return err
	})
	if !errors.Is(err, context.Canceled) || isTimeout(err) {
		t.Fatalf("err = %v, want one wrapping context.Canceled and no timeout", err)
	}
	replaced(t, p, 1)
	mustOK(t, p)
}
