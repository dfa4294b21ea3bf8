package redisadapter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/redisadapter"
)

// A client served by node A, a process of its own, recovers on node B
// after A is killed with SIGKILL, which gives A no chance to write
// anything: B takes the session A kept up to date while the socket was
// connected, and the client gets its id, rooms and data back, and every
// event emitted to its room while it was away (through B's adapter and
// through B's HTTP API) once and in order, then the live ones.
func TestStreamsRecoveryAfterNodeKilled(t *testing.T) {
	key := testKey(t)
	so := streamsOptions(key, false)
	duration := time.Minute
	a := startNodeProcess(t, key, duration)
	b := startRecoveryNode(t, so, hub.RecoveryOptions{MaxDisconnectionDuration: duration}, nil)
	waitNodes(t, b.node, "/", 2)
	rdb := testRedis(t, redisURL)

	c, proxy, id, pid := connectSIOClient(t, a.addr, map[string]any{"user": "bob"})
	kept := waitSession(t, rdb, so, pid, "A to track the session", func(v redisadapter.SessionView) bool {
		return v.Live && slices.Contains(v.Rooms, "R") && strings.Contains(string(v.Data), `"bob"`)
	})

	// B publishes to R all along, alternately through its adapter and its
	// HTTP API.
	var sent atomic.Int64
	sent.Store(-1)
	stop, done := make(chan struct{}), make(chan error, 1)
	go func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			case <-tick.C:
			}
			var err error
			if i%2 == 0 {
				err = b.srv.To("R").Emit("tick", i)
			} else {
				err = apiEmit(b.url, "R", "tick", i)
			}
			if err != nil {
				done <- err
				return
			}
			sent.Store(int64(i))
		}
	}()
	publishing := func(what string) int64 {
		select {
		case err := <-done:
			t.Fatalf("%s: the publisher stopped: %v", what, err)
		default:
		}
		return sent.Load()
	}
	for range 3 {
		c.nextEvent("tick") // through A
	}

	a.kill(t)
	c.next("disconnect")
	waitNodes(t, b.node, "/", 1) // Redis saw A's connections close
	atKill := publishing("A killed")
	waitFor(t, func() bool { return publishing("the gap") >= atKill+10 }, "ticks to be published while the client is away")

	c.reconnectTo(proxy, b.addr, id, pid)
	s := b.srv.Of("/").Socket(id)
	if s == nil || !s.Recovered() || !s.In("R") {
		t.Fatalf("B's socket %s: %v", id, s)
	}
	if raw, _ := s.Data().(json.RawMessage); !bytes.Equal(raw, kept.Data) || !bytes.Contains(raw, []byte(`"bob"`)) {
		t.Fatalf("B's socket data %s, want %s", s.Data(), kept.Data)
	}

	// Live ticks after the recovery, then the end.
	atRecovery := publishing("recovered")
	seen := int64(-1)
	until := func(n int64) {
		for seen < n {
			seen = int64(c.nextEvent("tick")["args"].([]any)[0].(float64))
		}
	}
	until(atRecovery + 10)
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	last := sent.Load()
	until(last)
	names, offsets := c.events("tick")
	var got []int
	for _, n := range names {
		var v int
		fmt.Sscanf(n, "tick %d", &v)
		got = append(got, v)
	}
	for i := 1; i < len(got); i++ {
		if got[i] != got[i-1]+1 {
			t.Fatalf("ticks %v: %d after %d (each once, in order)", got, got[i], got[i-1])
		}
		if !offsetLess(offsets[i-1], offsets[i]) {
			t.Fatalf("offsets out of order: %s then %s", offsets[i-1], offsets[i])
		}
	}
	if int64(got[0]) > atKill || int64(got[len(got)-1]) != last {
		t.Fatalf("ticks %d to %d, want from before the kill (%d) to the last (%d)", got[0], got[len(got)-1], atKill, last)
	}
	t.Logf("%d ticks, %d of them emitted while the client was away", len(got), atRecovery-atKill)
}

// apiEmit publishes an event to room through a node's HTTP API.
func apiEmit(url, room, event string, args ...any) error {
	body, _ := json.Marshal(map[string]any{"rooms": room, "event": event, "args": args})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", url+"/api/emit", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /api/emit: %s", res.Status)
	}
	return nil
}
