package hub_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/testclient"
)

// Everything at once, for the race detector: broadcasts (with and without
// acks), joins and leaves from handlers and from the server, queries,
// hooks and room listeners swapped, clients coming and going. The outcome
// checked is only that it all ends clean.
func TestConcurrentUse(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	nsp := srv.Of("/")
	nsp.OnConnection(func(s *hub.Socket) {
		_ = s.Join(fmt.Sprintf("r%d", len(s.ID())%3))
		s.On("say", func(ev *hub.Event) {
			_ = s.Broadcast().EmitArgs("said", ev.Args)
			_ = ev.Ack("ok")
		})
		s.On("hop", func(ev *hub.Event) {
			var room string
			_ = ev.Args.Bind(&room)
			_ = s.Join(room)
			_ = s.Leave("r0")
		})
		s.OnDisconnect(func(hub.DisconnectReason) { _ = s.Rooms() })
	})
	const clients, rounds = 12, 60
	cs := make([]*testclient.Client, clients)
	for i := range cs {
		cs[i] = hubDial(t, url)
		hubConnect(t, cs[i], "/", nil)
	}
	var wg sync.WaitGroup
	run := func(fn func(i int)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				fn(i)
			}
		}()
	}
	run(func(i int) {
		_ = srv.To("r0", "r1").Emit("b", i)
		_ = srv.Except("r1").Volatile().Emit("v", i)
		_ = nsp.Local().To("r2").Emit("l", []byte{byte(i)})
	})
	run(func(i int) {
		_, _ = srv.To("r1").Timeout(20*time.Millisecond).EmitWithAck(t.Context(), "q")
	})
	run(func(i int) {
		_ = srv.In("r1").SocketsJoin("x")
		_ = srv.In("x").SocketsLeave("r1")
		_ = srv.Except("x").SocketsJoin("r1")
		for _, s := range nsp.Sockets() {
			_ = s.Join("y")
			_ = s.Leave("y", "x")
			_ = s.Emit("direct", i)
			_ = s.Timeout(time.Millisecond).Emit("acked", hub.AckFunc(func(hub.Args, error) {}))
			s.SetData(i)
		}
	})
	run(func(i int) {
		rs, _ := srv.FetchSockets(t.Context())
		for _, r := range rs {
			_ = r.Rooms
		}
		_, _ = nsp.Rooms(t.Context())
		_ = nsp.Len()
		for _, s := range nsp.Sockets() {
			_ = s.Rooms()
			_ = s.Data()
			_ = s.In("r1")
		}
	})
	run(func(i int) {
		if i%2 == 0 {
			srv.SetHooks(&hub.Hooks{
				Join:  func(s *hub.Socket, rooms []string) ([]string, error) { return rooms, nil },
				Event: func(ev *hub.Event) error { return nil },
			})
			nsp.SetRoomEvents(hub.RoomEvents{JoinRoom: func(string, string) {}, DeleteRoom: func(string) {}})
		} else {
			srv.SetHooks(nil)
			nsp.SetRoomEvents(hub.RoomEvents{})
		}
	})
	for k, c := range cs {
		run(func(i int) {
			_ = c.Emit("/", "say", k, i)
			_ = c.Emit("/", "hop", fmt.Sprintf("h%d", i%4))
		})
	}
	// Churn: clients come and go meanwhile.
	run(func(i int) {
		c, err := testclient.Dial(url, ioPath)
		if err != nil {
			t.Error(err)
			return
		}
		if _, err := c.Connect("/", nil); err != nil {
			t.Error(err)
		}
		if i%3 == 0 {
			_ = c.Disconnect("/")
		}
		c.Close()
	})
	run(func(i int) {
		if i == rounds/2 {
			_ = srv.In("h1").DisconnectSockets(false)
		}
	})
	wg.Wait()
	for _, c := range cs {
		c.Close()
	}
	waitUntil(t, func() bool {
		rooms, _ := nsp.Rooms(t.Context())
		return nsp.Len() == 0 && len(rooms) == 0 && srv.Connections() == 0
	}, "everything gone (Len %d, %d connections)", nsp.Len(), srv.Connections())
}
