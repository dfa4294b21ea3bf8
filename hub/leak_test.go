package hub_test

import (
	"bytes"
	"fmt"
	"runtime"
	"runtime/pprof"
	"sync"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/testclient"
)

// Many clients connect, join a room, exchange an event and leave: every
// goroutine they caused, on both sides, goes away, and the namespace ends
// empty.
func TestNoLeakAfterManyClients(t *testing.T) {
	const (
		wsClients      = 1000
		pollingClients = 20
		parallel       = 32
	)
	srv, url := hubServer(t, hub.Options{})
	nsp := srv.Of("/")
	nsp.OnConnection(func(s *hub.Socket) {
		_ = s.Emit("welcome", s.ID())
		s.On("join", func(ev *hub.Event) {
			var room string
			if err := ev.Args.Bind(&room); err != nil {
				_ = ev.Ack(err.Error())
				return
			}
			_ = s.Join(room)
			_ = ev.Ack("joined", room)
		})
	})
	time.Sleep(10 * time.Millisecond) // let earlier tests' goroutines finish
	baseline := runtime.NumGoroutine()

	total := wsClients + pollingClients
	clients := make([]*testclient.Client, total)
	errs := make(chan error, total)
	var wg sync.WaitGroup
	sem := make(chan struct{}, parallel)
	for i := range total {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := session(url, i, i >= wsClients)
			clients[i] = c
			if err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		for _, c := range clients {
			if c != nil {
				c.Close()
			}
		}
		t.FailNow()
	}
	if n := nsp.Len(); n != total {
		t.Errorf("Len() = %d with every client connected, want %d", n, total)
	}
	rooms, _ := nsp.Rooms(t.Context())
	if len(rooms) != total+10 {
		t.Errorf("%d rooms, want %d (own rooms and room-0…9)", len(rooms), total+10)
	}
	t.Logf("goroutines: %d before, %d with %d clients connected", baseline, runtime.NumGoroutine(), total)

	for i := range total {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := clients[i].Close(); err != nil {
				t.Errorf("close client %d: %v", i, err)
			}
		}()
	}
	wg.Wait()

	deadline := time.Now().Add(testWait)
	for {
		rooms, _ := nsp.Rooms(t.Context())
		n := runtime.NumGoroutine()
		if n <= baseline && nsp.Len() == 0 && len(rooms) == 0 && srv.Connections() == 0 {
			t.Logf("goroutines back to %d (baseline %d)", n, baseline)
			return
		}
		if time.Now().After(deadline) {
			var buf bytes.Buffer
			_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
			t.Fatalf("after every client left: %d goroutines (baseline %d), Len %d, %d rooms, %d connections\n%s",
				n, baseline, nsp.Len(), len(rooms), srv.Connections(), buf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// session connects client i, joins room-(i%10) and checks the welcome
// event.
func session(url string, i int, polling bool) (*testclient.Client, error) {
	c, err := testclient.DialOptions(url, ioPath, testclient.Options{Polling: polling})
	if err != nil {
		return nil, err
	}
	id, err := c.Connect("/", nil)
	if err != nil {
		return c, err
	}
	p, err := c.NextEvent("/", testWait)
	if err != nil || p.Event != "welcome" || p.Str(0) != id {
		return c, fmt.Errorf("welcome: %v %v", p, err)
	}
	room := fmt.Sprintf("room-%d", i%10)
	p, err = c.EmitWithAck("/", "join", room)
	if err != nil || p.Str(0) != "joined" || p.Str(1) != room {
		return c, fmt.Errorf("join: %v %v", p, err)
	}
	return c, nil
}
