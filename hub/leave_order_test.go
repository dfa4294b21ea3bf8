package hub_test

import (
	"slices"
	"testing"

	"github.com/hubd/hubd/hub"
)

// On disconnect a socket leaves its rooms in the order it joined them, its
// own room first, as the reference's delAll walks the socket's Set: many
// rooms, joined out of name order, with a leave and a re-join in between
// (a re-joined room goes to the end).
func TestLeaveRoomOrderOnDisconnect(t *testing.T) {
	srv, url := roomServer(t, hub.Options{})
	var rec strLog
	srv.Of("/").SetRoomEvents(hub.RoomEvents{
		LeaveRoom: func(room, _ string) { rec.add(room) },
	})
	c := hubDial(t, url)
	id := roomConnect(t, c, nil)
	call(t, c, "/", "join", "m", "z", "a", "q", "c", "x", "b", "y")
	call(t, c, "/", "leave", "q")
	call(t, c, "/", "join", "q", "k")
	// The leave of q above was reported too.
	if got := rec.waitLen(t, 1); !slices.Equal(got, []string{"q"}) {
		t.Fatalf("leave-room before the disconnect: %q", got)
	}
	rec.reset()
	c.Close()
	want := []string{id, "m", "z", "a", "c", "x", "b", "y", "q", "k"}
	if got := rec.waitLen(t, len(want)); !slices.Equal(got, want) {
		t.Fatalf("leave-room on disconnect:\n %q\nwant\n %q", got, want)
	}
}
