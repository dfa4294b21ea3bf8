package host

import (
	"fmt"
	"slices"
	"sort"
	"sync/atomic"
	"time"
)

// Outcome is the result of one plugin call, as counted.
type Outcome int

// The outcomes.
const (
	OutcomeAllow Outcome = iota
	OutcomeDeny
	OutcomeDrop
	OutcomeReply
	OutcomeDisconnect
	OutcomeError
	OutcomeTimeout
	OutcomeCircuitOpen
	// OutcomeRejectedInput counts calls not made because the envelope
	// nested deeper than MaxJSONDepth; the failure policy answered.
	OutcomeRejectedInput
	// OutcomeSocketBackoff counts calls not made because the socket's own
	// calls kept failing; the failure policy answered.
	OutcomeSocketBackoff
	// OutcomeAbandoned counts calls given up because their socket went
	// away meanwhile: no failure of the plugin.
	OutcomeAbandoned
	outcomeCount
)

var outcomeNames = [outcomeCount]string{"allow", "deny", "drop", "reply", "disconnect", "error", "timeout", "circuit_open", "rejected_input", "socket_backoff", "abandoned"}

func (o Outcome) String() string { return outcomeNames[o] }

// MarshalText writes the outcome's name ("allow", "timeout", ...), as
// HookStats.Outcomes and decision traces name it.
func (o Outcome) MarshalText() ([]byte, error) {
	if o < 0 || o >= outcomeCount {
		return nil, fmt.Errorf("host: no outcome %d", int(o))
	}
	return []byte(outcomeNames[o]), nil
}

// UnmarshalText reads an outcome's name.
func (o *Outcome) UnmarshalText(b []byte) error {
	for i, name := range outcomeNames {
		if string(b) == name {
			*o = Outcome(i)
			return nil
		}
	}
	return fmt.Errorf("host: unknown outcome %q", b)
}

// LatencyBuckets returns the upper bounds of the latency histogram of
// HookStats.Buckets, in increasing order (a copy: changing it changes
// nothing).
func LatencyBuckets() []time.Duration { return slices.Clone(latencyBuckets[:]) }

// latencyBuckets are the upper bounds of the latency histogram.
var latencyBuckets = [...]time.Duration{
	1 * time.Microsecond, 2 * time.Microsecond, 5 * time.Microsecond,
	10 * time.Microsecond, 25 * time.Microsecond, 50 * time.Microsecond,
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	1 * time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, time.Second,
}

// hookStats counts one plugin's calls of one hook.
type hookStats struct {
	outcomes [outcomeCount]atomic.Uint64
	buckets  []atomic.Uint64 // len(latencyBuckets)+1, the last one for slower
	sumNanos atomic.Uint64
}

func newHookStats() *hookStats {
	return &hookStats{buckets: make([]atomic.Uint64, len(latencyBuckets)+1)}
}

func (s *hookStats) observe(o Outcome, d time.Duration) {
	s.outcomes[o].Add(1)
	switch o {
	case OutcomeCircuitOpen, OutcomeRejectedInput, OutcomeSocketBackoff:
		return // no call, no time
	}
	i := sort.Search(len(latencyBuckets), func(i int) bool { return d <= latencyBuckets[i] })
	s.buckets[i].Add(1)
	s.sumNanos.Add(uint64(d))
}

// HookStats is a snapshot of one plugin's calls of one hook.
type HookStats struct {
	Plugin  string
	Runtime string
	Hook    Hook
	// Outcomes counts calls by outcome.
	Outcomes map[string]uint64
	// Buckets counts calls by latency: Buckets[i] took at most
	// LatencyBuckets()[i] (and more than the bucket before); the last counts
	// the slower ones.
	Buckets []uint64
	// Sum is the total time spent in calls.
	Sum time.Duration
}

func (s *hookStats) snapshot(plugin, runtime string, hook Hook) HookStats {
	out := HookStats{Plugin: plugin, Runtime: runtime, Hook: hook, Outcomes: make(map[string]uint64), Sum: time.Duration(s.sumNanos.Load())}
	for i := range s.outcomes {
		if n := s.outcomes[i].Load(); n > 0 {
			out.Outcomes[outcomeNames[i]] = n
		}
	}
	out.Buckets = make([]uint64, len(s.buckets))
	for i := range s.buckets {
		out.Buckets[i] = s.buckets[i].Load()
	}
	return out
}
