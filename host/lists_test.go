package host_test

import (
	"slices"
	"testing"
	"time"

	"github.com/hubd/hubd/host"
)

// Hooks and LatencyBuckets are read-only: what a caller does with what
// they give changes nothing for the next caller.
func TestHookAndBucketListsAreReadOnly(t *testing.T) {
	var hooks []host.Hook
	for _, h := range host.Hooks {
		hooks = append(hooks, h)
	}
	want := []host.Hook{host.HookConnect, host.HookJoin, host.HookLeave, host.HookEvent, host.HookDisconnect}
	if !slices.Equal(hooks, want) {
		t.Fatalf("Hooks yields %q, want %q", hooks, want)
	}
	for i, h := range host.Hooks {
		if i > 1 {
			t.Fatalf("range over Hooks went on after break (index %d, %s)", i, h)
		}
		if i == 1 {
			break
		}
	}

	b := host.LatencyBuckets()
	if len(b) == 0 || !slices.IsSorted(b) {
		t.Fatalf("LatencyBuckets = %v, want increasing bounds", b)
	}
	first := b[0]
	b[0] = time.Hour
	if got := host.LatencyBuckets()[0]; got != first {
		t.Fatalf("changing the returned buckets changed LatencyBuckets: first bound %v, want %v", got, first)
	}
}
