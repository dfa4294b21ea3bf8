package engine

import (
	"bytes"
	"context"
	"net/http"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestNoGoroutineLeak opens and ends sessions in every way a session can
// end, on both transports, and checks that the goroutine count comes back
// to where it was. It does not run in parallel: parallel tests are paused
// while it runs.
func TestNoGoroutineLeak(t *testing.T) {
	// UpgradeTimeout: long enough for a probe on a loaded machine. The
	// scenario that waits it out uses short's.
	e := newEnv(t, Config{UpgradeTimeout: 3 * time.Second, MaxBufferedBytes: 64 << 10})
	short := newEnv(t, Config{UpgradeTimeout: 300 * time.Millisecond})
	closeIdle := func() {
		e.ts.Client().CloseIdleConnections()
		short.ts.Client().CloseIdleConnections()
	}
	settle := func() {
		closeIdle()
		waitFor(t, "an empty table", func() bool { return e.srv.Len() == 0 && short.srv.Len() == 0 })
	}

	// Warm up (HTTP client and server goroutines, timers), then measure.
	for _, e := range []*env{e, short} {
		sid, _ := e.openPolling()
		e.postOK(sid, "1")
	}
	ws, _, h := e.openWS()
	ws.Close()
	h.waitClose(t)
	settle()
	time.Sleep(10 * time.Millisecond)
	base := runtime.NumGoroutine()

	const rounds = 6
	for i := 0; i < rounds; i++ {
		// Run returns once its parallel subtests are done.
		t.Run("round", func(t *testing.T) {
			for name, end := range leakScenarios {
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					end(t, e.with(t), short.with(t))
				})
			}
		})
	}
	if t.Failed() {
		return
	}
	settle()

	deadline := time.Now().Add(waitTimeout)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			var buf bytes.Buffer
			_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), base, buf.String())
		}
		closeIdle()
		time.Sleep(5 * time.Millisecond)
	}
}

// leakScenarios each open a session and end it one way, on e (or short,
// whose UpgradeTimeout is short).
var leakScenarios = map[string]func(t *testing.T, e, short *env){
	"polling client close": func(t *testing.T, e, _ *env) {
		sid, h := e.openPolling()
		e.postOK(sid, "4x")
		e.getBody(sid)
		pending := e.asyncGet(sid)
		e.waitParked(sid)
		e.postOK(sid, "1")
		<-pending
		h.waitClose(t)
	},
	"polling server close, GET parked": func(t *testing.T, e, _ *env) {
		sid, h := e.openPolling()
		pending := e.asyncGet(sid)
		e.waitParked(sid)
		h.c.Close()
		<-pending
		h.waitClose(t)
	},
	"polling server close, then a GET": func(t *testing.T, e, _ *env) {
		sid, h := e.openPolling()
		h.c.Close()
		e.getBody(sid)
		h.waitClose(t)
	},
	"polling cancelled GET": func(t *testing.T, e, _ *env) {
		sid, h := e.openPolling()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			req, _ := http.NewRequestWithContext(ctx, "GET", e.base+"?EIO=4&transport=polling&sid="+sid, nil)
			if res, err := e.ts.Client().Do(req); err == nil {
				res.Body.Close()
			}
		}()
		e.waitParked(sid)
		cancel()
		<-done
		h.waitClose(t)
	},
	"polling duplicate GET": func(t *testing.T, e, _ *env) {
		sid, h := e.openPolling()
		pending := e.asyncGet(sid)
		e.waitParked(sid)
		e.get(sid)
		<-pending
		h.waitClose(t)
	},
	"polling overflow": func(t *testing.T, e, _ *env) {
		_, h := e.openPolling()
		for h.c.Send([]Frame{Text(4, make([]byte, 4096))}, false) {
		}
		h.waitClose(t)
	},
	"websocket dropped": func(t *testing.T, e, _ *env) {
		ws, _, h := e.openWS()
		writeText(t, ws, "4x")
		readText(t, ws, "4x")
		ws.Close()
		h.waitClose(t)
	},
	"websocket close packet": func(t *testing.T, e, _ *env) {
		ws, _, h := e.openWS()
		writeText(t, ws, "1")
		h.waitClose(t)
	},
	"websocket server close": func(t *testing.T, e, _ *env) {
		ws, _, h := e.openWS()
		h.c.Send([]Frame{Text(4, []byte("bye"))}, false)
		h.c.Close()
		readText(t, ws, "4bye")
		expectWSClosed(t, ws)
		h.waitClose(t)
	},
	"websocket overflow": func(t *testing.T, e, _ *env) {
		_, _, h := e.openWS()
		chunk := Frame{Data: make([]byte, 16<<10), Binary: true}
		for h.c.Send([]Frame{chunk}, false) {
		}
		h.waitClose(t)
	},
	"websocket parse error": func(t *testing.T, e, _ *env) {
		ws, _, h := e.openWS()
		writeText(t, ws, "x")
		h.waitClose(t)
	},
	"upgrade then drop": func(t *testing.T, e, _ *env) {
		sid, h := e.openPolling()
		ws := e.probe(sid)
		writeText(t, ws, "5")
		writeText(t, ws, "4x")
		readText(t, ws, "4x")
		ws.Close()
		h.waitClose(t)
	},
	"aborted upgrades then close": func(t *testing.T, e, _ *env) {
		sid, h := e.openPolling()
		ws := e.probe(sid)
		second, err := e.dial("EIO=4&transport=websocket&sid=" + sid)
		if err == nil {
			expectWSClosed(t, second)
		}
		writeText(t, ws, "4abort")
		expectWSClosed(t, ws)
		waitFor(t, "the aborted upgrade", func() bool { return !e.upgrading(sid) })
		ws = e.probe(sid)
		h.c.Close()
		e.getBody(sid) // carries the close, which also ends the probe
		expectWSClosed(t, ws)
		h.waitClose(t)
	},
	"timed-out upgrade then close": func(t *testing.T, _, short *env) {
		sid, h := short.openPolling()
		ws := short.mustDial("EIO=4&transport=websocket&sid=" + sid)
		expectWSClosed(t, ws) // UpgradeTimeout
		waitFor(t, "the timed-out upgrade", func() bool { return !short.upgrading(sid) })
		h.c.Close()
		short.getBody(sid) // carries the close
		h.waitClose(t)
	},
	"refused websocket": func(t *testing.T, e, _ *env) {
		_, res, err := websocket.DefaultDialer.Dial(e.ws+"?EIO=4&transport=websocket&sid=unknown", nil)
		if err == nil {
			t.Fatal("upgrade with an unknown sid accepted")
		}
		if res != nil {
			res.Body.Close()
		}
	},
}
