package engine

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// probe opens the upgrade WebSocket of session sid and runs the probe.
func (e *env) probe(sid string) *websocket.Conn {
	e.t.Helper()
	ws := e.mustDial("EIO=4&transport=websocket&sid=" + sid)
	writeText(e.t, ws, "2probe")
	readText(e.t, ws, "3probe")
	return ws
}

func (e *env) upgrading(sid string) bool {
	c := e.conn(sid)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.upgrading
}

// TestUpgrade runs the upgrade as the JS client does: a pending GET is
// released with a noop after the probe, then the upgrade packet switches
// the session to the WebSocket.
func TestUpgrade(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	sid, h := e.openPolling()
	pending := e.asyncGet(sid)
	e.waitParked(sid)

	ws := e.probe(sid)
	if r := recv(t, pending); r.status != 200 || r.body != "6" {
		t.Fatalf("pending GET: %d %q, want \"6\"", r.status, r.body)
	}
	if got := e.conn(sid).Transport(); got != "polling" {
		t.Fatalf("Transport() = %q before the upgrade packet", got)
	}
	writeText(t, ws, "5")
	waitFor(t, "the upgrade", func() bool { return e.conn(sid).Transport() == "websocket" })

	writeText(t, ws, "4hello")
	readText(t, ws, "4hello")
	if m := h.nextMsg(t); m.data != "hello" {
		t.Fatalf("got %q", m.data)
	}
	// Polling is over for this session.
	expectError(t, e.get(sid), 400, 3)
	expectError(t, e.post(sid, "4x"), 400, 3)
	if h.isClosed() {
		t.Fatal("session closed")
	}
	// It still ends like a WebSocket session.
	writeText(t, ws, "1")
	h.expectClose(t, ReasonTransportClose)
}

// TestUpgradeGetDuringProbe: a GET that arrives during the upgrade gets a
// noop, so the client can pause polling.
func TestUpgradeGetDuringProbe(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	sid, _ := e.openPolling()
	ws := e.probe(sid)
	if got := e.getBody(sid); got != "6" {
		t.Fatalf("GET during the upgrade: %q, want \"6\"", got)
	}
	// Data queued meanwhile still goes to a GET rather than waiting.
	e.postOK(sid, "4m")
	if got := e.getBody(sid); got != "4m" {
		t.Fatalf("GET %q", got)
	}
	writeText(t, ws, "5")
	waitFor(t, "the upgrade", func() bool { return e.conn(sid).Transport() == "websocket" })
}

// TestUpgradeSecondWebSocket: a WebSocket for a session that is upgrading
// or upgraded is accepted, then closed at once.
func TestUpgradeSecondWebSocket(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	sid, h := e.openPolling()

	ws := e.probe(sid)
	second := e.mustDial("EIO=4&transport=websocket&sid=" + sid)
	expectWSClosed(t, second)
	writeText(t, ws, "5")
	waitFor(t, "the upgrade", func() bool { return e.conn(sid).Transport() == "websocket" })
	third := e.mustDial("EIO=4&transport=websocket&sid=" + sid)
	expectWSClosed(t, third)

	// The session itself is unharmed.
	writeText(t, ws, "4ok")
	readText(t, ws, "4ok")
	if h.isClosed() {
		t.Fatal("session closed")
	}

	// Same for a session that started on WebSocket.
	ws2, sid2, h2 := e.openWS()
	extra := e.mustDial("EIO=4&transport=websocket&sid=" + sid2)
	expectWSClosed(t, extra)
	writeText(t, ws2, "4ok")
	readText(t, ws2, "4ok")
	if h2.isClosed() {
		t.Fatal("session closed")
	}
}

// TestUpgradeAborted: anything but the probe and the upgrade packet on the
// probe WebSocket aborts the upgrade; polling goes on, and a later upgrade
// works.
func TestUpgradeAborted(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		before bool // sent before the probe
		frame  string
	}{
		{"message before the probe", true, "4hello"},
		{"wrong probe", true, "2probably"},
		{"plain ping", true, "2"},
		{"message after the probe", false, "4hello"},
		{"second probe data", false, "3probe"},
		{"malformed packet", false, "x"},
		{"close packet", false, "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, Config{})
			sid, h := e.openPolling()
			var ws *websocket.Conn
			if tc.before {
				ws = e.mustDial("EIO=4&transport=websocket&sid=" + sid)
			} else {
				ws = e.probe(sid)
			}
			writeText(t, ws, tc.frame)
			expectWSClosed(t, ws)
			waitFor(t, "the upgrade to be dropped", func() bool { return !e.upgrading(sid) })

			if got := e.conn(sid).Transport(); got != "polling" {
				t.Fatalf("Transport() = %q", got)
			}
			e.postOK(sid, "4still polling")
			if got := e.getBody(sid); got != "4still polling" {
				t.Fatalf("GET %q", got)
			}
			if m := h.nextMsg(t); m.data != "still polling" {
				t.Fatalf("handler got %q (the probe's packet leaked through?)", m.data)
			}
			// A parked GET is not answered with noops any more.
			pending := e.asyncGet(sid)
			e.waitParked(sid)
			time.Sleep(3 * noopDelay) // a stray noop timer would answer within noopDelay
			select {
			case r := <-pending:
				t.Fatalf("parked GET answered: %d %q", r.status, r.body)
			default:
			}
			h.c.Send([]Frame{Text(4, []byte("wake"))}, false)
			if r := recv(t, pending); r.body != "4wake" {
				t.Fatalf("GET %q", r.body)
			}

			ws = e.probe(sid)
			writeText(t, ws, "5")
			waitFor(t, "the upgrade", func() bool { return e.conn(sid).Transport() == "websocket" })
			writeText(t, ws, "4up")
			readText(t, ws, "4up")
			if h.isClosed() {
				t.Fatal("session closed")
			}
		})
	}
}

// TestUpgradeTimeout: an upgrade that does not finish in UpgradeTimeout
// is dropped; the session goes on polling.
func TestUpgradeTimeout(t *testing.T) {
	t.Parallel()
	for _, probed := range []bool{false, true} {
		t.Run("probed="+strconv.FormatBool(probed), func(t *testing.T) {
			t.Parallel()
			// The probed upgrade must get its probe through before the
			// timeout, which a loaded machine may delay; the unprobed one
			// waits the timeout out, so it stays short.
			timeout := 300 * time.Millisecond
			if probed {
				timeout = 3 * time.Second
			}
			e := newEnv(t, Config{UpgradeTimeout: timeout})
			sid, h := e.openPolling()
			var ws *websocket.Conn
			if probed {
				ws = e.probe(sid)
			} else {
				ws = e.mustDial("EIO=4&transport=websocket&sid=" + sid)
			}
			expectWSClosed(t, ws)
			waitFor(t, "the upgrade to be dropped", func() bool { return !e.upgrading(sid) })
			e.postOK(sid, "4x")
			if got := e.getBody(sid); got != "4x" {
				t.Fatalf("GET %q", got)
			}
			if h.isClosed() {
				t.Fatal("session closed")
			}
		})
	}
}

// TestUpgradeDisabled: with upgrades off, the upgrade request is refused.
func TestUpgradeDisabled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{DisableUpgrades: true})
	sid, _ := e.openPolling()
	_, res, err := websocket.DefaultDialer.Dial(e.ws+"?EIO=4&transport=websocket&sid="+sid, nil)
	if !errors.Is(err, websocket.ErrBadHandshake) || res == nil || res.StatusCode != http.StatusBadRequest {
		t.Fatalf("upgrade: %v %v", err, res)
	}
	res.Body.Close()
	e.postOK(sid, "4x")
	if got := e.getBody(sid); got != "4x" {
		t.Fatalf("GET %q", got)
	}
}

// TestUpgradeKeepsQueuedFrames: frames queued during the upgrade go out on
// the WebSocket, in order, after the switch.
func TestUpgradeKeepsQueuedFrames(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	sid, h := e.openPolling()
	ws := e.probe(sid)
	for i := 0; i < 100; i++ {
		h.c.Send([]Frame{Text(4, []byte(strconv.Itoa(i)))}, false)
	}
	h.c.Send([]Frame{{Data: []byte{1, 2}, Binary: true}}, false)
	writeText(t, ws, "5")
	for i := 0; i < 100; i++ {
		readText(t, ws, "4"+strconv.Itoa(i))
	}
	if mt, data := readWS(t, ws); mt != websocket.BinaryMessage || data != "\x01\x02" {
		t.Fatalf("got (%d) %q", mt, data)
	}
}

// TestUpgradeUnderLoad: frames sent without pause during the whole upgrade
// arrive exactly once and in order, across the two transports, with the
// client behaving like the JS one (poll until paused, then upgrade).
func TestUpgradeUnderLoad(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	sid, h := e.openPolling()

	var got []int
	record := func(t *testing.T, payload string) {
		for _, p := range strings.Split(payload, "\x1e") {
			switch {
			case p == "6":
			case strings.HasPrefix(p, "4"):
				n, err := strconv.Atoi(p[1:])
				if err != nil {
					t.Fatalf("packet %q", p)
				}
				got = append(got, n)
			default:
				t.Fatalf("packet %q", p)
			}
		}
	}

	stop := make(chan struct{})
	var sent int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				sent = i
				return
			default:
			}
			h.c.Send([]Frame{Text(4, []byte(strconv.Itoa(i)))}, false)
			if i%16 == 0 {
				time.Sleep(100 * time.Microsecond)
			}
		}
	}()

	for i := 0; i < 5; i++ {
		record(t, e.getBody(sid))
	}
	ws := e.mustDial("EIO=4&transport=websocket&sid=" + sid)
	writeText(t, ws, "2probe")
	readText(t, ws, "3probe")
	// The client pauses: its last poll returns (data or a noop), then it
	// sends the upgrade packet.
	record(t, e.getBody(sid))
	writeText(t, ws, "5")
	waitFor(t, "the upgrade", func() bool { return e.conn(sid).Transport() == "websocket" })
	time.Sleep(5 * time.Millisecond)
	close(stop)
	wg.Wait()

	for len(got) == 0 || got[len(got)-1] < sent-1 {
		_, data := readWS(t, ws)
		record(t, data)
	}
	for i, n := range got {
		if n != i {
			t.Fatalf("frame %d is %d (received %d of %d)", i, n, len(got), sent)
		}
	}
	if len(got) != sent {
		t.Fatalf("received %d frames, sent %d", len(got), sent)
	}
}

// TestUpgradeWhileClosing: Close during an upgrade, with no GET to carry
// the close, completes over the WebSocket as soon as the upgrade does.
func TestUpgradeWhileClosing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	sid, h := e.openPolling()
	ws := e.probe(sid)
	h.c.Send([]Frame{Text(4, []byte("last"))}, false)
	h.c.Close()
	writeText(t, ws, "5")
	readText(t, ws, "4last")
	err := expectWSClosed(t, ws)
	if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("connection ended with %v, want close 1000", err)
	}
	h.expectClose(t, ReasonForcedClose)
	waitFor(t, "the session to leave the table", func() bool { return e.conn(sid) == nil })
}

// TestSessionClosedDuringProbe: when the session ends, so does its probe.
func TestSessionClosedDuringProbe(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	sid, h := e.openPolling()
	ws := e.probe(sid)
	e.postOK(sid, "1") // the client closes the session over polling
	h.expectClose(t, ReasonTransportClose)
	expectWSClosed(t, ws)
}
