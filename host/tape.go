package host

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hubd/hubd/sdk/wire"
)

// Replay tapes: the hooks record the envelopes the plugins saw and the
// decisions their chains took, one JSON line each, to a file; Replay runs
// such a tape through a plugin directory and reports the decisions that
// come out differently. The format is documented in sdk/README.md
// ("Replay tapes").

// TapeVersion is the version of the tape format, the header's "hubd_tape".
const TapeVersion = 1

// Bounds of tapes.
const (
	// DefaultTapeMaxBytes is the default bound of a tape file's size.
	DefaultTapeMaxBytes = 100 << 20
	// DefaultTapeQueue is the default number of records waiting to be
	// written; a record that finds the queue full is dropped and counted.
	DefaultTapeQueue = 1024
	// MaxTapeQueue is the largest queue a tape may have.
	MaxTapeQueue = 1 << 20
	// MaxTapeRecordBytes bounds one record's line: a larger record is
	// not written (counted as skipped), and a reader refuses a longer
	// line.
	MaxTapeRecordBytes = 8 << 20
	// maxTapeRedactPaths bounds each redaction list.
	maxTapeRedactPaths = 256
	// maxTapeAttachments bounds the binary values of one record.
	maxTapeAttachments = 1024
)

// Redacted is the value a redacted field holds on a tape: the field stays,
// so that a policy that checks a credential is present decides the same
// on replay, but its value is gone.
const Redacted = "[redacted]"

// TapeOptions configure recording hook calls to a tape (Host.SetTape).
// The zero value records nothing.
type TapeOptions struct {
	// File is the tape's path; it is created, or truncated when it
	// exists. Empty turns recording off.
	File string `json:"file"`
	// Hooks lists the hooks recorded (connect, join, leave, event,
	// disconnect); empty records them all. Only calls some plugin handles
	// are recorded: the chain runs for no other.
	Hooks []Hook `json:"hooks,omitempty"`
	// Sample is the share of calls recorded, each drawn at random: 0 (the
	// default) records every one, as does 1; 0.01 records one in a
	// hundred.
	Sample float64 `json:"sample,omitempty"`
	// Redact lists what the tape must not keep.
	Redact TapeRedact `json:"redact"`
	// MaxBytes bounds the file (default DefaultTapeMaxBytes): the record
	// that would take it over the bound is not written, and recording
	// stops, so that a tape is always whole records from its start.
	MaxBytes int64 `json:"max_bytes,omitempty"`
	// Queue is how many records may wait to be written (default
	// DefaultTapeQueue); records are written by one goroutine, off the
	// hooks' path, and one that finds the queue full is dropped and
	// counted (TapeStats.Dropped).
	Queue int `json:"queue,omitempty"`
}

// TapeRedact lists the fields whose values a tape replaces with Redacted,
// in the envelopes and in the decisions.
type TapeRedact struct {
	// Auth lists paths in the handshake's auth object, dot-separated
	// ("token", "user.password"); a "*" segment matches any key or index.
	Auth []string `json:"auth,omitempty"`
	// Headers lists handshake headers, by name (any case). When nil, the
	// default, authorization and cookie are redacted; an empty list
	// redacts none.
	Headers []string `json:"headers"`
	// Args lists paths in an event's arguments, starting with "args" and
	// the argument's index ("args.0.password", "args.*.card.number");
	// they apply to the arguments a decision sets too.
	Args []string `json:"args,omitempty"`
}

// defaultRedactedHeaders are redacted when TapeRedact.Headers is nil.
var defaultRedactedHeaders = []string{"authorization", "cookie"}

// Validate reports every problem of the options at once, joined in one
// error.
func (o TapeOptions) Validate() error {
	var errs []error
	for _, h := range o.Hooks {
		if !validHook(h) {
			errs = append(errs, fmt.Errorf("tape hooks: unknown hook %q (connect, join, leave, event or disconnect)", h))
		}
	}
	if math.IsNaN(o.Sample) || o.Sample < 0 || o.Sample > 1 {
		errs = append(errs, fmt.Errorf("tape sample is %v: give a share of calls between 0 and 1, e.g. 0.01 (0 records every call)", o.Sample))
	}
	if o.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("tape max_bytes is %d: give a positive size in bytes (0 is the default, %d)", o.MaxBytes, DefaultTapeMaxBytes))
	}
	if o.Queue < 0 || o.Queue > MaxTapeQueue {
		errs = append(errs, fmt.Errorf("tape queue is %d: give between 1 and %d records (0 is the default, %d)", o.Queue, MaxTapeQueue, DefaultTapeQueue))
	}
	errs = append(errs, o.Redact.validate()...)
	return errors.Join(errs...)
}

func (r TapeRedact) validate() []error {
	var errs []error
	for _, l := range []struct {
		name  string
		paths []string
	}{{"auth", r.Auth}, {"headers", r.Headers}, {"args", r.Args}} {
		if len(l.paths) > maxTapeRedactPaths {
			errs = append(errs, fmt.Errorf("tape redact %s lists %d entries: at most %d", l.name, len(l.paths), maxTapeRedactPaths))
		}
		for _, p := range l.paths {
			if p == "" || strings.Contains(p, "..") || strings.HasPrefix(p, ".") || strings.HasSuffix(p, ".") {
				errs = append(errs, fmt.Errorf("tape redact %s: %q is not a dot-separated path", l.name, p))
			}
		}
	}
	for _, p := range r.Args {
		if p != "args" && !strings.HasPrefix(p, "args.") {
			errs = append(errs, fmt.Errorf("tape redact args: %q must start with \"args.\" and the argument's index, e.g. \"args.0.password\"", p))
		}
	}
	return errs
}

// TapeStats count what a tape recorded.
type TapeStats struct {
	File string `json:"file"`
	// Recorded records were written, Bytes bytes with the header.
	Recorded uint64 `json:"recorded"`
	Bytes    int64  `json:"bytes"`
	// Dropped records found the queue full.
	Dropped uint64 `json:"dropped"`
	// Skipped records were not written: larger than MaxTapeRecordBytes,
	// or arriving once the tape was full or had failed.
	Skipped uint64 `json:"skipped"`
	// Full is set once the tape reached MaxBytes: recording stopped.
	Full bool `json:"full"`
	// Err is the write error that stopped recording, if any.
	Err string `json:"err,omitempty"`
}

// TapeHeader is a tape's first line.
type TapeHeader struct {
	Version int       `json:"hubd_tape"`
	Created time.Time `json:"created"`
	Hooks   []Hook    `json:"hooks,omitempty"`
	Sample  float64   `json:"sample,omitempty"`
	// Redact is what the recorder redacted; a replay redacts the
	// decisions it compares in the same way.
	Redact TapeRedact `json:"redact"`
}

// TapeRecord is one line of a tape after the header: one hook call.
type TapeRecord struct {
	// Time is when the chain started; a replay gives the plugins this
	// time as their clock.
	Time time.Time `json:"time"`
	Hook Hook      `json:"hook"`
	// Envelope is what the plugins were given, in the wire format,
	// redacted.
	Envelope json.RawMessage `json:"envelope"`
	// Attachments are the event's binary values (base64), which the
	// envelope's args hold as placeholders.
	Attachments [][]byte `json:"attachments,omitempty"`
	// Decision is what the chain decided, with its action always set
	// ("allow" for none), redacted.
	Decision Decision `json:"decision"`
}

// SetTape starts recording hook calls to o.File, or stops when o.File is
// empty; a tape being recorded is closed first, its queued records
// written. Options equal to those of the tape being recorded change
// nothing, so that a reload that keeps them keeps the tape going. It
// returns o.Validate's error, or the file's, and then changes nothing.
func (h *Host) SetTape(o TapeOptions) error {
	if err := o.Validate(); err != nil {
		return err
	}
	h.tapeMu.Lock()
	defer h.tapeMu.Unlock()
	if cur := h.tape.Load(); cur != nil && reflect.DeepEqual(cur.opts, o) || cur == nil && o.File == "" {
		return nil
	}
	var rec *tapeRecorder
	if o.File != "" {
		var err error
		if rec, err = openTape(o, h.logger); err != nil {
			return err
		}
	}
	if old := h.tape.Swap(rec); old != nil {
		old.close()
	}
	return nil
}

// TapeStats returns the counters of the tape being recorded, and false
// when none is.
func (h *Host) TapeStats() (TapeStats, bool) {
	r := h.tape.Load()
	if r == nil {
		return TapeStats{}, false
	}
	return r.stats(), true
}

// tapeRecorder writes one tape.
type tapeRecorder struct {
	opts     TapeOptions // as given
	logger   *slog.Logger
	hooks    [len(hookIndex)]bool
	sample   float64
	redact   *redactor
	maxBytes int64
	file     string

	queue chan tapeEntry
	done  chan struct{}
	// mu orders sends on queue against its close.
	mu     sync.RWMutex
	closed bool

	recorded, dropped, skipped atomic.Uint64
	bytes                      atomic.Int64
	full                       atomic.Bool
	err                        atomic.Pointer[string]
}

// tapeEntry is a call waiting to be written: the envelope as the chain
// got it (its fields are replaced, never changed in place, by the chain)
// and the decision.
type tapeEntry struct {
	at  time.Time
	env Envelope
	d   Decision
}

func openTape(o TapeOptions, logger *slog.Logger) (*tapeRecorder, error) {
	f, err := os.OpenFile(o.File, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening tape: %w", err)
	}
	r := &tapeRecorder{
		opts:     o,
		logger:   logger,
		sample:   o.Sample,
		redact:   newRedactor(o.Redact),
		maxBytes: o.MaxBytes,
		file:     o.File,
		queue:    make(chan tapeEntry, cmpOr(o.Queue, DefaultTapeQueue)),
		done:     make(chan struct{}),
	}
	if r.maxBytes == 0 {
		r.maxBytes = DefaultTapeMaxBytes
	}
	if r.sample == 1 {
		r.sample = 0
	}
	for i, hook := range hookIndex {
		r.hooks[i] = len(o.Hooks) == 0 || contains(o.Hooks, hook)
	}
	head, _ := json.Marshal(TapeHeader{Version: TapeVersion, Created: time.Now().UTC(), Hooks: o.Hooks, Sample: o.Sample, Redact: r.redact.spec})
	head = append(head, '\n')
	if _, err := f.Write(head); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing tape header: %w", err)
	}
	r.bytes.Store(int64(len(head)))
	go r.write(f)
	return r, nil
}

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func contains(hooks []Hook, h Hook) bool {
	for _, x := range hooks {
		if x == h {
			return true
		}
	}
	return false
}

// take reports whether env's call is to be recorded (its hook is, the
// sample draws it, the tape is not full), with the time it starts.
func (r *tapeRecorder) take(env *Envelope) (time.Time, bool) {
	i := slot(env.Hook)
	if i < 0 || !r.hooks[i] || r.full.Load() {
		return time.Time{}, false
	}
	if r.sample > 0 && rand.Float64() >= r.sample {
		return time.Time{}, false
	}
	return time.Now(), true
}

// put queues a call's record without waiting: with the queue full it is
// dropped and counted.
func (r *tapeRecorder) put(at time.Time, env Envelope, d *Decision) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return
	}
	select {
	case r.queue <- tapeEntry{at: at, env: env, d: *d}:
	default:
		r.dropped.Add(1)
	}
}

// close stops taking records, writes those queued and closes the file.
func (r *tapeRecorder) close() {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.queue)
	}
	r.mu.Unlock()
	<-r.done
}

// write is the tape's writer: it encodes and writes the queued records,
// flushing whenever the queue is empty.
func (r *tapeRecorder) write(f *os.File) {
	defer close(r.done)
	w := bufio.NewWriterSize(f, 64<<10)
	stopped, failed := false, false
	fail := func(err error) {
		msg := err.Error()
		r.err.Store(&msg)
		r.full.Store(true) // takes no more
		stopped, failed = true, true
		r.logger.Error("tape recording stopped", "file", r.file, "err", err)
	}
	var line []byte
	for e := range r.queue {
		if stopped {
			r.skipped.Add(1)
			continue
		}
		line = r.encode(line[:0], &e)
		switch {
		case len(line) > MaxTapeRecordBytes:
			r.skipped.Add(1)
		case r.bytes.Load()+int64(len(line)) > r.maxBytes:
			r.skipped.Add(1)
			r.full.Store(true)
			stopped = true
			r.logger.Warn("tape is full: recording stopped", "file", r.file, "max_bytes", r.maxBytes)
		default:
			if _, err := w.Write(line); err != nil {
				fail(err)
				continue
			}
			r.bytes.Add(int64(len(line)))
			r.recorded.Add(1)
		}
		if len(r.queue) == 0 && !failed {
			if err := w.Flush(); err != nil {
				fail(err)
			}
		}
	}
	if !failed {
		if err := w.Flush(); err != nil {
			fail(err)
		}
	}
	if err := f.Close(); err != nil && !failed {
		fail(err)
	}
}

// encode appends a record's line to dst.
func (r *tapeRecorder) encode(dst []byte, e *tapeEntry) []byte {
	env := e.env
	r.redact.envelope(&env)
	d := e.d
	if d.Action == "" {
		d.Action = Allow
	}
	r.redact.decision(&d)
	att := e.env.Attachments
	if len(att) > maxTapeAttachments {
		att = att[:maxTapeAttachments]
	}
	dst = append(dst, `{"time":`...)
	dst = strconv.AppendQuote(dst, e.at.UTC().Format(time.RFC3339Nano))
	dst = append(dst, `,"hook":`...)
	dst = strconv.AppendQuote(dst, string(env.Hook))
	dst = append(dst, `,"envelope":`...)
	dst = env.AppendJSON(dst)
	if len(att) > 0 {
		b, _ := json.Marshal(att)
		dst = append(dst, `,"attachments":`...)
		dst = append(dst, b...)
	}
	b, err := json.Marshal(&d)
	if err != nil {
		b = []byte(`{"action":"allow"}`) // checked by the chain: not reached
	}
	dst = append(dst, `,"decision":`...)
	dst = append(dst, b...)
	return append(dst, "}\n"...)
}

func (r *tapeRecorder) stats() TapeStats {
	s := TapeStats{
		File:     r.file,
		Recorded: r.recorded.Load(),
		Bytes:    r.bytes.Load(),
		Dropped:  r.dropped.Load(),
		Skipped:  r.skipped.Load(),
	}
	if p := r.err.Load(); p != nil {
		s.Err = *p
	} else {
		s.Full = r.full.Load()
	}
	return s
}

// redactor applies a TapeRedact.
type redactor struct {
	spec    TapeRedact // as the header says it
	auth    [][]string
	headers map[string]bool
	args    [][]string // without the leading "args"
}

func newRedactor(o TapeRedact) *redactor {
	r := &redactor{spec: o, headers: make(map[string]bool)}
	if o.Headers == nil {
		r.spec.Headers = defaultRedactedHeaders
	}
	for _, h := range r.spec.Headers {
		r.headers[strings.ToLower(h)] = true
	}
	for _, p := range o.Auth {
		r.auth = append(r.auth, strings.Split(p, "."))
	}
	for _, p := range o.Args {
		r.args = append(r.args, strings.Split(p, ".")[1:])
	}
	return r
}

// envelope redacts a copy of an envelope: the fields it replaces are new
// values, the original's are left alone.
func (r *redactor) envelope(env *Envelope) {
	if hs := env.Handshake; hs != nil {
		c := *hs
		if len(r.headers) > 0 && len(c.Headers) > 0 {
			c.Headers = make(map[string]string, len(hs.Headers))
			for k, v := range hs.Headers {
				if r.headers[strings.ToLower(k)] {
					v = Redacted
				}
				c.Headers[k] = v
			}
		}
		c.Auth = redactJSON(c.Auth, r.auth)
		env.Handshake = &c
	}
	env.Args = redactJSON(env.Args, r.args)
}

// decision redacts a decision's arguments and reply as the envelope's.
func (r *redactor) decision(d *Decision) {
	d.Args = redactJSON(d.Args, r.args)
}

// redactJSON returns raw with the values at paths replaced by Redacted;
// raw itself is not changed. JSON it cannot parse is kept out entirely.
func redactJSON(raw wire.Raw, paths [][]string) wire.Raw {
	if len(paths) == 0 || len(raw) == 0 {
		return raw
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return wire.Raw(strconv.Quote(Redacted))
	}
	changed := false
	for _, p := range paths {
		v = redactPath(v, p, &changed)
	}
	if !changed {
		return raw
	}
	out, err := json.Marshal(v)
	if err != nil {
		return wire.Raw(strconv.Quote(Redacted))
	}
	return out
}

func redactPath(v any, path []string, changed *bool) any {
	if len(path) == 0 {
		*changed = true
		return Redacted
	}
	key, rest := path[0], path[1:]
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if key == "*" || key == k {
				x[k] = redactPath(e, rest, changed)
			}
		}
	case []any:
		for i, e := range x {
			if key == "*" || key == strconv.Itoa(i) {
				x[i] = redactPath(e, rest, changed)
			}
		}
	}
	return v
}
