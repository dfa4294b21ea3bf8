package natsadapter_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/adaptertest"
	"github.com/hubd/hubd/hub/natsadapter"
	"github.com/hubd/hubd/internal/testnats"
)

// TestCrossNode runs the cross-node table every cluster adapter passes.
func TestCrossNode(t *testing.T) {
	adaptertest.Run(t, flavour(natsURL, natsadapter.Options{}))
}

// A broadcast with acks and no timeout whose target on another node
// disconnects before answering ends at once, as one on this node does:
// the other node says the socket is gone.
func TestBroadcastAckEndsWhenRemoteTargetLeaves(t *testing.T) {
	a, b := adaptertest.TwoNodes(t, flavour(natsURL, natsadapter.Options{}))
	silent, _ := adaptertest.Dial(t, b.URL, "/")
	done := make(chan error, 1)
	var answers []hub.Args
	if err := a.Server.Emit("question", hub.BroadcastAckFunc(func(r []hub.Args, err error) {
		answers = r
		done <- err
	})); err != nil {
		t.Fatal(err)
	}
	adaptertest.ExpectEvent(t, silent, "/", "question")
	silent.Close()
	select {
	case err := <-done:
		if !errors.Is(err, hub.ErrDisconnected) || len(answers) != 0 {
			t.Fatalf("the broadcast ended with %d answers, %v; want none and hub.ErrDisconnected", len(answers), err)
		}
	case <-time.After(adaptertest.Wait):
		t.Fatal("the broadcast did not end when its only target left")
	}
}

// A broadcast larger than the server's max_payload reaches the local
// sockets and fails for the others with ErrTooLarge, which says what to
// raise.
func TestBroadcastLargerThanMaxPayload(t *testing.T) {
	a, _ := adaptertest.TwoNodes(t, flavour(natsURL, natsadapter.Options{}))
	c, _ := adaptertest.Dial(t, a.URL, "/")
	err := a.Server.Emit("huge", make([]byte, testnats.MaxPayload+1))
	if !errors.Is(err, natsadapter.ErrTooLarge) || !strings.Contains(err.Error(), "max_payload") {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	adaptertest.ExpectEvent(t, c, "/", "huge")
}
