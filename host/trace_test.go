package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/hubd/hubd/sdk/wire"
)

// traceWait bounds the waits of the trace tests: a hang fails, a slow
// machine does not.
const traceWait = 20 * time.Second

// decideFor runs h's chain for env as the hooks do for a socket whose
// life is sockCtx, recording its trace.
func decideFor(h *Host, sockCtx context.Context, env *Envelope) Decision {
	return h.decide(sockCtx, sockCtx, h.current.Load(), env, nil)
}

func traceEnv(hook Hook, socket, event string) *Envelope {
	return &Envelope{Hook: hook, Namespace: "/", Socket: Socket{ID: socket}, Event: event, Args: wire.Raw(`["x"]`)}
}

// stripTimes zeroes what varies from run to run: latencies and times.
func stripTimes(recs []TraceRecord) []TraceRecord {
	for i := range recs {
		recs[i].Time = time.Time{}
		for j := range recs[i].Steps {
			recs[i].Steps[j].Latency = 0
		}
	}
	return recs
}

// TestTraceSteps: each plugin the chain consults is a step with its
// verdict, reason, failure policy and the fields it changed (small values
// kept); the record has the event as the client sent it and the chain's
// outcome; a plugin after the one that ended the chain is not a step.
func TestTraceSteps(t *testing.T) {
	h, rt := newTestHost(t)
	rt.set("audit", func(context.Context, *Envelope) (*Decision, error) { return nil, nil })
	rt.set("broken", func(context.Context, *Envelope) (*Decision, error) { return nil, errors.New("boom") })
	rt.set("shape", func(_ context.Context, env *Envelope) (*Decision, error) {
		if env.Event == "secret" {
			return &Decision{Action: Deny, Reason: "no secrets"}, nil
		}
		return &Decision{Event: "said", Args: wire.Raw(`["X"]`), Rooms: []string{"lobby"}, Except: []string{}, SocketData: wire.Raw(`{"n":1}`)}, nil
	})
	rt.set("last", func(context.Context, *Envelope) (*Decision, error) { return nil, nil })
	broken := spec("broken", 1, HookEvent)
	broken.Manifest.OnError = "allow"
	if err := h.Load(t.Context(), []Spec{spec("audit", 0, HookEvent), broken, spec("shape", 2, HookEvent), spec("last", 3, HookEvent)}); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	decideFor(h, ctx, traceEnv(HookEvent, "s1", "say"))
	decideFor(h, ctx, traceEnv(HookEvent, "s1", "secret"))
	got, ok := h.Trace("s1")
	if !ok {
		t.Fatal("no trace of s1")
	}
	want := []TraceRecord{
		{Hook: HookEvent, Namespace: "/", Socket: "s1", Event: "say", Outcome: Allow, Steps: []TraceStep{
			{Plugin: "audit", Runtime: "fake", Verdict: OutcomeAllow},
			{Plugin: "broken", Runtime: "fake", Verdict: OutcomeError, Policy: "allow", Reason: "boom"},
			{Plugin: "shape", Runtime: "fake", Verdict: OutcomeAllow, Changed: []string{"event", "args", "rooms", "except", "socket_data"},
				Event: "said", Rooms: []string{"lobby"}, SocketData: json.RawMessage(`{"n":1}`)},
			{Plugin: "last", Runtime: "fake", Verdict: OutcomeAllow},
		}},
		{Hook: HookEvent, Namespace: "/", Socket: "s1", Event: "secret", Outcome: Deny, Reason: "no secrets", Steps: []TraceStep{
			{Plugin: "audit", Runtime: "fake", Verdict: OutcomeAllow},
			{Plugin: "broken", Runtime: "fake", Verdict: OutcomeError, Policy: "allow", Reason: "boom"},
			{Plugin: "shape", Runtime: "fake", Verdict: OutcomeDeny, Reason: "no secrets"},
		}},
	}
	if got = stripTimes(got); !reflect.DeepEqual(got, want) {
		gj, _ := json.MarshalIndent(got, "", "  ")
		t.Fatalf("trace:\n%s", gj)
	}
	if _, ok := h.Trace("s2"); ok {
		t.Fatal("a trace of a socket that made no decision")
	}
}

// TestTraceFailClosedAndRejected: a failure answered by a fail-closed
// policy says so and ends the chain; an envelope too deep is a
// rejected_input step per plugin.
func TestTraceFailClosedAndRejected(t *testing.T) {
	h, rt := newTestHost(t)
	rt.set("gate", func(context.Context, *Envelope) (*Decision, error) { return nil, errors.New("down") })
	rt.set("after", func(context.Context, *Envelope) (*Decision, error) { return nil, nil })
	if err := h.Load(t.Context(), []Spec{spec("gate", 0, HookJoin, HookEvent), spec("after", 1, HookJoin, HookEvent)}); err != nil {
		t.Fatal(err)
	}
	env := traceEnv(HookJoin, "s1", "")
	env.Rooms = []string{"a"}
	decideFor(h, t.Context(), env)
	deep := traceEnv(HookEvent, "s1", "deep")
	deep.Args = wire.Raw(strings.Repeat("[", MaxJSONDepth+1) + strings.Repeat("]", MaxJSONDepth+1))
	decideFor(h, t.Context(), deep)
	got, _ := h.Trace("s1")
	want := []TraceRecord{
		{Hook: HookJoin, Namespace: "/", Socket: "s1", Outcome: Deny, Reason: "plugin unavailable", Steps: []TraceStep{
			{Plugin: "gate", Runtime: "fake", Verdict: OutcomeError, Policy: "deny", Reason: "down"},
		}},
		{Hook: HookEvent, Namespace: "/", Socket: "s1", Event: "deep", Outcome: Allow, Steps: []TraceStep{
			{Plugin: "gate", Runtime: "fake", Verdict: OutcomeRejectedInput, Policy: "allow"},
			{Plugin: "after", Runtime: "fake", Verdict: OutcomeRejectedInput, Policy: "allow"},
		}},
	}
	if got = stripTimes(got); !reflect.DeepEqual(got, want) {
		gj, _ := json.MarshalIndent(got, "", "  ")
		t.Fatalf("trace:\n%s", gj)
	}
}

// TestTraceRingBounded: a socket that makes many decisions keeps the
// latest PerSocket of them, oldest first, in a ring that stops growing.
func TestTraceRingBounded(t *testing.T) {
	h, rt := newTestHost(t)
	rt.set("a", func(context.Context, *Envelope) (*Decision, error) { return nil, nil })
	if err := h.Load(t.Context(), []Spec{spec("a", 0, HookEvent)}); err != nil {
		t.Fatal(err)
	}
	if err := h.SetTrace(TraceOptions{PerSocket: 4}); err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		decideFor(h, t.Context(), traceEnv(HookEvent, "s1", fmt.Sprint("e", i)))
	}
	got, _ := h.Trace("s1")
	var events []string
	for _, r := range got {
		events = append(events, r.Event)
	}
	if want := []string{"e996", "e997", "e998", "e999"}; !reflect.DeepEqual(events, want) {
		t.Fatalf("events %v, want %v", events, want)
	}
	if r := h.tracer.find("s1"); len(r.recs) != 4 || cap(r.recs) > 8 {
		t.Fatalf("ring of %d records (capacity %d), want 4", len(r.recs), cap(r.recs))
	}
}

// TestTraceHostileValuesBounded: what a client controls (event names,
// errors that quote it) and large values a plugin returns are cut or left
// out, so that one record stays within its bound whatever is sent.
func TestTraceHostileValuesBounded(t *testing.T) {
	h, rt := newTestHost(t)
	big := strings.Repeat("é", 1<<20)
	many := make([]string, 200)
	for i := range many {
		many[i] = fmt.Sprint("room-", i)
	}
	rt.set("a", func(_ context.Context, env *Envelope) (*Decision, error) {
		return &Decision{Rooms: many, Join: []string{strings.Repeat("j", 300)}, SocketData: wire.Raw(`"` + strings.Repeat("d", 300) + `"`)}, nil
	})
	rt.set("b", func(_ context.Context, env *Envelope) (*Decision, error) {
		return nil, errors.New("bad event " + env.Event)
	})
	b := spec("b", 1, HookEvent)
	b.Manifest.OnError = "allow"
	if err := h.Load(t.Context(), []Spec{spec("a", 0, HookEvent), b}); err != nil {
		t.Fatal(err)
	}
	decideFor(h, t.Context(), traceEnv(HookEvent, "s0", big))
	got, _ := h.Trace("s0")
	rec := got[0]
	if len(rec.Event) > traceMaxText || !strings.HasSuffix(rec.Event, "…") || !strings.HasPrefix(rec.Event, "éé") {
		t.Fatalf("event kept as %d bytes %q, want at most %d ending with …", len(rec.Event), rec.Event, traceMaxText)
	}
	a, bs := rec.Steps[0], rec.Steps[1]
	if !reflect.DeepEqual(a.Changed, []string{"rooms", "socket_data", "join"}) || a.Rooms != nil || a.Join != nil || a.SocketData != nil {
		t.Fatalf("step %+v: want the large values named and left out", a)
	}
	if len(bs.Reason) > traceMaxText || !strings.HasPrefix(bs.Reason, "bad event é") {
		t.Fatalf("error kept as %d bytes: want at most %d", len(bs.Reason), traceMaxText)
	}
	// Sockets' failing calls end up held back (socket_backoff): records
	// of every kind go round the ring.
	for range 3 * DefaultTracePerSocket {
		decideFor(h, t.Context(), traceEnv(HookEvent, "s1", big))
	}
	if got, _ := h.Trace("s1"); len(got) != DefaultTracePerSocket {
		t.Fatalf("%d records, want %d", len(got), DefaultTracePerSocket)
	}
	r := h.tracer.find("s1")
	for i := range r.recs {
		if arena, _ := r.view(i); cap(arena) > traceRecordBytes {
			t.Fatalf("record %d keeps %d bytes, want at most %d", i, cap(arena), traceRecordBytes)
		}
	}
}

// TestTraceClosedSocketsBounded: an attacker opening and closing many
// sockets leaves the rings of the last ClosedSockets of them, no more,
// and no ring of a live socket once all are gone.
func TestTraceClosedSocketsBounded(t *testing.T) {
	h, rt := newTestHost(t)
	rt.set("a", func(context.Context, *Envelope) (*Decision, error) { return nil, nil })
	if err := h.Load(t.Context(), []Spec{spec("a", 0, HookConnect, HookEvent)}); err != nil {
		t.Fatal(err)
	}
	if err := h.SetTrace(TraceOptions{ClosedSockets: 10}); err != nil {
		t.Fatal(err)
	}
	const sockets = 1000
	for i := range sockets {
		ctx, cancel := context.WithCancel(t.Context())
		id := fmt.Sprint("s", i)
		decideFor(h, ctx, traceEnv(HookConnect, id, ""))
		decideFor(h, ctx, traceEnv(HookEvent, id, "e"))
		cancel()
		// The ring moves when the context's callback has run: one at a
		// time, so that the sockets close in order.
		waitNoLiveRing(t, h)
	}
	h.tracer.mu.Lock()
	kept := len(h.tracer.closedIdx)
	h.tracer.mu.Unlock()
	if kept != 10 {
		t.Fatalf("%d closed sockets kept, want 10", kept)
	}
	for i := range sockets {
		id := fmt.Sprint("s", i)
		recs, ok := h.Trace(id)
		if want := i >= sockets-10; ok != want {
			t.Fatalf("trace of %s found %v, want %v", id, ok, want)
		}
		if ok && len(recs) != 2 {
			t.Fatalf("trace of %s has %d records, want 2", id, len(recs))
		}
	}
	// A lower bound keeps the newest.
	if err := h.SetTrace(TraceOptions{ClosedSockets: 3}); err != nil {
		t.Fatal(err)
	}
	for i := sockets - 10; i < sockets; i++ {
		if _, ok := h.Trace(fmt.Sprint("s", i)); ok != (i >= sockets-3) {
			t.Fatalf("after lowering the bound, trace of s%d found %v", i, ok)
		}
	}
}

func waitNoLiveRing(t *testing.T, h *Host) {
	t.Helper()
	deadline := time.Now().Add(traceWait)
	for liveRings(h) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d rings still live after their sockets ended", liveRings(h))
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func liveRings(h *Host) int {
	h.tracer.mu.Lock()
	defer h.tracer.mu.Unlock()
	n := 0
	h.tracer.live.Range(func(any, any) bool { n++; return true })
	return n
}

// TestTraceAfterClose: a decision recorded after its socket's context
// ended (the disconnect hook's) lands in the ring kept for the closed
// socket, and a socket whose first decision comes after its end gets a
// closed ring, not a live one that nothing would remove.
func TestTraceAfterClose(t *testing.T) {
	h, rt := newTestHost(t)
	rt.set("a", func(context.Context, *Envelope) (*Decision, error) { return nil, nil })
	if err := h.Load(t.Context(), []Spec{spec("a", 0, HookEvent, HookDisconnect)}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	decideFor(h, ctx, traceEnv(HookEvent, "s1", "e"))
	cancel()
	decideFor(h, ctx, traceEnv(HookDisconnect, "s1", ""))
	decideFor(h, ctx, traceEnv(HookDisconnect, "s2", ""))
	waitNoLiveRing(t, h)
	for id, want := range map[string][]Hook{"s1": {HookEvent, HookDisconnect}, "s2": {HookDisconnect}} {
		recs, _ := h.Trace(id)
		var hooks []Hook
		for _, r := range recs {
			hooks = append(hooks, r.Hook)
		}
		if !reflect.DeepEqual(hooks, want) {
			t.Fatalf("%s: hooks %v, want %v", id, hooks, want)
		}
	}
}

// TestTraceRecoveredLife: a socket that connection state recovery gave
// back (the same id, a new life) keeps its ring live when its earlier
// life's end is handled after the new life's first decision — that end
// runs on its own goroutine, so it may come at any time.
func TestTraceRecoveredLife(t *testing.T) {
	h, rt := newTestHost(t)
	rt.set("a", func(context.Context, *Envelope) (*Decision, error) { return nil, nil })
	if err := h.Load(t.Context(), []Spec{spec("a", 0, HookEvent)}); err != nil {
		t.Fatal(err)
	}
	first, end := context.WithCancel(t.Context())
	decideFor(h, first, traceEnv(HookEvent, "s1", "before"))
	end()
	second, cancel := context.WithCancel(t.Context())
	defer cancel()
	decideFor(h, second, traceEnv(HookEvent, "s1", "after"))
	r := h.tracer.find("s1")
	h.tracer.close(r, first.Done()) // the first life's end, late or again
	if _, live := h.tracer.live.Load("s1"); !live {
		t.Fatal("the end of the socket's first life closed the ring its second life uses")
	}
	recs, _ := h.Trace("s1")
	if len(recs) != 2 || recs[0].Event != "before" || recs[1].Event != "after" {
		t.Fatalf("trace %+v, want the decisions of both lives", recs)
	}
	cancel()
	waitNoLiveRing(t, h)
	if recs, ok := h.Trace("s1"); !ok || len(recs) != 2 {
		t.Fatalf("after the second life's end: %d records, found %v; want both kept", len(recs), ok)
	}
}

// TestTraceConcurrent: sockets recording, closing and being read at once
// (run with -race).
func TestTraceConcurrent(t *testing.T) {
	h, rt := newTestHost(t)
	rt.set("a", func(context.Context, *Envelope) (*Decision, error) { return &Decision{Rooms: []string{"r"}}, nil })
	if err := h.Load(t.Context(), []Spec{spec("a", 0, HookEvent)}); err != nil {
		t.Fatal(err)
	}
	if err := h.SetTrace(TraceOptions{PerSocket: 3, ClosedSockets: 5}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				ctx, cancel := context.WithCancel(t.Context())
				id := fmt.Sprint("s", g, "-", i%7)
				decideFor(h, ctx, traceEnv(HookEvent, id, "e"))
				if recs, ok := h.Trace(id); !ok || len(recs) == 0 || len(recs) > 3 {
					t.Errorf("trace of %s: %d records, found %v", id, len(recs), ok)
				}
				if i%3 == 0 {
					cancel()
				} else {
					defer cancel()
				}
			}
		})
	}
	wg.Wait()
}

// TestTraceOff: with PerSocket negative nothing is recorded.
func TestTraceOff(t *testing.T) {
	h, rt := newTestHost(t)
	rt.set("a", func(context.Context, *Envelope) (*Decision, error) { return nil, nil })
	if err := h.Load(t.Context(), []Spec{spec("a", 0, HookEvent)}); err != nil {
		t.Fatal(err)
	}
	if err := h.SetTrace(TraceOptions{PerSocket: -1}); err != nil {
		t.Fatal(err)
	}
	decideFor(h, t.Context(), traceEnv(HookEvent, "s1", "e"))
	if _, ok := h.Trace("s1"); ok {
		t.Fatal("a trace recorded with tracing off")
	}
}

// TestTraceOptionsValidate: every problem is reported at once, and
// nothing changes.
func TestTraceOptionsValidate(t *testing.T) {
	h := New(nil)
	err := h.SetTrace(TraceOptions{PerSocket: MaxTracePerSocket + 1, ClosedSockets: MaxTraceClosedSockets + 1, Sample: 2})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"per_socket", "closed_sockets", "sample"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if c := h.tracer.on(); c == nil || c.perSocket != DefaultTracePerSocket || c.closed != DefaultTraceClosedSockets || c.sample != 0 || c.connectError {
		t.Fatalf("config %+v after a refused SetTrace, want the defaults", c)
	}
}

// TestTraceSampleLogs: a sampled decision is logged at info with every
// step.
func TestTraceSampleLogs(t *testing.T) {
	var logs strings.Builder
	var mu sync.Mutex
	h := New(slog.New(slog.NewJSONHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), nil)))
	rt := newFakeRuntime()
	h.Register("fake", rt)
	t.Cleanup(func() { _ = h.Close() })
	rt.set("a", func(context.Context, *Envelope) (*Decision, error) { return nil, nil })
	rt.set("b", func(context.Context, *Envelope) (*Decision, error) { return &Decision{Action: Deny, Reason: "no"}, nil })
	if err := h.Load(t.Context(), []Spec{spec("a", 0, HookEvent), spec("b", 1, HookEvent)}); err != nil {
		t.Fatal(err)
	}
	if err := h.SetTrace(TraceOptions{Sample: 1}); err != nil {
		t.Fatal(err)
	}
	decideFor(h, t.Context(), traceEnv(HookEvent, "s1", "e"))
	mu.Lock()
	line := logs.String()
	mu.Unlock()
	var entry struct {
		Level, Msg, Hook, Socket, Outcome string
		Steps                             []TraceStep
	}
	if err := json.Unmarshal([]byte(line), &entry); err != nil {
		t.Fatalf("log %q: %v", line, err)
	}
	if entry.Level != "INFO" || entry.Msg != "decision trace" || entry.Socket != "s1" || entry.Outcome != "deny" ||
		len(entry.Steps) != 2 || entry.Steps[0].Plugin != "a" || entry.Steps[1].Reason != "no" {
		t.Fatalf("log %s", line)
	}
	if s := traceSteps(entry.Steps).String(); !strings.Contains(s, `a@fake allow`) || !strings.Contains(s, `b@fake deny "no"`) {
		t.Fatalf("text form %q", s)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestWithTrace: the trace goes into a refused connect's data object,
// or around data that is not one.
func TestWithTrace(t *testing.T) {
	rec := &TraceRecord{Hook: HookConnect, Socket: "s1"}
	for _, c := range []struct{ data, want string }{
		{``, `{"trace":{}}`},
		{`{"code":401}`, `{"code":401,"trace":{}}`},
		{`"no"`, `{"data":"no","trace":{}}`},
		{`null`, `{"data":null,"trace":{}}`},
	} {
		b, err := json.Marshal(withTrace(json.RawMessage(c.data), rec))
		if err != nil {
			t.Fatal(err)
		}
		var got, want map[string]any
		_ = json.Unmarshal(b, &got)
		_ = json.Unmarshal([]byte(c.want), &want)
		got["trace"] = map[string]any{}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("data %s: got %s, want %s", c.data, b, c.want)
		}
	}
}

// TestTraceRecordsWithoutAllocating: once a socket's ring has gone round,
// recording a decision allocates nothing more than the chain does with
// tracing off.
func TestTraceRecordsWithoutAllocating(t *testing.T) {
	h, rt := newTestHost(t)
	d := &Decision{Args: wire.Raw(`["X"]`), Rooms: []string{"lobby"}}
	rt.set("a", func(context.Context, *Envelope) (*Decision, error) { return d, nil })
	if err := h.Load(t.Context(), []Spec{spec("a", 0, HookEvent)}); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	run := func() {
		env := traceEnv(HookEvent, "s1", "chat")
		decideFor(h, ctx, env)
	}
	for range 2 * DefaultTracePerSocket {
		run()
	}
	on := testing.AllocsPerRun(200, run)
	if err := h.SetTrace(TraceOptions{PerSocket: -1}); err != nil {
		t.Fatal(err)
	}
	off := testing.AllocsPerRun(200, run)
	if on > off {
		t.Fatalf("%v allocations per decision traced, %v untraced", on, off)
	}
}

// FuzzTraceRecord: whatever a client's event name, a plugin's reason,
// rooms and data, a record keeps within its bound, cuts text at a
// character boundary, and gives back small values as they were.
func FuzzTraceRecord(f *testing.F) {
	f.Add("chat", "no", "lobby\x00room-2", `{"user":"ann"}`, "boom")
	f.Add(strings.Repeat("é", 100), strings.Repeat("r", 300), strings.Repeat("x\x00", 40), `"`+strings.Repeat("d", 300)+`"`, "")
	f.Add("", "", "", "", strings.Repeat("\xff", 200))
	f.Add("a\x00b", "\xe2\x80", "\x00", "[]", "e")
	f.Fuzz(func(t *testing.T, event, reason, rooms, data, errText string) {
		var list []string
		if rooms != "" {
			list = strings.Split(rooms, "\x00")
		}
		l := &loaded{ident: identify("p", "", "fake")}
		tb := traceBuf{hook: HookEvent}
		d := &Decision{Action: Deny, Reason: reason, Rooms: list, Join: list, SocketData: wire.Raw(data), Event: event}
		tb.add(l, OutcomeDeny, time.Millisecond, d, nil)
		if errText != "" {
			tb.add(l, OutcomeError, time.Millisecond, nil, errors.New(errText))
		}
		r := ring{id: "s", ns: "/", size: 1}
		r.write(slotEvent, event, &tb, d, nil)
		if arena, _ := r.view(0); len(arena) > traceRecordBytes {
			t.Fatalf("record keeps %d bytes", len(arena))
		}
		got := r.export(0)
		for _, s := range []string{got.Event, got.Reason, got.Steps[0].Reason} {
			if len(s) > traceMaxText {
				t.Fatalf("%d bytes kept of a text", len(s))
			}
		}
		if len(event) <= traceMaxText && got.Event != event && got.Event != "" {
			t.Fatalf("event %q kept as %q", event, got.Event)
		}
		if utf8.ValidString(event) && !utf8.ValidString(got.Event) {
			t.Fatalf("event %q cut into invalid UTF-8 %q", event, got.Event)
		}
		st := got.Steps[0]
		if st.Rooms != nil && !reflect.DeepEqual(st.Rooms, list) {
			t.Fatalf("rooms %q kept as %q", list, st.Rooms)
		}
		if st.Rooms == nil && list != nil && len(list) <= traceMaxRooms && len(rooms) <= traceMaxValue-traceMaxRooms && len(event)+len(reason) < 100 {
			t.Fatalf("small rooms %q left out", list)
		}
		if st.SocketData != nil && string(st.SocketData) != data {
			t.Fatalf("data %q kept as %q", data, st.SocketData)
		}
	})
}

// TestTraceRecoveredSocket: a socket that connection state recovery gives
// back (the same id, a new context) takes up the trace it had.
func TestTraceRecoveredSocket(t *testing.T) {
	h, rt := newTestHost(t)
	rt.set("a", func(context.Context, *Envelope) (*Decision, error) { return nil, nil })
	if err := h.Load(t.Context(), []Spec{spec("a", 0, HookConnect, HookEvent)}); err != nil {
		t.Fatal(err)
	}
	first, cancel := context.WithCancel(t.Context())
	decideFor(h, first, traceEnv(HookConnect, "s1", ""))
	cancel()
	waitNoLiveRing(t, h)
	back, cancel := context.WithCancel(t.Context())
	decideFor(h, back, traceEnv(HookConnect, "s1", ""))
	decideFor(h, back, traceEnv(HookEvent, "s1", "e"))
	cancel()
	waitNoLiveRing(t, h)
	if recs, _ := h.Trace("s1"); len(recs) != 3 {
		t.Fatalf("%d records, want the first connect's, the recovery's and the event's", len(recs))
	}
	h.tracer.mu.Lock()
	defer h.tracer.mu.Unlock()
	n := 0
	for _, r := range h.tracer.closed {
		if r != nil {
			n++
		}
	}
	if n != 1 || len(h.tracer.closedIdx) != 1 {
		t.Fatalf("the ring is kept %d times (%d indexed), want once", n, len(h.tracer.closedIdx))
	}
}

// TestTraceRecordLayout: a decision of one step writes one cache line of
// its record, besides its text, and a record stays at 168 bytes (a ring
// is written round, so each line a write touches has left the cache).
func TestTraceRecordLayout(t *testing.T) {
	var r record
	if end := unsafe.Offsetof(r.steps) + unsafe.Sizeof(r.steps[0]); end > 64 {
		t.Errorf("the header and first step end at byte %d, past the first 64", end)
	}
	if unsafe.Offsetof(r.text) < unsafe.Offsetof(r.steps) {
		t.Error("the text comes before the steps, between the header and the first step")
	}
	if n := unsafe.Sizeof(r); n > 168 {
		t.Errorf("a record is %d bytes, want at most 168", n)
	}
}

// A recorded step and record hold no pointer, so that every socket's ring
// is memory the collector does not scan (BenchmarkGCTraceRings).
func TestTraceStepHoldsNoPointer(t *testing.T) {
	var walk func(reflect.Type) bool
	walk = func(ty reflect.Type) bool {
		switch ty.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.String, reflect.Map, reflect.Chan, reflect.Func, reflect.Interface, reflect.UnsafePointer:
			return true
		case reflect.Struct:
			for i := range ty.NumField() {
				if walk(ty.Field(i).Type) {
					return true
				}
			}
		case reflect.Array:
			return walk(ty.Elem())
		}
		return false
	}
	if walk(reflect.TypeFor[step]()) {
		t.Fatal("trace step holds a pointer")
	}
	if walk(reflect.TypeFor[record]()) {
		t.Fatal("trace record holds a pointer")
	}
	// And identities read back as they were given.
	id := identify("p", "v1", "js")
	if w := id.ident(); w.name != "p" || w.version != "v1" || w.runtime != "js" || identify("p", "v1", "js") != id {
		t.Fatalf("identity %d reads %+v", id, w)
	}
}

// A record whose steps or text do not fit in it spills them into its
// ring, by slot; writing the slot again, or adding a shadow's step,
// moves them between the record and the spill, and every record reads
// back as written.
func TestTraceRecordSpill(t *testing.T) {
	l := &loaded{ident: identify("p", "v", "fake")}
	r := &ring{id: "s", ns: "/", size: 2}
	write := func(event, reason string, steps int) {
		t.Helper()
		tb := traceBuf{hook: HookEvent}
		for range steps {
			tb.add(l, OutcomeDeny, time.Millisecond, &Decision{Action: Deny, Reason: reason}, nil)
		}
		r.write(slotEvent, event, &tb, &Decision{Action: Deny, Reason: reason}, nil)
	}
	check := func(wantSpill int, want ...string) {
		t.Helper()
		recs := r.records()
		if len(recs) != len(want) || len(r.spill) != wantSpill {
			t.Fatalf("%d records, %d spilled; want %d, %d", len(recs), len(r.spill), len(want), wantSpill)
		}
		for i, rec := range recs {
			got := fmt.Sprintf("%s/%s/%d", rec.Event, rec.Reason, len(rec.Steps))
			if got != want[i] {
				t.Errorf("record %d: %s, want %s", i, got, want[i])
			}
			for _, st := range rec.Steps {
				if st.Plugin != "p" || st.Reason != rec.Reason {
					t.Errorf("record %d step %+v", i, st)
				}
			}
		}
	}
	long := strings.Repeat("r", 100)
	write("a", "no", 1)
	write("b", long, 1) // text over recordText
	check(1, "a/no/1", "b/"+long+"/1")
	write("c", "no", 3) // steps over recordSteps, into slot 0
	check(2, "b/"+long+"/1", "c/no/3")
	write("d", "no", 1) // slot 1 fits again
	check(1, "c/no/3", "d/no/1")
	write("e", "no", 2) // slot 0 fits again
	check(0, "d/no/1", "e/no/2")
	// A shadow's step on a full record spills it.
	r.addShadow(r.n-1, l.ident, OutcomeDeny, time.Millisecond, &Decision{Action: Deny, Reason: "no"}, nil, ShadowAgree)
	check(1, "d/no/1", "e/no/3")
}
