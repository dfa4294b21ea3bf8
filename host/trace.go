package host

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Decision traces: every connect, join, leave, event and disconnect
// decision the hooks take records which plugins the chain consulted and
// what each said, in a ring of the socket's latest decisions. The rings of
// closed sockets are kept for a while (the most recently closed ones), so
// that an operator can see why a socket was refused or cut.

// Bounds of the trace options.
const (
	// DefaultTracePerSocket is the default number of records a socket's
	// ring keeps.
	DefaultTracePerSocket = 32
	// MaxTracePerSocket is the most records a socket's ring may keep.
	MaxTracePerSocket = 1024
	// DefaultTraceClosedSockets is the default number of closed sockets
	// whose rings are kept.
	DefaultTraceClosedSockets = 1000
	// MaxTraceClosedSockets is the most closed sockets whose rings may be
	// kept.
	MaxTraceClosedSockets = 100_000
)

// Bounds of one record's values, so that a socket's ring holds at most
// about PerSocket × (168 + traceRecordBytes + chain length × 40) bytes
// whatever its client sends: the record, and the text and steps that do
// not fit it.
const (
	// traceMaxText bounds an event name or an error's message; a longer
	// one is cut at a character boundary and ends with "…".
	traceMaxText = 128
	// traceMaxValue bounds a changed value kept (rooms, join, socket_data,
	// a new event name); a larger one is named in Changed only.
	traceMaxValue = 256
	// traceMaxRooms bounds the room names of a list kept.
	traceMaxRooms = 16
	// traceRecordBytes bounds the bytes a record keeps of names, reasons
	// and values together; past it, further values are left out.
	traceRecordBytes = 1024
)

// TraceOptions configure decision traces (Host.SetTrace). The zero value
// is the default: tracing on, 32 records per socket, the rings of the
// last 1,000 closed sockets kept, no decision logged, none shown to
// clients.
type TraceOptions struct {
	// PerSocket is how many of a socket's latest decisions its ring keeps
	// (default DefaultTracePerSocket, at most MaxTracePerSocket); negative
	// turns tracing off.
	PerSocket int `json:"per_socket"`
	// ClosedSockets is how many closed sockets keep their ring, the most
	// recently closed first to stay (default DefaultTraceClosedSockets, at
	// most MaxTraceClosedSockets); negative keeps none.
	ClosedSockets int `json:"closed_sockets"`
	// Sample is the share of decisions whose trace is logged at info
	// level, every step included: 0 (the default) logs none, 1 every one.
	Sample float64 `json:"sample"`
	// ConnectError puts the trace of a refused connect into the client's
	// connect_error data, under "trace" (err.data.trace in
	// socket.io-client). Off by default: it tells a client which plugins
	// ran and why they refused. It needs tracing on (PerSocket not
	// negative).
	ConnectError bool `json:"connect_error"`
}

// Validate reports every problem of the options at once, joined in one
// error.
func (o TraceOptions) Validate() error {
	var errs []error
	if o.PerSocket > MaxTracePerSocket {
		errs = append(errs, fmt.Errorf("trace per_socket is %d: at most %d records per socket (negative turns tracing off)", o.PerSocket, MaxTracePerSocket))
	}
	if o.ClosedSockets > MaxTraceClosedSockets {
		errs = append(errs, fmt.Errorf("trace closed_sockets is %d: at most %d (negative keeps none)", o.ClosedSockets, MaxTraceClosedSockets))
	}
	if math.IsNaN(o.Sample) || o.Sample < 0 || o.Sample > 1 {
		errs = append(errs, fmt.Errorf("trace sample is %v: give a share of decisions between 0 and 1, e.g. 0.001", o.Sample))
	}
	return errors.Join(errs...)
}

// traceConfig is TraceOptions with the defaults filled in.
type traceConfig struct {
	perSocket    int // 0: off
	closed       int
	sample       float64
	connectError bool
}

func (o TraceOptions) config() *traceConfig {
	c := &traceConfig{perSocket: o.PerSocket, closed: o.ClosedSockets, sample: o.Sample, connectError: o.ConnectError}
	switch {
	case c.perSocket == 0:
		c.perSocket = DefaultTracePerSocket
	case c.perSocket < 0:
		c.perSocket = 0
	}
	switch {
	case c.closed == 0:
		c.closed = DefaultTraceClosedSockets
	case c.closed < 0:
		c.closed = 0
	}
	return c
}

// SetTrace configures decision traces; it returns o.Validate's error, and
// then changes nothing. The size of a socket's ring is the one set when
// its first decision was recorded; the closed sockets kept are trimmed to
// the new bound at once, the most recently closed staying.
func (h *Host) SetTrace(o TraceOptions) error {
	if err := o.Validate(); err != nil {
		return err
	}
	h.tracer.set(o.config())
	return nil
}

// Trace returns the decision trace of a socket, oldest record first: its
// latest decisions, up to TraceOptions.PerSocket of them, while it is
// connected and after it closed, as long as it is one of the
// TraceOptions.ClosedSockets most recently closed. It reports false for a
// socket it keeps no trace of. The records are copies.
func (h *Host) Trace(socketID string) ([]TraceRecord, bool) {
	r := h.tracer.find(socketID)
	if r == nil {
		return nil, false
	}
	return r.records(), true
}

// TraceRecord is one decision: the chain of one hook call for one socket.
type TraceRecord struct {
	Hook      Hook   `json:"hook"`
	Namespace string `json:"namespace"`
	Socket    string `json:"socket"`
	// Event is the event's name as the client sent it (event hook); one
	// longer than 128 bytes is cut and ends with "…".
	Event string `json:"event,omitempty"`
	// Time is when the chain started.
	Time time.Time `json:"time"`
	// Outcome is what the chain decided: allow, deny, drop, reply or
	// disconnect; Reason is the reason of the plugin that ended it.
	Outcome Action `json:"outcome"`
	Reason  string `json:"reason,omitempty"`
	// Steps are the plugins consulted, in chain order.
	Steps []TraceStep `json:"steps"`
	// Revocation marks a decision a revocation asked for (Revoker): the
	// socket's grant put to the hook again.
	Revocation bool `json:"revocation,omitempty"`
}

// TraceStep is one plugin's part in a decision.
type TraceStep struct {
	Plugin string `json:"plugin"`
	// Version is the content hash of a plugin loaded from a directory.
	Version string `json:"version,omitempty"`
	Runtime string `json:"runtime"`
	// Verdict is the plugin's answer (allow, deny, drop, reply,
	// disconnect) or why it gave none: error, timeout, circuit_open,
	// socket_backoff (the socket's own calls kept failing), abandoned
	// (the socket went during the call), rejected_input (the envelope
	// nested too deep to be sent).
	Verdict Outcome `json:"verdict"`
	// Policy is the failure policy that answered when the plugin gave no
	// answer: "deny" ended the chain, "allow" went on.
	Policy string `json:"policy,omitempty"`
	// Reason is the plugin's reason, or the error of a failed call (cut
	// at 128 bytes).
	Reason string `json:"reason,omitempty"`
	// Latency is how long the call took.
	Latency Duration `json:"latency"`
	// Changed names the decision's fields the plugin set: event, args,
	// rooms, except, to_sender, reply, socket_data, join. Event, Rooms,
	// Join and SocketData hold the new value when it is small (a list
	// of at most 16 names, at most 256 bytes); only named when larger.
	Changed    []string        `json:"changed,omitempty"`
	Event      string          `json:"event,omitempty"`
	Rooms      []string        `json:"rooms,omitzero"`
	Join       []string        `json:"join,omitzero"`
	SocketData json.RawMessage `json:"socket_data,omitzero"`
	// Shadow marks the step of a shadow plugin (Manifest.Shadow), which
	// took no part in the outcome: it ran after the decision was taken,
	// and Compared says how its decision compared with the live plugin's
	// (a ShadowResult: agree, action, transform, ...).
	Shadow   bool   `json:"shadow,omitempty"`
	Compared string `json:"compared,omitempty"`
}

// String is the step in one line, as a sampled trace logs it with a text
// handler.
func (s TraceStep) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s@%s %s", s.Plugin, s.Runtime, s.Verdict)
	if s.Policy != "" {
		fmt.Fprintf(&b, " (policy %s)", s.Policy)
	}
	if s.Reason != "" {
		fmt.Fprintf(&b, " %q", s.Reason)
	}
	fmt.Fprintf(&b, " %v", time.Duration(s.Latency))
	if len(s.Changed) > 0 {
		fmt.Fprintf(&b, " changed %s", strings.Join(s.Changed, ","))
	}
	return b.String()
}

// traceSteps are steps as a sampled trace logs them: one line each with a
// text handler, their JSON with a JSON handler.
type traceSteps []TraceStep

func (s traceSteps) String() string {
	parts := make([]string, len(s))
	for i, st := range s {
		parts[i] = st.String()
	}
	return strings.Join(parts, "; ")
}

// changeSet marks the fields a decision set.
type changeSet uint16

const (
	changedEvent changeSet = 1 << iota
	changedArgs
	changedRooms
	changedExcept
	changedToSender
	changedReply
	changedSocketData
	changedJoin
	changeCount = iota
)

var changeNames = [changeCount]string{"event", "args", "rooms", "except", "to_sender", "reply", "socket_data", "join"}

func changes(d *Decision) changeSet {
	var c changeSet
	if d.Event != "" {
		c |= changedEvent
	}
	if d.Args != nil {
		c |= changedArgs
	}
	if d.Rooms != nil {
		c |= changedRooms
	}
	if d.Except != nil {
		c |= changedExcept
	}
	if d.ToSender != nil {
		c |= changedToSender
	}
	if d.Reply != nil {
		c |= changedReply
	}
	if d.SocketData != nil {
		c |= changedSocketData
	}
	if d.Join != nil {
		c |= changedJoin
	}
	return c
}

// pluginIdent is what a step says of its plugin, apart from the plugin
// itself so that a step does not keep a replaced plugin's runtime alive.
type pluginIdent struct {
	name, version, runtime string
}

// identID numbers a pluginIdent (identify), so that a recorded step holds
// no pointer: the steps in every socket's ring are then memory the
// collector does not scan.
type identID uint32

// identities interns the plugin identities that steps name. Entries are
// never removed: there is one per plugin name, version and runtime ever
// loaded, so reloading the same version adds none.
var identities = struct {
	mu   sync.RWMutex
	list []pluginIdent
	ids  map[pluginIdent]identID
}{ids: map[pluginIdent]identID{}}

// identify returns the number of a plugin identity.
func identify(name, version, runtime string) identID {
	k := pluginIdent{name: name, version: version, runtime: runtime}
	identities.mu.RLock()
	id, ok := identities.ids[k]
	identities.mu.RUnlock()
	if ok {
		return id
	}
	identities.mu.Lock()
	defer identities.mu.Unlock()
	if id, ok := identities.ids[k]; ok {
		return id
	}
	id = identID(len(identities.list))
	identities.list = append(identities.list, k)
	identities.ids[k] = id
	return id
}

// ident returns the identity numbered id.
func (id identID) ident() pluginIdent {
	identities.mu.RLock()
	defer identities.mu.RUnlock()
	return identities.list[id]
}

// traceBuf gathers the steps of one chain as it runs; the hooks keep it
// on their stack and copy it into the socket's ring afterwards.
type traceBuf struct {
	hook       Hook // set by the chain
	revocation bool // the chain re-decides a grant for a revocation
	start      time.Time
	n          int
	inline     [4]pendingStep
	more       []pendingStep
	// shadows are the calls for shadow plugins the chain made, handed to
	// them once the record is written (their steps go into it).
	shadows []*shadowJob
}

// pendingStep is a step before it is recorded: the decision and error are
// read when it is.
type pendingStep struct {
	who        identID
	verdict    Outcome
	failClosed bool
	took       time.Duration
	d          *Decision // the plugin's decision; nil when it gave none
	err        error     // the failed call's error
}

// add appends a step; a nil buffer (tracing off) takes nothing.
func (b *traceBuf) add(l *loaded, o Outcome, took time.Duration, d *Decision, err error) {
	if b == nil {
		return
	}
	s := pendingStep{who: l.ident, verdict: o, took: took, d: d, err: err}
	switch o {
	case OutcomeError, OutcomeTimeout, OutcomeCircuitOpen, OutcomeSocketBackoff, OutcomeRejectedInput:
		s.failClosed = l.m.failClosed(b.hook)
	}
	if b.n < len(b.inline) {
		b.inline[b.n] = s
	} else {
		b.more = append(b.more, s)
	}
	b.n++
}

func (b *traceBuf) step(i int) *pendingStep {
	if i < len(b.inline) {
		return &b.inline[i]
	}
	return &b.more[i-len(b.inline)]
}

// span is a piece of a record's text, which is at most traceRecordBytes
// long.
type span struct{ off, n uint16 }

var _ = uint16(traceRecordBytes) // a span reaches every byte of a record's text

// record is one decision in a socket's ring. It holds no pointer, so that
// the rings of many sockets are memory the collector does not scan: a
// decision of up to recordSteps steps and recordText bytes of text (most
// of them) is kept in the record itself, a larger one in its ring's
// spill, by slot.
//
// A record is 168 bytes, its fields ordered so that a decision of one step
// writes the first 64 bytes and its text after the steps: recording a
// decision writes to memory that has long left the cache (the ring of
// each socket is written round), and every line it touches counts.
type record struct {
	at      int64 // unix nanoseconds
	event   span
	reason  span
	hook    uint8 // slot of hookIndex
	outcome uint8 // an Outcome
	revoked bool  // a revocation's decision
	spilled bool  // the steps and text are in the ring's spill
	nsteps  uint8
	ntext   uint16
	steps   [recordSteps]step
	text    [recordText]byte
}

const (
	recordSteps = 2
	recordText  = 64
)

// recordBuf is a record's steps and text as they are written (in the
// record's own arrays until they outgrow them), and a larger record's
// spill.
type recordBuf struct {
	arena []byte
	steps []step
}

// step is one plugin's part in a recorded decision.
type step struct {
	latency    time.Duration
	who        identID
	verdict    uint8 // an Outcome
	failClosed bool
	changed    changeSet
	reason     span
	event      span
	rooms      span // uvarint-prefixed names
	join       span
	data       span
	shadow     uint8 // 0 for a live plugin's step, else 1 + its ShadowResult
}

// put copies s into the arena, cut at limit bytes (at a character
// boundary, ending with "…") when cut, or left out when longer and not
// cut; nothing is kept past traceRecordBytes.
func (r *recordBuf) put(s string, limit int, cut bool) span {
	if len(s) > limit {
		if !cut {
			return span{}
		}
		i := limit - len("…")
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		return r.put2(s[:i], "…")
	}
	return r.put2(s, "")
}

func (r *recordBuf) put2(a, b string) span {
	n := len(a) + len(b)
	if n == 0 || len(r.arena)+n > traceRecordBytes {
		return span{}
	}
	off := len(r.arena)
	r.arena = append(r.arena, a...)
	r.arena = append(r.arena, b...)
	return span{uint16(off), uint16(n)}
}

// putList copies a small list of names into the arena, their count then
// each prefixed by its length; a larger list is left out.
func (r *recordBuf) putList(list []string) span {
	if len(list) > traceMaxRooms {
		return span{}
	}
	names, n := 0, 1
	for _, s := range list {
		names += len(s)
		n += binary.MaxVarintLen32 + len(s)
	}
	if names > traceMaxValue || len(r.arena)+n > traceRecordBytes {
		return span{}
	}
	off := len(r.arena)
	r.arena = append(r.arena, byte(len(list))) // at most traceMaxRooms
	for _, s := range list {
		r.arena = binary.AppendUvarint(r.arena, uint64(len(s)))
		r.arena = append(r.arena, s...)
	}
	return span{uint16(off), uint16(len(r.arena) - off)}
}

func spanText(arena []byte, s span) string { return string(arena[int(s.off) : int(s.off)+int(s.n)]) }

func spanList(arena []byte, s span) []string {
	if s.n == 0 {
		return nil
	}
	b := arena[int(s.off) : int(s.off)+int(s.n)]
	out := make([]string, b[0])
	b = b[1:]
	for i := range out {
		n, k := binary.Uvarint(b)
		out[i] = string(b[k : k+int(n)])
		b = b[k+int(n):]
	}
	return out
}

// fill records the chain of tb, which ended with d, in r and, its steps
// and text, in b.
func (r *record) fill(b *recordBuf, hook int, event string, tb *traceBuf, d *Decision) {
	start := tb.start
	if start.IsZero() {
		start = time.Now()
	}
	r.at = start.UnixNano()
	r.hook = uint8(hook)
	r.outcome = uint8(outcome(d))
	r.revoked = tb.revocation
	r.event = b.put(event, traceMaxText, true)
	r.reason = b.put(d.Reason, traceMaxText, true)
	for i := range tb.n {
		p := tb.step(i)
		b.addStep(step{who: p.who, latency: p.took, verdict: uint8(p.verdict), failClosed: p.failClosed}, p.d, p.err, p.verdict != OutcomeAbandoned)
	}
}

// addStep appends s, with what it says of decision d or error err (the
// error's text when withErr), to b.
func (b *recordBuf) addStep(s step, d *Decision, err error, withErr bool) {
	switch {
	case err != nil:
		if withErr {
			s.reason = b.put(err.Error(), traceMaxText, true)
		}
	case d != nil:
		s.reason = b.put(d.Reason, traceMaxText, true)
		s.changed = changes(d)
		s.event = b.put(d.Event, traceMaxValue, false)
		if d.Rooms != nil {
			s.rooms = b.putList(d.Rooms)
		}
		if d.Join != nil {
			s.join = b.putList(d.Join)
		}
		if len(d.SocketData) <= traceMaxValue {
			s.data = b.put2(string(d.SocketData), "")
		}
	}
	b.steps = append(b.steps, s)
}

// export is the record in slot i as callers see it.
func (rg *ring) export(i int) TraceRecord {
	r := &rg.recs[i]
	arena, steps := rg.view(i)
	out := TraceRecord{
		Hook: hookIndex[r.hook], Namespace: rg.ns, Socket: rg.id, Event: spanText(arena, r.event),
		Time: time.Unix(0, r.at).UTC(), Outcome: outcomeAction[r.outcome], Reason: spanText(arena, r.reason),
		Steps: make([]TraceStep, len(steps)), Revocation: r.revoked,
	}
	for i, s := range steps {
		who := s.who.ident()
		st := TraceStep{
			Plugin: who.name, Version: who.version, Runtime: who.runtime,
			Verdict: Outcome(s.verdict), Reason: spanText(arena, s.reason), Latency: Duration(s.latency),
			Event: spanText(arena, s.event), Rooms: spanList(arena, s.rooms), Join: spanList(arena, s.join),
		}
		switch Outcome(s.verdict) {
		case OutcomeError, OutcomeTimeout, OutcomeCircuitOpen, OutcomeSocketBackoff, OutcomeRejectedInput:
			st.Policy = "allow"
			if s.failClosed {
				st.Policy = "deny"
			}
		}
		for b := range changeCount {
			if s.changed&(1<<b) != 0 {
				st.Changed = append(st.Changed, changeNames[b])
			}
		}
		if s.data.n > 0 {
			st.SocketData = json.RawMessage(spanText(arena, s.data))
		}
		if s.shadow > 0 {
			st.Shadow, st.Compared = true, ShadowResult(s.shadow-1).String()
		}
		out.Steps[i] = st
	}
	return out
}

// outcomeAction is the action of a chain's outcome.
var outcomeAction = [...]Action{OutcomeAllow: Allow, OutcomeDeny: Deny, OutcomeDrop: Drop, OutcomeReply: Reply, OutcomeDisconnect: Disconnect}

// ring is a socket's latest decisions.
type ring struct {
	id, ns string
	size   int
	mu     sync.Mutex
	recs   []record // grows to size, then is written round
	n      uint64   // records written
	// spill holds the steps and text of the records too large to hold
	// them, by slot.
	spill map[int]*recordBuf
	// life is the Done channel of the socket life the live ring belongs
	// to: a socket that connection state recovery gave back takes the
	// ring over from its earlier life, whose end must then not close it.
	// Set under tracer.mu.
	life atomic.Pointer[<-chan struct{}]
}

// view returns the text and steps of the record in slot i.
func (r *ring) view(i int) ([]byte, []step) {
	b := r.open(i)
	return b.arena, b.steps
}

// open returns the text and steps of the record in slot i as a buffer to
// add to: the record's own arrays, capped at their size, so that what
// outgrows them moves to the heap as it is appended.
func (r *ring) open(i int) recordBuf {
	rec := &r.recs[i]
	if rec.spilled {
		return *r.spill[i]
	}
	return recordBuf{arena: rec.text[:rec.ntext:recordText], steps: rec.steps[:rec.nsteps:recordSteps]}
}

// store ends the writing of the record in slot i, opened as b: in the
// record when b is still in its arrays, else in the ring's spill.
func (r *ring) store(i int, b recordBuf) {
	rec := &r.recs[i]
	inText := &b.arena[:1][0] == &rec.text[0]
	inSteps := &b.steps[:1][0] == &rec.steps[0]
	if inText && inSteps {
		rec.spilled, rec.ntext, rec.nsteps = false, uint16(len(b.arena)), uint8(len(b.steps))
		delete(r.spill, i)
		return
	}
	sp := &recordBuf{arena: b.arena, steps: b.steps}
	if inText {
		sp.arena = slices.Clone(b.arena)
	}
	if inSteps {
		sp.steps = slices.Clone(b.steps)
	}
	if r.spill == nil {
		r.spill = make(map[int]*recordBuf)
	}
	r.spill[i] = sp
	rec.spilled = true
}

// write records the chain of tb in the ring's oldest slot and returns the
// record's sequence number; with show set it also returns the record as
// callers see it.
func (r *ring) write(hook int, event string, tb *traceBuf, d *Decision, show *TraceRecord) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := int(r.n % uint64(r.size))
	if len(r.recs) < r.size {
		r.recs = append(r.recs, record{})
		i = len(r.recs) - 1
	}
	r.n++
	rec := &r.recs[i]
	b := recordBuf{arena: rec.text[:0:recordText], steps: rec.steps[:0:recordSteps]}
	rec.fill(&b, hook, event, tb, d)
	r.store(i, b)
	if show != nil {
		*show = r.export(i)
	}
	return r.n - 1
}

// records returns copies of the ring's records, oldest first.
func (r *ring) records() []TraceRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]TraceRecord, 0, len(r.recs))
	first := 0
	if len(r.recs) == r.size {
		first = int(r.n % uint64(r.size))
	}
	for i := range r.recs {
		out = append(out, r.export((first+i)%len(r.recs)))
	}
	return out
}

// tracer keeps the rings of the host's sockets: those of connected
// sockets by id, and those of the most recently closed ones in a FIFO.
type tracer struct {
	logger *slog.Logger
	cfg    atomic.Pointer[traceConfig]
	live   sync.Map // socket id → *ring

	mu         sync.Mutex // guards moving rings from live to closed, and closed
	closed     []*ring    // a circle of cfg.closed entries, oldest at closedNext
	closedNext int
	closedIdx  map[string]*ring
}

func newTracer(logger *slog.Logger) *tracer {
	t := &tracer{logger: logger, closedIdx: make(map[string]*ring)}
	t.set(TraceOptions{}.config())
	return t
}

// set applies a configuration, trimming the closed rings to its bound.
func (t *tracer) set(c *traceConfig) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cfg.Store(c)
	if c.closed == len(t.closed) {
		return
	}
	// Oldest first, so that the newest stay.
	var kept []*ring
	for i := range t.closed {
		if r := t.closed[(t.closedNext+i)%len(t.closed)]; r != nil {
			kept = append(kept, r)
		}
	}
	if len(kept) > c.closed {
		for _, r := range kept[:len(kept)-c.closed] {
			if t.closedIdx[r.id] == r {
				delete(t.closedIdx, r.id)
			}
		}
		kept = kept[len(kept)-c.closed:]
	}
	t.closed = make([]*ring, c.closed)
	copy(t.closed, kept)
	t.closedNext = len(kept) % max(c.closed, 1)
}

// on returns the configuration when tracing is on, else nil.
func (t *tracer) on() *traceConfig {
	if c := t.cfg.Load(); c.perSocket > 0 {
		return c
	}
	return nil
}

// find returns the ring of socket id, connected or closed.
func (t *tracer) find(id string) *ring {
	if r, ok := t.live.Load(id); ok {
		return r.(*ring)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closedIdx[id]
}

// ring returns the ring of socket id in namespace ns, whose life is
// sockCtx, making it on the socket's first decision. A socket that
// connection state recovery gave back takes up the ring it had, even
// while its earlier life's end is still being handled; one that is
// already gone gets its ring among the closed ones.
func (t *tracer) ring(c *traceConfig, id, ns string, sockCtx context.Context) *ring {
	if v, ok := t.live.Load(id); ok {
		if r := v.(*ring); *r.life.Load() == sockCtx.Done() || sockCtx.Err() != nil {
			return r
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if v, ok := t.live.Load(id); ok {
		r := v.(*ring)
		if *r.life.Load() != sockCtx.Done() && sockCtx.Err() == nil {
			t.bind(r, sockCtx) // a new life of the socket
		}
		return r // made meanwhile, or its socket's end is being handled
	}
	r := t.closedIdx[id]
	if sockCtx.Err() != nil {
		if r == nil {
			r = &ring{id: id, ns: ns, size: c.perSocket}
			t.keepClosed(r)
		}
		return r
	}
	if r != nil {
		t.unkeep(r)
	} else {
		r = &ring{id: id, ns: ns, size: c.perSocket}
	}
	t.bind(r, sockCtx) // before r is seen live: readers load its life
	t.live.Store(id, r)
	return r
}

// bind makes sockCtx the life of the live ring r: its end closes r,
// unless a later life took r over by then; t.mu is held.
func (t *tracer) bind(r *ring, sockCtx context.Context) {
	done := sockCtx.Done()
	r.life.Store(&done)
	context.AfterFunc(sockCtx, func() { t.close(r, done) })
}

// unkeep takes r out of the closed rings; t.mu is held.
func (t *tracer) unkeep(r *ring) {
	delete(t.closedIdx, r.id)
	for i, x := range t.closed {
		if x == r {
			t.closed[i] = nil
		}
	}
}

// close moves the ring of a socket whose life (its Done channel) ended to
// the closed ones, unless a later life of the socket took it over.
func (t *tracer) close(r *ring, life <-chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if *r.life.Load() != life {
		return
	}
	t.live.CompareAndDelete(r.id, r)
	t.keepClosed(r)
}

// keepClosed adds r to the closed rings, forgetting the oldest one when
// they are as many as the bound; t.mu is held.
func (t *tracer) keepClosed(r *ring) {
	if len(t.closed) == 0 {
		return
	}
	if old := t.closed[t.closedNext]; old != nil && t.closedIdx[old.id] == old {
		delete(t.closedIdx, old.id)
	}
	t.closed[t.closedNext] = r
	t.closedIdx[r.id] = r
	t.closedNext = (t.closedNext + 1) % len(t.closed)
}

// record puts the decision d that the chain of tb took into the ring of
// socket id, logs it when sampled, and fills show, when not nil, with the
// record as callers see it. event is the event's name as the client sent
// it.
func (t *tracer) record(c *traceConfig, id, ns string, sockCtx context.Context, hook int, event string, tb *traceBuf, d *Decision, show *TraceRecord) {
	t.recordAt(c, id, ns, sockCtx, hook, event, tb, d, show)
}

// recordAt is record that returns the ring and the record's sequence
// number in it.
func (t *tracer) recordAt(c *traceConfig, id, ns string, sockCtx context.Context, hook int, event string, tb *traceBuf, d *Decision, show *TraceRecord) (*ring, uint64) {
	r := t.ring(c, id, ns, sockCtx)
	sampled := c.sample > 0 && rand.Float64() < c.sample
	if !sampled {
		return r, r.write(hook, event, tb, d, show)
	}
	var rec TraceRecord
	seq := r.write(hook, event, tb, d, &rec)
	if show != nil {
		*show = rec
	}
	t.logger.Info("decision trace", "hook", string(rec.Hook), "namespace", rec.Namespace, "socket", rec.Socket,
		"event", rec.Event, "outcome", string(rec.Outcome), "reason", rec.Reason, "steps", traceSteps(rec.Steps))
	return r, seq
}

// withTrace returns a refused connect's data with rec added as "trace":
// into the object data is, or around data when it is not an object.
func withTrace(data json.RawMessage, rec *TraceRecord) any {
	var obj map[string]json.RawMessage
	if len(data) > 0 && json.Unmarshal(data, &obj) == nil && obj != nil {
		out := make(map[string]any, len(obj)+1)
		for k, v := range obj {
			out[k] = v
		}
		out["trace"] = rec
		return out
	}
	if len(data) == 0 {
		return map[string]any{"trace": rec}
	}
	return map[string]any{"data": data, "trace": rec}
}
