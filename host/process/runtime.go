package process

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/hubd/hubd/host"
)

// Runtime runs process plugins. The zero value uses the defaults below; a
// Runtime must not be changed once it has loaded a plugin.
type Runtime struct {
	// MaxInFlight bounds the calls in flight per plugin (default 64). A
	// call that finds no free slot before its deadline times out.
	MaxInFlight int
	// MaxDecisionBytes caps a decision's JSON (default 1 MiB); a larger
	// decision is garbage (host.ErrGarbage).
	MaxDecisionBytes int
	// StartTimeout bounds a start: launch, handshake and Describe
	// (default 10 s).
	StartTimeout time.Duration
	// RestartMin and RestartMax bound the delay before a process that
	// exited is started again (defaults 100 ms and 5 s). The delay doubles
	// at each restart and falls back to RestartMin once a process has run
	// for a minute.
	RestartMin, RestartMax time.Duration
	// ObserveQueue bounds the observed calls waiting to be sent per plugin
	// (default 1024); calls beyond it are dropped and logged.
	ObserveQueue int
}

// Defaults.
const (
	DefaultMaxInFlight      = 64
	DefaultMaxDecisionBytes = 1 << 20
	DefaultStartTimeout     = 10 * time.Second
	DefaultRestartMin       = 100 * time.Millisecond
	DefaultRestartMax       = 5 * time.Second
	DefaultObserveQueue     = 1024
)

// stableAfter is how long a process must have run for its exit to restart
// it after RestartMin again.
const stableAfter = time.Minute

// CapabilityEnv, granted in the manifest, passes hubd's environment to the
// process.
const CapabilityEnv = "env"

// ErrUnavailable is wrapped by the errors of calls that could not reach
// the process: it exited, is being started again, or the plugin is closed.
var ErrUnavailable = errors.New("process plugin unavailable")

// withDefaults returns r with every zero field set to its default.
func (r *Runtime) withDefaults() Runtime {
	c := Runtime{}
	if r != nil {
		c = *r
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.MaxDecisionBytes <= 0 {
		c.MaxDecisionBytes = DefaultMaxDecisionBytes
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = DefaultStartTimeout
	}
	if c.RestartMin <= 0 {
		c.RestartMin = DefaultRestartMin
	}
	if c.RestartMax <= 0 {
		c.RestartMax = DefaultRestartMax
	}
	c.RestartMax = max(c.RestartMax, c.RestartMin)
	if c.ObserveQueue <= 0 {
		c.ObserveQueue = DefaultObserveQueue
	}
	return c
}

// Load starts spec.Entry and asks it what it handles. It returns once the
// process answers, or with an error saying why it did not.
func (r *Runtime) Load(ctx context.Context, spec host.Spec) (host.Plugin, error) {
	fi, err := os.Stat(spec.Entry)
	switch {
	case err != nil:
		return nil, fmt.Errorf("process plugin entry: %w", err)
	case fi.IsDir():
		return nil, fmt.Errorf("process plugin entry %s is a directory, not an executable", spec.Entry)
	case fi.Mode()&0o111 == 0:
		return nil, fmt.Errorf("process plugin entry %s is not executable (chmod +x it, or build it with go build)", spec.Entry)
	}
	p := newPlugin(r.withDefaults(), spec)
	inst, err := p.start(ctx)
	if err != nil {
		return nil, err
	}
	p.cur.Store(inst)
	p.supervisor.Add(1)
	go p.supervise(inst)
	return p, nil
}

func granted(m *host.Manifest, capability string) bool {
	return slices.Contains(m.Capabilities, capability)
}
