package redisadapter_test

import (
	"errors"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/redisadapter"
)

// A broadcast with acks and no timeout that waits for another node's
// socket (which never answers) ends when the cluster closes, with
// ErrClosed, instead of waiting for ever.
func TestBroadcastAckEndsWhenClusterCloses(t *testing.T) {
	allFlavours(t, testBroadcastAckEndsWhenClusterCloses)
}

func testBroadcastAckEndsWhenClusterCloses(t *testing.T, o redisadapter.Options) {
	key := testKey(t)
	a := newNode(t, o, redisURL, key, nil)
	b := newNode(t, o, redisURL, key, nil)
	waitNodes(t, a, "/", 2)
	silent, _ := dial(t, b, "/") // never answers acks

	type result struct {
		answers []hub.Args
		err     error
	}
	done := make(chan result, 1)
	err := a.srv.Emit("question", hub.BroadcastAckFunc(func(r []hub.Args, err error) {
		done <- result{r, err}
	}))
	if err != nil {
		t.Fatal(err)
	}
	expectEvent(t, silent, "/", "question")
	select {
	case r := <-done:
		t.Fatalf("the broadcast ended before its target answered: %v", r.err)
	default:
	}
	if err := a.cluster.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if !errors.Is(r.err, redisadapter.ErrClosed) || len(r.answers) != 0 {
			t.Fatalf("broadcast ended with %d answers, %v; want none and ErrClosed", len(r.answers), r.err)
		}
	case <-time.After(wait):
		t.Fatal("the broadcast did not end when the cluster closed")
	}
}
