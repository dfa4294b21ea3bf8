package host

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/hubd/hubd/sdk/wire"
)

// ErrTape is wrapped by the errors of a tape that cannot be read: not a
// tape, another version, a truncated or malformed record.
var ErrTape = errors.New("host: bad tape")

// TapeReader reads a tape, record by record.
type TapeReader struct {
	r      *bufio.Reader
	header TapeHeader
	line   int // lines read, the header included
}

// NewTapeReader reads a tape's header from r.
func NewTapeReader(r io.Reader) (*TapeReader, error) {
	t := &TapeReader{r: bufio.NewReaderSize(r, 64<<10)}
	b, err := t.next()
	if err == io.EOF {
		return nil, fmt.Errorf("%w: empty: a tape starts with a header line {\"hubd_tape\":%d,...}", ErrTape, TapeVersion)
	}
	if err != nil {
		return nil, err
	}
	var probe struct {
		Version *int `json:"hubd_tape"`
	}
	if json.Unmarshal(b, &probe) != nil || probe.Version == nil {
		return nil, fmt.Errorf("%w: line 1 is no tape header: a tape starts with {\"hubd_tape\":%d,...}", ErrTape, TapeVersion)
	}
	if *probe.Version != TapeVersion {
		return nil, fmt.Errorf("%w: tape version %d: this hubd reads version %d", ErrTape, *probe.Version, TapeVersion)
	}
	if err := json.Unmarshal(b, &t.header); err != nil {
		return nil, fmt.Errorf("%w: line 1: header: %v", ErrTape, err)
	}
	if err := t.header.Redact.validate(); len(err) > 0 {
		return nil, fmt.Errorf("%w: line 1: header: %v", ErrTape, errors.Join(err...))
	}
	return t, nil
}

// Header returns the tape's header.
func (t *TapeReader) Header() TapeHeader { return t.header }

// next returns the next line without its newline, at most
// MaxTapeRecordBytes long; io.EOF at the end.
func (t *TapeReader) next() ([]byte, error) {
	var buf []byte
	for {
		chunk, err := t.r.ReadSlice('\n')
		if len(buf)+len(chunk) > MaxTapeRecordBytes+1 {
			return nil, fmt.Errorf("%w: line %d is longer than %d bytes", ErrTape, t.line+1, MaxTapeRecordBytes)
		}
		buf = append(buf, chunk...)
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF:
			if len(buf) == 0 {
				return nil, io.EOF
			}
		case err != nil:
			return nil, fmt.Errorf("reading tape: %w", err)
		}
		t.line++
		return bytes.TrimSuffix(buf, []byte("\n")), nil
	}
}

// Next returns the next record, checked, and the envelope it holds; io.EOF
// after the last.
func (t *TapeReader) Next() (TapeRecord, *Envelope, error) {
	var rec TapeRecord
	b, err := t.next()
	if err != nil {
		return rec, nil, err
	}
	fail := func(format string, a ...any) (TapeRecord, *Envelope, error) {
		return rec, nil, fmt.Errorf("%w: line %d: "+format, append([]any{ErrTape, t.line}, a...)...)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return fail("truncated or malformed record: %v", err)
	}
	if !validHook(rec.Hook) {
		return fail("unknown hook %q", rec.Hook)
	}
	if len(rec.Envelope) == 0 {
		return fail("no envelope")
	}
	if len(rec.Attachments) > maxTapeAttachments {
		return fail("%d attachments: at most %d", len(rec.Attachments), maxTapeAttachments)
	}
	env := new(Envelope)
	if err := json.Unmarshal(rec.Envelope, env); err != nil {
		return fail("envelope: %v", err)
	}
	if env.Hook != rec.Hook {
		return fail("the envelope's hook %q is not the record's %q", env.Hook, rec.Hook)
	}
	if !isArray(env.Args) {
		return fail("envelope: args must be a JSON array")
	}
	env.Attachments = rec.Attachments
	if err := CheckDecision(&rec.Decision); err != nil {
		return fail("decision: %v", err)
	}
	if rec.Decision.Action == "" {
		rec.Decision.Action = Allow
	}
	return rec, env, nil
}

// Clock is the time and randomness a runtime gives its plugins in place
// of the system's: Date.now and Math.random in JavaScript, the WASI
// clocks and random_get in WebAssembly. A replay gives them a FixedClock.
type Clock interface {
	// Now is the wall clock.
	Now() time.Time
	// Nanotime is the monotonic clock, in nanoseconds.
	Nanotime() int64
	// Float64 is a random number in [0, 1).
	Float64() float64
	// Read fills p with random bytes.
	Read(p []byte) (int, error)
}

// FixedClock is a Clock that Replay sets for each record: the wall clock
// stands at the record's time, the monotonic clock moves a microsecond per
// reading from there, and the random numbers are drawn from a generator
// seeded with the record's index, so that replaying a tape twice gives
// every plugin the same times and numbers. It is safe for concurrent use.
type FixedClock struct {
	mu   sync.Mutex
	now  time.Time
	mono int64
	rng  *rand.ChaCha8
}

// NewFixedClock returns a clock standing at t, its generator seeded with
// seed.
func NewFixedClock(t time.Time, seed uint64) *FixedClock {
	c := &FixedClock{}
	c.Set(t, seed)
	return c
}

// Set moves the clock to t and reseeds its generator.
func (c *FixedClock) Set(t time.Time, seed uint64) {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	c.mu.Lock()
	c.now, c.mono, c.rng = t, t.UnixNano(), rand.NewChaCha8(s)
	c.mu.Unlock()
}

// Now returns the time the clock stands at.
func (c *FixedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Nanotime returns the monotonic time, a microsecond later at each call.
func (c *FixedClock) Nanotime() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mono += int64(time.Microsecond)
	return c.mono
}

// Float64 returns the generator's next number in [0, 1).
func (c *FixedClock) Float64() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return float64(c.rng.Uint64()>>11) / (1 << 53)
}

// Read fills p from the generator.
func (c *FixedClock) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rng.Read(p)
}

// ReplayOptions configure Replay.
type ReplayOptions struct {
	// Runtimes returns the runtimes to load the plugins with, which must
	// give their plugins clock (js.Runtime.Clock, wasm.WithClock); process
	// plugins keep their own clock. Required.
	Runtimes func(clock Clock) map[string]Runtime
	// Logger gets the plugins' logs and the host's; nil discards.
	Logger *slog.Logger
	// MaxDifferences bounds the differences listed in the report
	// (default 1000); the others are counted.
	MaxDifferences int
}

// Report is what a replay found.
type Report struct {
	Header TapeHeader `json:"header"`
	// Records is the number of records replayed.
	Records int `json:"records"`
	// Differ is the number of records whose decision differs.
	Differ int `json:"differ"`
	// Differences lists them, up to ReplayOptions.MaxDifferences.
	Differences []Difference `json:"differences"`
}

// Difference is a record whose decision came out differently.
type Difference struct {
	// Index is the record's, from 0 (the tape's line is Index+2).
	Index     int    `json:"index"`
	Hook      Hook   `json:"hook"`
	Namespace string `json:"ns"`
	Socket    string `json:"socket"`
	Event     string `json:"event,omitempty"`
	// Recorded is the tape's decision, Replayed the chain's now, both
	// redacted as the tape is.
	Recorded Decision `json:"recorded"`
	Replayed Decision `json:"replayed"`
}

// String is the difference in one line.
func (d Difference) String() string {
	what := string(d.Hook)
	if d.Event != "" {
		what += " " + d.Event
	}
	rec, _ := json.Marshal(d.Recorded)
	now, _ := json.Marshal(d.Replayed)
	return fmt.Sprintf("#%d %s ns=%s socket=%s: recorded %s, now %s", d.Index, what, d.Namespace, d.Socket, rec, now)
}

// Replay loads the plugins of dir in a fresh host and runs each record
// of tape through their chain, one at a time, with the plugins' clock
// standing at the record's time (see FixedClock); it reports each record
// whose decision differs from the recorded one. A tape that cannot be read
// is an error wrapping ErrTape; the records before the bad one are
// replayed first, and the report so far is returned with the error.
func Replay(ctx context.Context, tape io.Reader, dir string, opts ReplayOptions) (Report, error) {
	var rep Report
	if opts.Runtimes == nil {
		return rep, errors.New("host: replay needs ReplayOptions.Runtimes")
	}
	tr, err := NewTapeReader(tape)
	if err != nil {
		return rep, err
	}
	rep.Header = tr.Header()
	max := opts.MaxDifferences
	if max <= 0 {
		max = 1000
	}
	clock := NewFixedClock(rep.Header.Created, 0)
	h := New(opts.Logger)
	defer h.Close()
	_ = h.SetTrace(TraceOptions{PerSocket: -1, ClosedSockets: -1})
	for _, hook := range allHooks {
		// A replay is about decisions, not speed: a slow machine's chain
		// should not time out where the server's did not.
		h.SetChainBudget(hook, 30*time.Second)
	}
	for name, rt := range opts.Runtimes(clock) {
		h.Register(name, rt)
	}
	if err := h.LoadDir(ctx, dir); err != nil {
		return rep, fmt.Errorf("loading %s: %w", dir, err)
	}
	red := newRedactor(rep.Header.Redact)
	for i := 0; ; i++ {
		rec, env, err := tr.Next()
		if err == io.EOF {
			return rep, nil
		}
		if err != nil {
			return rep, err
		}
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		event := env.Event
		clock.Set(rec.Time, uint64(i))
		d := h.current.Load().run(ctx, env.Hook, env, nil)
		if d.Action == "" {
			d.Action = Allow
		}
		red.decision(&d)
		rep.Records++
		if sameDecision(&rec.Decision, &d) {
			continue
		}
		rep.Differ++
		if len(rep.Differences) < max {
			rep.Differences = append(rep.Differences, Difference{Index: i, Hook: rec.Hook, Namespace: env.Namespace,
				Socket: env.Socket.ID, Event: event, Recorded: rec.Decision, Replayed: canonDecision(&d)})
		}
	}
}

// sameDecision reports whether two decisions are the same once both are
// in their tape form: the same JSON, object keys in any order.
func sameDecision(a, b *Decision) bool {
	x, y := canonDecision(a), canonDecision(b)
	ja, _ := json.Marshal(&x)
	jb, _ := json.Marshal(&y)
	return bytes.Equal(ja, jb)
}

// canonDecision returns d as a tape holds it, its JSON values with sorted
// keys and no spaces.
func canonDecision(d *Decision) Decision {
	c := *d
	if c.Action == "" {
		c.Action = Allow
	}
	c.Data, c.Args, c.Reply, c.SocketData = canonJSON(c.Data), canonJSON(c.Args), canonJSON(c.Reply), canonJSON(c.SocketData)
	if len(c.Rooms) == 0 {
		c.Rooms = nil
	}
	if len(c.Except) == 0 {
		c.Except = nil
	}
	if len(c.Join) == 0 {
		c.Join = nil
	}
	return c
}

func canonJSON(raw wire.Raw) wire.Raw {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return raw
	}
	out, err := json.Marshal(v)
	if err != nil {
		return raw
	}
	return out
}
