package host

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hubd/hubd/sdk/wire"
)

// Shadow plugins: a plugin whose manifest names another in "shadow" is
// called on the envelopes that live plugin sees, after the live decision
// is taken, by workers of its own behind a bounded queue. Its decisions
// are compared with the live plugin's and counted, the divergences kept
// in a ring, and neither changes what clients get. PromoteShadow (or the
// manifest losing its shadow field) makes it live in place of the plugin
// it shadowed.

// Bounds of the shadow machinery.
const (
	// shadowQueue bounds the comparisons waiting for one shadow's
	// workers; past it they are dropped and counted.
	shadowQueue = 1024
	// shadowQueueBytes bounds the bytes of the envelopes waiting for one
	// shadow's workers.
	shadowQueueBytes = 8 << 20
	// shadowWorkers is how many calls one shadow runs at once.
	shadowWorkers = 2
	// shadowDivergences is how many divergences a host keeps, the
	// latest.
	shadowDivergences = 256
	// shadowMaxJSON bounds each JSON value a kept divergence holds (the
	// envelope, each decision); a larger one is left out, Cut says so.
	shadowMaxJSON = 4096
)

// ShadowResult is how a shadow's decision compared with the live one.
type ShadowResult uint8

// The results. A decision that differs in several ways counts once, as
// the first of action, transform, route, reply, data, reason.
const (
	ShadowAgree     ShadowResult = iota // the same decision
	ShadowAction                        // another action (allow vs deny, drop, reply, disconnect)
	ShadowTransform                     // another event name or args
	ShadowRoute                         // other rooms (event route or rooms joined), except or to_sender
	ShadowReply                         // another reply to the client's ack
	ShadowData                          // other socket_data or join
	ShadowReason                        // another reason or data of a refusal
	ShadowError                         // the shadow threw, trapped or returned garbage
	ShadowTimeout                       // the shadow ran out of its timeout
	ShadowDropped                       // the shadow's queue was full: not compared
	shadowResultCount
)

var shadowResultNames = [shadowResultCount]string{"agree", "action", "transform", "route", "reply", "data", "reason", "shadow_error", "shadow_timeout", "dropped"}

func (r ShadowResult) String() string {
	if r >= shadowResultCount {
		return "ShadowResult(" + strconv.Itoa(int(r)) + ")"
	}
	return shadowResultNames[r]
}

// MarshalText writes the result's name.
func (r ShadowResult) MarshalText() ([]byte, error) {
	if r >= shadowResultCount {
		return nil, fmt.Errorf("host: no shadow result %d", r)
	}
	return []byte(shadowResultNames[r]), nil
}

// UnmarshalText reads a result's name.
func (r *ShadowResult) UnmarshalText(b []byte) error {
	for i, name := range shadowResultNames {
		if string(b) == name {
			*r = ShadowResult(i)
			return nil
		}
	}
	return fmt.Errorf("host: unknown shadow result %q", b)
}

// ShadowResults returns the name of every result, in order, as
// ShadowStats counts them.
func ShadowResults() []string { return slices.Clone(shadowResultNames[:]) }

// ShadowStats are the counters of one shadow plugin.
type ShadowStats struct {
	// Shadow is the shadow plugin's name, Plugin the live plugin's.
	Shadow  string `json:"shadow"`
	Plugin  string `json:"plugin"`
	Runtime string `json:"runtime"`
	Version string `json:"version,omitempty"`
	// Live reports whether the plugin it shadows is loaded: without it
	// the shadow is never called.
	Live bool `json:"live"`
	// Results counts the comparisons by result name (every name of
	// ShadowResults, zeros included).
	Results map[string]uint64 `json:"results"`
	// Pending is how many calls wait for the shadow's workers or run on
	// them; their results are not counted yet.
	Pending int `json:"pending"`
}

// ShadowDivergence is one decision of a shadow that differed from the live
// one, or a call of it that failed.
type ShadowDivergence struct {
	Time      time.Time    `json:"time"`
	Shadow    string       `json:"shadow"`
	Plugin    string       `json:"plugin"`
	Hook      Hook         `json:"hook"`
	Namespace string       `json:"namespace"`
	Socket    string       `json:"socket"`
	Event     string       `json:"event,omitempty"`
	Result    ShadowResult `json:"result"`
	// Kinds lists every way the decisions differ (action, transform,
	// route, reply, data, reason).
	Kinds []string `json:"kinds,omitempty"`
	// LiveDecision is what the live plugin decided (its failure policy's
	// answer when it failed: LiveError says why); ShadowDecision is the
	// shadow's, absent when it failed (ShadowError).
	LiveDecision   json.RawMessage `json:"live_decision,omitempty"`
	LiveError      string          `json:"live_error,omitempty"`
	ShadowDecision json.RawMessage `json:"shadow_decision,omitempty"`
	ShadowError    string          `json:"shadow_error,omitempty"`
	// Envelope is what both were given, the handshake's auth and its
	// authorization and cookie headers redacted.
	Envelope json.RawMessage `json:"envelope,omitempty"`
	// Cut reports that a value above was left out for its size (4 KiB
	// each at most).
	Cut bool `json:"cut,omitempty"`
}

// ErrNoShadow is returned by PromoteShadow for a name that is no loaded
// shadow plugin.
var ErrNoShadow = errors.New("host: no such shadow plugin")

// shadowRunner runs one shadow plugin's calls off the hot path.
type shadowRunner struct {
	l       *loaded // the shadow
	log     *shadowLog
	jobs    chan *shadowJob
	bytes   atomic.Int64 // of the envelopes queued
	pending atomic.Int64 // calls queued or running
	counts  [shadowResultCount]atomic.Uint64
	ctx     context.Context
	cancel  context.CancelFunc
	started sync.Once
}

func newShadowRunner(l *loaded, log *shadowLog) *shadowRunner {
	ctx, cancel := context.WithCancel(context.Background())
	return &shadowRunner{l: l, log: log, jobs: make(chan *shadowJob, shadowQueue), ctx: ctx, cancel: cancel}
}

// stop ends the workers; queued calls are dropped, a call running is
// abandoned. The plugin itself is not closed.
func (r *shadowRunner) stop() { r.cancel() }

// shadowJob is one comparison to make.
type shadowJob struct {
	run     *shadowRunner
	live    identID
	env     *Envelope // a copy, shared by the shadows of one call
	size    int64
	at      time.Time
	liveD   Decision
	liveErr error
	// ring and seq locate the trace record to add the shadow's step to.
	ring *ring
	seq  uint64
}

// enqueue hands j to the workers, or drops and counts it when they are
// behind.
func (r *shadowRunner) enqueue(j *shadowJob) {
	if r.ctx.Err() != nil {
		return
	}
	r.started.Do(func() {
		for range shadowWorkers {
			go r.work()
		}
	})
	if r.bytes.Add(j.size) > shadowQueueBytes {
		r.bytes.Add(-j.size)
		r.counts[ShadowDropped].Add(1)
		return
	}
	r.pending.Add(1)
	select {
	case r.jobs <- j:
	default:
		r.pending.Add(-1)
		r.bytes.Add(-j.size)
		r.counts[ShadowDropped].Add(1)
	}
}

func (r *shadowRunner) work() {
	for {
		select {
		case <-r.ctx.Done():
			return
		case j := <-r.jobs:
			r.bytes.Add(-j.size)
			r.call(j)
		}
	}
}

// call runs the shadow on j's envelope and records how it compares.
func (r *shadowRunner) call(j *shadowJob) {
	l := r.l
	env := j.env // the runtimes only read it
	start := time.Now()
	d, err := handleBy(l.p, r.ctx, start.Add(time.Duration(l.m.Timeout)), env)
	took := time.Since(start)
	if err == nil && d != nil {
		err = CheckDecision(d)
		if err == nil && env.Hook == HookEvent {
			err = checkPlaceholders(d, len(env.Attachments))
		}
	}
	if r.ctx.Err() != nil {
		r.pending.Add(-1)
		return // retired meanwhile
	}
	if d == nil {
		d = &allowUnchanged
	}
	var res ShadowResult
	var kinds uint16
	verdict := outcome(d)
	switch {
	case errors.Is(err, ErrTimeout):
		res, verdict = ShadowTimeout, OutcomeTimeout
	case err != nil:
		res, verdict = ShadowError, OutcomeError
	default:
		kinds = compareDecisions(&j.liveD, d)
		res = primaryKind(kinds)
	}
	if j.ring != nil {
		var sd *Decision
		if err == nil {
			sd = d
		}
		j.ring.addShadow(j.seq, l.ident, verdict, took, sd, err, res)
	}
	if res != ShadowAgree {
		r.log.add(j, l.m.Name, res, kinds, d, err)
	}
	l.stats[slot(env.Hook)].observe(verdict, took) // the plugin's own counters, as if live
	r.counts[res].Add(1)                           // last but one: whoever sees the count sees the rest
	r.pending.Add(-1)
}

// Kinds of difference, as bits of ShadowResult values.
func kindBit(r ShadowResult) uint16 { return 1 << r }

// compareDecisions returns the ways b differs from a, as kindBit bits.
func compareDecisions(a, b *Decision) uint16 {
	var k uint16
	if actionOf(a) != actionOf(b) {
		k |= kindBit(ShadowAction)
	}
	if a.Event != b.Event || !jsonEqual(a.Args, b.Args) {
		k |= kindBit(ShadowTransform)
	}
	if !namesEqual(a.Rooms, b.Rooms) || !namesEqual(a.Except, b.Except) ||
		(a.ToSender == nil) != (b.ToSender == nil) || a.ToSender != nil && *a.ToSender != *b.ToSender {
		k |= kindBit(ShadowRoute)
	}
	if !jsonEqual(a.Reply, b.Reply) {
		k |= kindBit(ShadowReply)
	}
	if !jsonEqual(a.SocketData, b.SocketData) || !namesEqual(a.Join, b.Join) {
		k |= kindBit(ShadowData)
	}
	if a.Reason != b.Reason || !jsonEqual(a.Data, b.Data) {
		k |= kindBit(ShadowReason)
	}
	return k
}

func primaryKind(k uint16) ShadowResult {
	for r := ShadowAction; r <= ShadowReason; r++ {
		if k&kindBit(r) != 0 {
			return r
		}
	}
	return ShadowAgree
}

func kindNames(k uint16) []string {
	var out []string
	for r := ShadowAction; r <= ShadowReason; r++ {
		if k&kindBit(r) != 0 {
			out = append(out, shadowResultNames[r])
		}
	}
	return out
}

func actionOf(d *Decision) Action {
	if d.Action == "" {
		return Allow
	}
	return d.Action
}

// namesEqual compares two lists of names, an absent list (no change)
// differing from an empty one.
func namesEqual(a, b []string) bool {
	return (a == nil) == (b == nil) && slices.Equal(a, b)
}

// jsonEqual compares two JSON values by meaning: spacing and key order
// aside.
func jsonEqual(a, b wire.Raw) bool {
	a, b = bytes.TrimSpace(a), bytes.TrimSpace(b)
	if bytes.Equal(a, b) {
		return true
	}
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	va, errA := decodeJSON(a)
	vb, errB := decodeJSON(b)
	return errA == nil && errB == nil && reflect.DeepEqual(va, vb)
}

func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// shadowSet lists the shadows of each live plugin of a table.
type shadowSet map[*loaded][]*loaded

// shadowsOf pairs the shadows among plugins with the live plugins they
// shadow; nil when there are none.
func shadowsOf(plugins []*loaded) shadowSet {
	var set shadowSet
	for _, s := range plugins {
		if s.shadow == nil {
			continue
		}
		for _, l := range plugins {
			if l.shadow == nil && l.m.Name == s.m.Shadow {
				if set == nil {
					set = make(shadowSet)
				}
				set[l] = append(set[l], s)
			}
		}
	}
	return set
}

// shadow hands the call the live plugin l just answered to l's shadows
// (the envelope as l saw it, and l's decision d or failure err); with tb
// set (but for a revocation's chain), the jobs wait in it until the trace
// record is written.
func (t *table) shadow(l *loaded, hook Hook, env *Envelope, d *Decision, err error, tb *traceBuf) {
	shadows := t.shadows[l]
	var cp *Envelope
	var size int64
	for _, s := range shadows {
		if !s.m.handles(hook, env.Namespace, env.Event) {
			continue
		}
		if p := s.m.ShadowSample; p > 0 && p < 1 && rand.Float64() >= p {
			continue
		}
		if cp == nil {
			cp, size = copyEnvelope(env)
		}
		j := &shadowJob{run: s.shadow, live: l.ident, env: cp, size: size, at: time.Now(), liveErr: err}
		switch {
		case err != nil && l.m.failClosed(hook):
			j.liveD = unavailable
		case err != nil:
		case d != nil:
			j.liveD = *d
		}
		if tb != nil && !tb.revocation {
			tb.shadows = append(tb.shadows, j)
		} else { // no trace, or a revocation's, which hands no jobs on
			s.shadow.enqueue(j)
		}
	}
}

// dispatchShadows hands the jobs a chain left in tb to their shadows, the
// trace record (ring, seq) now written; ring is nil when none was.
func dispatchShadows(tb *traceBuf, r *ring, seq uint64) {
	for _, j := range tb.shadows {
		j.ring, j.seq = r, seq
		j.run.enqueue(j)
	}
}

// copyEnvelope copies env's header for the shadows, and tells the size of
// what it holds. The values are shared: the hooks and the chain replace an
// envelope's fields, never change the bytes or lists they hold.
func copyEnvelope(env *Envelope) (*Envelope, int64) {
	c := *env
	size := int64(512 + len(env.Args) + len(env.Socket.Data))
	for _, r := range env.Socket.Rooms {
		size += int64(len(r))
	}
	for _, r := range env.Rooms {
		size += int64(len(r))
	}
	for _, a := range env.Attachments {
		size += int64(len(a))
	}
	if env.Handshake != nil {
		size += int64(len(env.Handshake.Auth))
	}
	return &c, size
}

// shadowLog keeps a host's latest divergences.
type shadowLog struct {
	mu   sync.Mutex
	ring [shadowDivergences]ShadowDivergence
	n    uint64
}

// add records the divergence of job j: the shadow decided d (or failed
// with err), which compared as res with kinds.
func (g *shadowLog) add(j *shadowJob, shadow string, res ShadowResult, kinds uint16, d *Decision, err error) {
	v := ShadowDivergence{
		Time: j.at.UTC(), Shadow: shadow, Plugin: j.live.ident().name, Hook: j.env.Hook, Namespace: j.env.Namespace,
		Socket: j.env.Socket.ID, Event: j.env.Event, Result: res, Kinds: kindNames(kinds),
	}
	v.LiveDecision, v.Cut = boundedJSON(&j.liveD, v.Cut)
	if j.liveErr != nil {
		v.LiveError = cutText(j.liveErr.Error(), traceMaxText)
	}
	if err != nil {
		v.ShadowError = cutText(err.Error(), traceMaxText)
	} else {
		v.ShadowDecision, v.Cut = boundedJSON(d, v.Cut)
	}
	env := redactedEnvelope(j.env)
	if b := env.AppendJSON(nil); len(b) <= shadowMaxJSON {
		v.Envelope = b
	} else {
		v.Cut = true
		env.Args = nil // the arguments' size, mostly
		if b := env.AppendJSON(nil); len(b) <= shadowMaxJSON {
			v.Envelope = b
		}
	}
	g.mu.Lock()
	g.ring[g.n%shadowDivergences] = v
	g.n++
	g.mu.Unlock()
}

// list returns the kept divergences of shadow (all shadows when empty),
// newest first, at most limit of them (all when limit <= 0).
func (g *shadowLog) list(shadow string, limit int) []ShadowDivergence {
	g.mu.Lock()
	defer g.mu.Unlock()
	kept := min(g.n, shadowDivergences)
	out := []ShadowDivergence{}
	for i := range kept {
		v := g.ring[(g.n-1-i)%shadowDivergences]
		if shadow != "" && v.Shadow != shadow {
			continue
		}
		out = append(out, v)
		if limit > 0 && len(out) == limit {
			break
		}
	}
	return out
}

func boundedJSON(d *Decision, cut bool) (json.RawMessage, bool) {
	b, err := json.Marshal(d)
	if err != nil || len(b) > shadowMaxJSON {
		return nil, true
	}
	return b, cut
}

// cutText cuts s at limit bytes, at a character boundary, ending with
// "…".
func cutText(s string, limit int) string {
	var b recordBuf
	return spanText(b.arena, b.put(s, limit, true))
}

// redactedEnvelope is a copy of env without the handshake's auth and
// secret headers.
func redactedEnvelope(env *Envelope) Envelope {
	c := *env
	if hs := env.Handshake; hs != nil {
		h := *hs
		if len(h.Auth) > 0 {
			h.Auth = wire.Raw(strconv.Quote(Redacted))
		}
		h.Headers = make(map[string]string, len(hs.Headers))
		for k, v := range hs.Headers {
			switch strings.ToLower(k) {
			case "authorization", "cookie", "proxy-authorization":
				v = Redacted
			}
			h.Headers[k] = v
		}
		c.Handshake = &h
	}
	return c
}

// addShadow adds a shadow's step to the record written as seq, if the ring
// still holds it.
func (r *ring) addShadow(seq uint64, who identID, verdict Outcome, took time.Duration, d *Decision, err error, res ShadowResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if seq >= r.n || r.n-seq > uint64(len(r.recs)) || len(r.recs) == 0 {
		return
	}
	i := int(seq % uint64(r.size))
	b := r.open(i)
	b.addStep(step{who: who, latency: took, verdict: uint8(verdict), shadow: uint8(res) + 1}, d, err, true)
	r.store(i, b)
}

// ShadowStats returns the counters of every loaded shadow plugin, by
// name. A shadow's calls also count in Stats, under its own name, as a
// live plugin's do.
func (h *Host) ShadowStats() []ShadowStats {
	t := h.current.Load()
	out := []ShadowStats{}
	for _, l := range t.plugins {
		r := l.shadow
		if r == nil {
			continue
		}
		st := ShadowStats{Shadow: l.m.Name, Plugin: l.m.Shadow, Runtime: l.m.Runtime, Version: l.version,
			Results: make(map[string]uint64, shadowResultCount), Pending: int(r.pending.Load())}
		for i := range r.counts {
			st.Results[shadowResultNames[i]] = r.counts[i].Load()
		}
		for live, ss := range t.shadows {
			if slices.Contains(ss, l) && live != nil {
				st.Live = true
			}
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Shadow < out[j].Shadow })
	return out
}

// ShadowDivergences returns the latest divergences of shadow plugin
// shadow (of every shadow when empty), newest first, at most limit of
// them (all kept when limit <= 0). The host keeps the latest 256 of all
// its shadows together.
func (h *Host) ShadowDivergences(shadow string, limit int) []ShadowDivergence {
	return h.shadowLog.list(shadow, limit)
}

// PromoteShadow makes the shadow plugin name live in place of the plugin
// it shadows, which is retired: the chain tables are swapped at once, the
// calls in flight finish on the old ones, and no socket is dropped. The
// shadow is not reloaded: the runtime that ran it as a shadow runs it
// live.
//
// With plugins loaded from a directory, the promotion holds until the
// files of either plugin change; the lasting way is to drop the shadow's
// "shadow" field (and the old plugin's files), which a reload takes as
// the same promotion.
func (h *Host) PromoteShadow(name string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.current.Load()
	var s *loaded
	var names []string
	for _, l := range old.plugins {
		if l.shadow != nil {
			names = append(names, l.m.Name)
			if l.m.Name == name {
				s = l
			}
		}
	}
	if s == nil {
		if len(names) == 0 {
			return fmt.Errorf("%w: %q (none is loaded)", ErrNoShadow, name)
		}
		return fmt.Errorf("%w: %q (loaded: %s)", ErrNoShadow, name, strings.Join(names, ", "))
	}
	var live *loaded
	next := make([]*loaded, 0, len(old.plugins))
	for _, l := range old.plugins {
		switch {
		case l == s:
		case l.shadow == nil && l.m.Name == s.m.Shadow:
			live = l
		default:
			next = append(next, l)
		}
	}
	p := h.promoted(s)
	next = append(next, p)
	h.current.Store(newTable(next, h.logger))
	s.shadow.stop()
	if live != nil {
		h.rememberPromotion(live, p)
		h.retire([]*loaded{live})
	}
	h.logger.Info("shadow plugin promoted", "plugin", name, "retired", s.m.Shadow, "runtime", s.m.Runtime)
	return nil
}

// promoted is shadow s as a live plugin: the same runtime, a fresh chain
// record (counters, breaker).
func (h *Host) promoted(s *loaded) *loaded {
	m := s.m
	m.Shadow = ""
	p := newLoaded(m, s.p, &h.budgets)
	if s.version != "" {
		p.setVersion(s.version)
	}
	return p
}

// promotion is a live plugin retired for its shadow, as long as the files
// of both are the versions they were.
type promotion struct {
	version          string // the retired plugin's
	successor        string
	successorVersion string
}

// rememberPromotion notes that live was retired for successor, so that a
// directory reload does not bring it back while neither changed.
func (h *Host) rememberPromotion(live, successor *loaded) {
	if live.version == "" || successor.version == "" {
		return
	}
	if h.promotions == nil {
		h.promotions = make(map[string]promotion)
	}
	h.promotions[live.m.Name] = promotion{version: live.version, successor: successor.m.Name, successorVersion: successor.version}
}

// retiredByPromotion returns the plugins of list a promotion retired, and
// forgets the promotions whose plugins changed; h.mu is held.
func (h *Host) retiredByPromotion(list []found) map[string]bool {
	if len(h.promotions) == 0 {
		return nil
	}
	versions := make(map[string]string, len(list))
	for _, f := range list {
		if f.err == nil {
			versions[f.spec.Manifest.Name] = f.version
		}
	}
	skip := make(map[string]bool)
	for name, p := range h.promotions {
		if versions[name] == p.version && versions[p.successor] == p.successorVersion {
			skip[name] = true
		} else {
			delete(h.promotions, name)
		}
	}
	return skip
}

// promoteByFile retires, from the next table, each live plugin whose
// shadow in the old table is now live itself (its manifest lost its
// shadow field) while the plugin's files did not change; kept marks the
// plugins of next carried over from old. h.mu is held.
func (h *Host) promoteByFile(old *table, next []*loaded, kept map[*loaded]bool) []*loaded {
	shadowed := make(map[string]string) // shadow's name → live plugin's name
	for _, l := range old.plugins {
		if l.shadow != nil {
			shadowed[l.m.Name] = l.m.Shadow
		}
	}
	if len(shadowed) == 0 {
		return next
	}
	retire := make(map[string]*loaded)
	for _, l := range next {
		if kept[l] || l.shadow != nil {
			continue
		}
		if liveName, ok := shadowed[l.m.Name]; ok {
			for _, x := range next {
				if x.m.Name == liveName && kept[x] && x.shadow == nil {
					retire[liveName] = x
					h.rememberPromotion(x, l)
					h.logger.Info("shadow plugin promoted", "plugin", l.m.Name, "retired", liveName, "runtime", l.m.Runtime)
				}
			}
		}
	}
	if len(retire) == 0 {
		return next
	}
	out := next[:0]
	for _, l := range next {
		if retire[l.m.Name] == l {
			delete(kept, l)
			continue
		}
		out = append(out, l)
	}
	return out
}
