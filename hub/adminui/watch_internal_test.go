package adminui

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/testclient"
)

// TestNothingLeftWhenNoUIWatches: the listeners on sockets and rooms are
// there while a UI is, and gone when it leaves; sockets that connect
// meanwhile get none.
func TestNothingLeftWhenNoUIWatches(t *testing.T) {
	srv := hub.New(hub.Options{})
	a, err := Instrument(srv, Options{NoAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Close()
	defer a.Close()
	dial := func() *testclient.Client {
		c, err := testclient.Dial(ts.URL, "/socket.io/")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	state := func() (watching bool, sockets, listening, rooms int) {
		a.mu.Lock()
		defer a.mu.Unlock()
		for _, w := range a.sockets {
			if w.offAny != nil {
				listening++
			}
		}
		return a.watching.Load(), len(a.sockets), listening, len(a.rooms)
	}
	waitState := func(what string, want func(bool, int, int, int) bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !want(state()) {
			if time.Now().After(deadline) {
				w, s, l, r := state()
				t.Fatalf("%s: watching %v, %d sockets, %d listened to, %d namespaces' rooms", what, w, s, l, r)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}

	c := dial()
	if _, err := c.Connect("/", nil); err != nil {
		t.Fatal(err)
	}
	waitState("before any UI", func(w bool, s, l, r int) bool { return !w && s == 0 && r == 0 })

	ui := dial()
	if _, err := ui.Connect("/admin", nil); err != nil {
		t.Fatal(err)
	}
	// The client's socket is listened to; the UI's is watched only.
	waitState("with a UI", func(w bool, s, l, r int) bool { return w && s == 2 && l == 1 && r == 2 })

	_ = ui.Close()
	waitState("after the UI", func(w bool, s, l, r int) bool { return !w && l == 0 && r == 0 })
	c2 := dial()
	if _, err := c2.Connect("/", nil); err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	waitState("after the first client left", func(w bool, s, l, r int) bool { return !w && s == 0 && l == 0 })
}
