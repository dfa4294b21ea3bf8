package hub

import (
	"math/rand/v2"
	"testing"
)

// TestRoomSet: members leave in any order and the set holds exactly the
// others, each once, its index pointing at its own slot; emptied, it says
// so.
func TestRoomSet(t *testing.T) {
	set := &roomSet{index: make(map[*Socket]int)}
	all := make([]*Socket, 1000)
	for i := range all {
		all[i] = &Socket{client: &client{}}
		set.add(all[i])
		set.add(all[i]) // twice: once in the set
	}
	in := make(map[*Socket]bool)
	for _, s := range all {
		in[s] = true
	}
	check := func() {
		t.Helper()
		if len(set.members) != len(in) || len(set.index) != len(in) {
			t.Fatalf("%d members, %d indexed, want %d", len(set.members), len(set.index), len(in))
		}
		for i, m := range set.members {
			if !in[m.s] || set.index[m.s] != i {
				t.Fatalf("slot %d: member in=%v indexed at %d", i, in[m.s], set.index[m.s])
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	order := rng.Perm(len(all))
	for k, i := range order {
		empty := set.remove(all[i])
		delete(in, all[i])
		if empty != (len(in) == 0) {
			t.Fatalf("after %d removals: empty=%v with %d left", k+1, empty, len(in))
		}
		if set.remove(all[i]) != (len(in) == 0) { // not a member any more
			t.Fatal("removing a non-member changed the answer")
		}
		if k%97 == 0 {
			check()
		}
	}
	check()
}
