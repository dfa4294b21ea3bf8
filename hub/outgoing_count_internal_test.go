package hub

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hubd/hubd/hub/internal/testclient"
)

// TestOutgoingCount: the namespace counts its sockets with outgoing
// listeners, so that once the last is removed, or its socket is gone,
// broadcasts take their fast path again (as a watcher such as the admin
// UI's adds listeners for a while and takes them away).
func TestOutgoingCount(t *testing.T) {
	srv := New(Options{})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Close()
	nsp := srv.Of("/")
	socket := func() (*Socket, *testclient.Client) {
		t.Helper()
		c, err := testclient.Dial(ts.URL, "/socket.io/")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		id, err := c.Connect("/", nil)
		if err != nil {
			t.Fatal(err)
		}
		return nsp.Socket(id), c
	}
	count := func(want int64, what string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for nsp.outgoingSockets.Load() != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d sockets counted, want %d", what, nsp.outgoingSockets.Load(), want)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	a, _ := socket()
	b, cb := socket()
	off1 := a.OnAnyOutgoing(func(string, Args) {})
	off2 := a.PrependAnyOutgoing(func(string, Args) {})
	count(1, "two listeners on one socket")
	b.OnAnyOutgoing(func(string, Args) {})
	count(2, "a listener on another")
	off1()
	off1()
	count(2, "one of two removed")
	off2()
	count(1, "the last of a socket's removed")
	a.OnAnyOutgoing(func(string, Args) {})
	a.OffAnyOutgoing()
	a.OffAnyOutgoing()
	count(1, "OffAnyOutgoing")
	_ = cb.Close()
	count(0, "its socket gone")
	b.OnAnyOutgoing(func(string, Args) {})
	count(0, "a listener added to a gone socket")
}
