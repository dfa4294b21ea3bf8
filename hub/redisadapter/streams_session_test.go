package redisadapter_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/redisadapter"
	"github.com/hubd/hubd/internal/tcpproxy"
)

// A connected socket's session lives the recovery's duration plus a
// refresh period and is renewed; one Redis lost is written again; one
// another node took is never written again, neither by the tracking nor
// when its socket disconnects; a disconnected socket's lives the
// duration; a socket that leaves for good takes its session with it.
func TestStreamsSessionTracking(t *testing.T) {
	key := testKey(t)
	so := streamsOptions(key, false)
	duration := 4 * time.Second // a refresh period of 1s
	a := startRecoveryNode(t, so, hub.RecoveryOptions{MaxDisconnectionDuration: duration}, nil)
	rdb := testRedis(t, redisURL)
	ctx := context.Background()
	pttl := func(pid string) time.Duration { d, _ := rdb.PTTL(ctx, so.SessionKeyPrefix+pid).Result(); return d }

	c1, r1 := connectClient(t, a.node, "/", nil)
	waitSession(t, rdb, so, r1.PID, "tracking", func(v redisadapter.SessionView) bool { return v.Live })
	if d := pttl(r1.PID); d <= duration {
		t.Errorf("a live session's time to live is %v, want more than the duration %v", d, duration)
	}
	// Renewed: the time to live goes up again, well above its lowest.
	low := pttl(r1.PID)
	waitFor(t, func() bool {
		d := pttl(r1.PID)
		low = min(low, d)
		return d > low+200*time.Millisecond
	}, "the session to be renewed")
	// Lost (a Redis restart, an expiry): written again.
	if err := rdb.Del(ctx, so.SessionKeyPrefix+r1.PID).Err(); err != nil {
		t.Fatal(err)
	}
	waitSession(t, rdb, so, r1.PID, "the lost session to be written again", func(v redisadapter.SessionView) bool {
		return v.Live && v.SID == r1.SID
	})

	// Another node took the session: its record stays.
	taken := mustRecord(t, redisadapter.SessionView{SID: r1.SID, PID: r1.PID, Rooms: []string{r1.SID}, Owner: "elsewhere", Live: true, Nsp: "/"})
	if err := rdb.Set(ctx, so.SessionKeyPrefix+r1.PID, taken, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	// A second client's writes, made after, tell when the first's were.
	_, r2 := connectClient(t, a.node, "/", nil)
	step := 0
	written := func() {
		t.Helper()
		step++
		room := "step-" + string(rune('0'+step))
		joinRooms(t, a.node, "/", r2.SID, room)
		waitSession(t, rdb, so, r2.PID, "the second client's "+room, func(v redisadapter.SessionView) bool { return slices.Contains(v.Rooms, room) })
	}
	joinRooms(t, a.node, "/", r1.SID, "zombie")
	written()
	if v, _ := rdb.Get(ctx, so.SessionKeyPrefix+r1.PID).Result(); v != taken {
		t.Fatal("a node wrote a session another node took")
	}
	c1.Close()
	a.waitGone(t, r1.SID)
	written()
	if v, _ := rdb.Get(ctx, so.SessionKeyPrefix+r1.PID).Result(); v != taken {
		t.Fatal("a node kept, at disconnect, a session another node took")
	}

	// A disconnected socket's session lives the duration.
	c3, r3 := connectClient(t, a.node, "/", nil)
	waitSession(t, rdb, so, r3.PID, "tracking", func(v redisadapter.SessionView) bool { return v.Live })
	c3.Close()
	a.waitGone(t, r3.SID)
	waitSession(t, rdb, so, r3.PID, "the session to be kept", persisted)
	if d := pttl(r3.PID); d > duration || d <= 0 {
		t.Errorf("a disconnected socket's session lives %v, want at most %v", d, duration)
	}

	// A socket that leaves for good: its session goes.
	c4, r4 := connectClient(t, a.node, "/", nil)
	waitSession(t, rdb, so, r4.PID, "tracking", func(v redisadapter.SessionView) bool { return v.Live })
	if err := c4.Disconnect("/"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return rdb.Exists(ctx, so.SessionKeyPrefix+r4.PID).Val() == 0 }, "the session to be deleted")
}

// A recovery within the bounds works; past them, or once the stream has
// dropped what the client missed, the client starts afresh with the
// reason.
func TestStreamsRecoveryBounds(t *testing.T) {
	key := testKey(t)
	so := streamsOptions(key, false)
	so.MaxLen = 10 // trimmed by whole nodes of 100 entries
	a := startRecoveryNode(t, so, hub.RecoveryOptions{MaxDisconnectionDuration: time.Minute}, nil)
	b := startRecoveryNode(t, so, hub.RecoveryOptions{MaxDisconnectionDuration: time.Minute, MaxSessionPackets: 3, MaxSessionBytes: 2000}, nil)
	waitNodes(t, a.node, "/", 2)
	rdb := testRedis(t, redisURL)
	ctx := context.Background()
	onB := b.store("/")

	// A session connected before anything was in the stream starts at
	// "0-0", and recovers from there without an offset.
	early, rEarly := connectClient(t, a.node, "/", nil)
	joinRooms(t, a.node, "/", rEarly.SID, "r")
	waitSession(t, rdb, so, rEarly.PID, "tracking", func(v redisadapter.SessionView) bool { return v.Start == "0-0" && slices.Contains(v.Rooms, "r") })
	early2, rEarly2 := connectClient(t, a.node, "/", nil)
	joinRooms(t, a.node, "/", rEarly2.SID, "r")
	waitSession(t, rdb, so, rEarly2.PID, "tracking", func(v redisadapter.SessionView) bool { return v.Start == "0-0" && slices.Contains(v.Rooms, "r") })

	cut := func(room string) (string, string) {
		t.Helper()
		r, off := keptSession(t, rdb, so, a, b, "/", room)
		return r.PID, off
	}
	for _, c := range []interface{ Close() error }{early, early2} {
		c.Close()
	}
	a.waitGone(t, rEarly.SID)
	a.waitGone(t, rEarly2.SID)

	okPID, okOff := cut("ok")
	packetsPID, packetsOff := cut("packets")
	bytesPID, bytesOff := cut("bytes")
	for i := range 3 {
		_ = b.srv.To("ok", "r").Emit("m", i)
	}
	_ = b.srv.To("packets").Emit("m", 1)
	_ = b.srv.To("packets").Emit("m", 2)
	_ = b.srv.To("packets").Emit("m", 3)
	_ = b.srv.To("packets").Emit("m", 4)
	_ = b.srv.To("bytes").Emit("m", strings.Repeat("x", 1200))
	_ = b.srv.To("bytes").Emit("m", strings.Repeat("y", 1200))
	waitFor(t, func() bool { return rdb.XLen(ctx, so.StreamName).Val() >= 12 }, "the events to be added")

	if s, err := onB.TakeSession(ctx, okPID, okOff); err != nil {
		t.Fatalf("3 missed packets, within the bound: %v", err)
	} else if s.Offset != okOff {
		t.Errorf("the session's offset %q, want %q", s.Offset, okOff)
	}
	if _, err := onB.TakeSession(ctx, packetsPID, packetsOff); !errors.Is(err, hub.ErrTooManyMissed) {
		t.Errorf("4 missed packets, past a bound of 3: %v", err)
	}
	if _, err := onB.TakeSession(ctx, bytesPID, bytesOff); !errors.Is(err, hub.ErrTooManyMissed) {
		t.Errorf("2,400 missed bytes, past a bound of 2,000: %v", err)
	}
	s, err := a.store("/").TakeSession(ctx, rEarly.PID, "")
	if err != nil {
		t.Fatalf("a session started on an empty stream, without an offset: %v", err)
	}
	var missed []string
	if err := a.store("/").ResumeSession(ctx, s, func(ps []*hub.Packet) {
		for _, p := range ps {
			missed = append(missed, p.Event+" "+string(p.Args.JSON())+" "+p.Offset)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if len(missed) != 3 || !strings.HasPrefix(missed[0], "m [0] ") {
		t.Errorf("replayed from the start: %v", missed)
	}

	// The stream drops the oldest entries: an offset among them has
	// expired, and so has a start on the empty stream.
	for i := range 500 {
		_ = b.srv.To("elsewhere").Emit("filler", i)
	}
	waitFor(t, func() bool {
		first, err := rdb.XRangeN(ctx, so.StreamName, "-", "+", 1).Result()
		return err == nil && len(first) == 1 && offsetLess(okOff, first[0].ID)
	}, "the stream to be trimmed")
	if _, err := onB.TakeSession(ctx, packetsPID, packetsOff); !errors.Is(err, hub.ErrSessionUnknown) {
		t.Errorf("a session refused once: %v, want it gone", err)
	}
	if _, err := onB.TakeSession(ctx, rEarly2.PID, ""); !errors.Is(err, hub.ErrOffsetExpired) {
		t.Errorf("a start on the empty stream, trimmed since: %v", err)
	}
	late, _ := cut("late")
	if _, err := a.store("/").TakeSession(ctx, late, okOff); !errors.Is(err, hub.ErrOffsetExpired) {
		t.Errorf("an offset the stream has dropped: %v", err)
	}
}

// While a node cannot reach Redis, its broadcasts reach its own sockets
// (without offsets) and say so; when Redis is back, its reader resumes
// after the last entry it delivered, so that what other nodes added
// meanwhile reaches its sockets, late, in order, with offsets.
func TestStreamsReaderCatchesUpAfterOutage(t *testing.T) {
	key := testKey(t)
	so := streamsOptions(key, false)
	opt, _ := redis.ParseURL(redisURL)
	toRedis := tcpproxy.Start(t, opt.Addr)
	viaProxy := "redis://" + toRedis.Addr()
	a, streamsA := startStreamsNode(t, so, viaProxy, hub.Options{ConnectionStateRecovery: &hub.RecoveryOptions{}}, nil)
	b, _ := startStreamsNode(t, so, redisURL, hub.Options{ConnectionStateRecovery: &hub.RecoveryOptions{}}, nil)
	waitNodes(t, b, "/", 2)
	c, id := dial(t, a, "/")
	joinRooms(t, a, "/", id, "r")
	_ = b.srv.To("r").Emit("n", 0)
	expectEvent(t, c, "/", "n")

	toRedis.Cut()
	waitFor(t, func() bool { return !streamsA.Healthy() }, "node a to notice the outage")
	if err := a.srv.To("r").Emit("local", 1); !errors.Is(err, redisadapter.ErrUnavailable) {
		t.Errorf("a broadcast during the outage: %v, want ErrUnavailable", err)
	}
	if p := expectEvent(t, c, "/", "local"); len(p.Args) != 1 {
		t.Errorf("a local delivery carries no offset: %s", p.Text)
	}
	for i := 1; i <= 20; i++ {
		if err := b.srv.To("r").Emit("n", i); err != nil {
			t.Fatal(err)
		}
	}
	toRedis.Restore()
	waitFor(t, func() bool { return streamsA.Healthy() }, "node a to reach Redis again")
	prev := ""
	for i := 1; i <= 20; i++ {
		p := expectEvent(t, c, "/", "n")
		var n int
		_ = p.Arg(0, &n)
		off := lastOffset(t, p)
		if n != i || prev != "" && !offsetLess(prev, off) {
			t.Fatalf("after the outage: event %d (offset %s after %s), want %d", n, off, prev, i)
		}
		prev = off
	}
}

// A replay longer than one page of XRANGE comes whole and in order,
// skipping what was not for the session's rooms.
func TestStreamsReplaySpansPages(t *testing.T) {
	a, b, so, rdb := twoRecoveryNodes(t)
	ctx := context.Background()

	r, off := keptSession(t, rdb, so, a, b, "/", "r")
	const missed = 250
	for i := range missed {
		_ = b.srv.To("r").Emit("m", i)
		if i%5 == 0 {
			_ = b.srv.To("elsewhere").Emit("other", i)
		}
	}
	waitFor(t, func() bool { return rdb.XLen(ctx, so.StreamName).Val() == 1+missed+missed/5 }, "the events to be added")

	st := b.store("/")
	s, err := st.TakeSession(ctx, r.PID, off)
	if err != nil {
		t.Fatal(err)
	}
	var got []*hub.Packet
	if err := st.ResumeSession(ctx, s, func(ps []*hub.Packet) { got = ps }); err != nil {
		t.Fatal(err)
	}
	if len(got) != missed {
		t.Fatalf("%d packets replayed, want %d", len(got), missed)
	}
	for i, p := range got {
		if p.Event != "m" || string(p.Args.JSON()) != "["+strconv.Itoa(i)+"]" || i > 0 && !offsetLess(got[i-1].Offset, p.Offset) {
			t.Fatalf("packet %d: %s %s at %s", i, p.Event, p.Args.JSON(), p.Offset)
		}
	}
}
