package hub_test

import (
	"slices"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
)

// The outgoing listeners of a socket see the broadcasts that reach it, with
// acks or without, as in the reference, where the adapter notifies each
// target; a socket the broadcast leaves out sees nothing. They run once
// the adapter's locks are released: a listener may leave the very room the
// broadcast is for.
func TestOutgoingListenersSeeBroadcasts(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	nsp := srv.Of("/")
	in := hubSocket(t, nsp, hubConnect(t, hubDial(t, url), "/", nil))
	out := hubSocket(t, nsp, hubConnect(t, hubDial(t, url), "/", nil))
	leaver := hubSocket(t, nsp, hubConnect(t, hubDial(t, url), "/", nil))
	for _, s := range []*hub.Socket{in, leaver} {
		if err := s.Join("r"); err != nil {
			t.Fatal(err)
		}
	}
	var inLog, outLog, leaverLog strLog
	in.OnAnyOutgoing(func(event string, args hub.Args) { inLog.add(event + " " + string(args.JSON())) })
	out.OnAnyOutgoing(func(event string, args hub.Args) { outLog.add(event) })
	leaver.OnAnyOutgoing(func(event string, _ hub.Args) {
		leaverLog.add(event)
		_ = leaver.Leave("r")
	})

	// The listeners run on the broadcasting goroutine, before Emit
	// returns; under the adapter's lock, the leaver's would wait forever.
	done := make(chan error, 1)
	go func() {
		if err := srv.To("r").Emit("news", 1); err != nil {
			done <- err
			return
		}
		done <- srv.To("r").Emit("question", 2, hub.BroadcastAckFunc(func([]hub.Args, error) {}))
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testWait):
		t.Fatal("the broadcasts did not return: an outgoing listener ran under the adapter's lock")
	}
	if got, want := inLog.get(), []string{"news [1]", "question [2]"}; !slices.Equal(got, want) {
		t.Errorf("the room member's outgoing listener saw %q, want %q", got, want)
	}
	if got := outLog.get(); len(got) != 0 {
		t.Errorf("a socket outside the room saw %q", got)
	}
	if got, want := leaverLog.get(), []string{"news"}; !slices.Equal(got, want) {
		t.Errorf("the leaver saw %q, want %q (it left the room on the first)", got, want)
	}
	if leaver.In("r") {
		t.Error("the leaver is still in the room")
	}
}
