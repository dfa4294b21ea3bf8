package wasm

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// Limits of the host functions.
const (
	maxOutput     = 1 << 20 // a decision larger than this is garbage
	maxLogLine    = 4096    // longer log lines are cut
	logBurst      = 100     // log lines a plugin may write at once...
	logRate       = 100     // ...and per second after that
	stderrTailLen = 512     // stderr kept for an error message
)

// The names a guest may import from the "hubd" module.
var hubdImports = map[string]bool{
	"output": true, "log": true, "config": true, "now_ns": true, "attachment": true, "revoke": true,
}

type instKey struct{}

// instanceOf returns the instance a host function is called for, or nil
// outside a call (while the guest initialises).
func instanceOf(ctx context.Context) *instance {
	in, _ := ctx.Value(instKey{}).(*instance)
	return in
}

var (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// instantiateHubd adds the "hubd" host module to rt.
func instantiateHubd(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder("hubd")
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostOutput), []api.ValueType{i32, i32}, nil).
		WithParameterNames("ptr", "len").Export("output")
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostLog), []api.ValueType{i32, i32, i32}, nil).
		WithParameterNames("level", "ptr", "len").Export("log")
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostConfig), []api.ValueType{i32, i32}, []api.ValueType{i32}).
		WithParameterNames("buf", "limit").Export("config")
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostNow), nil, []api.ValueType{i64}).
		Export("now_ns")
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostAttachment), []api.ValueType{i32, i32, i32}, []api.ValueType{i32}).
		WithParameterNames("index", "buf", "limit").Export("attachment")
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostRevoke), []api.ValueType{i32, i32}, []api.ValueType{i32}).
		WithParameterNames("ptr", "len").Export("revoke")
	_, err := b.Instantiate(ctx)
	return err
}

// hostOutput copies the decision out of the guest at once.
func hostOutput(ctx context.Context, m api.Module, s []uint64) {
	in := instanceOf(ctx)
	if in == nil || in.env == nil {
		return
	}
	ptr, n := uint32(s[0]), uint32(s[1])
	if n > maxOutput {
		in.outErr = fmt.Errorf("%w: output of %d bytes is over the %d-byte limit", errGarbage, n, maxOutput)
		return
	}
	b, ok := m.Memory().Read(ptr, n)
	if !ok {
		in.outErr = fmt.Errorf("%w: output [%d, +%d) is outside the guest's memory", errGarbage, ptr, n)
		return
	}
	in.out = append(in.out[:0], b...)
	in.outSet = true
	in.outErr = nil
}

// hostLog writes one line to the plugin's logger. Levels: 0 debug,
// 1 info, 2 warn, 3 error (others are clamped).
func hostLog(ctx context.Context, m api.Module, s []uint64) {
	in := instanceOf(ctx)
	if in == nil {
		return
	}
	level, ptr, n := int32(s[0]), uint32(s[1]), uint32(s[2])
	cut := n > maxLogLine
	if cut {
		n = maxLogLine
	}
	b, ok := m.Memory().Read(ptr, n)
	if !ok {
		return
	}
	msg := string(b)
	if cut {
		msg += "…"
	}
	in.p.log(ctx, guestLevel(level), msg, in.env)
}

func guestLevel(l int32) slog.Level {
	switch {
	case l <= 0:
		return slog.LevelDebug
	case l == 1:
		return slog.LevelInfo
	case l == 2:
		return slog.LevelWarn
	}
	return slog.LevelError
}

// hostConfig copies the manifest's config into buf if it fits and returns
// its length either way.
func hostConfig(ctx context.Context, m api.Module, s []uint64) {
	var cfg []byte
	if in := instanceOf(ctx); in != nil {
		cfg = in.p.config
	}
	buf, limit := uint32(s[0]), uint32(s[1])
	if uint64(len(cfg)) <= uint64(limit) && len(cfg) > 0 {
		if !m.Memory().Write(buf, cfg) {
			s[0] = api.EncodeI32(-1)
			return
		}
	}
	s[0] = api.EncodeI32(int32(min(len(cfg), math.MaxInt32)))
}

func hostNow(ctx context.Context, _ api.Module, s []uint64) {
	now := time.Now()
	if in := instanceOf(ctx); in != nil && in.p.clock != nil {
		now = in.p.clock.Now()
	}
	s[0] = api.EncodeI64(now.UnixNano())
}

// hostAttachment copies the call's binary attachment index into buf if it
// fits and returns its length either way, or -1 if there is none.
func hostAttachment(ctx context.Context, m api.Module, s []uint64) {
	in := instanceOf(ctx)
	index, buf, limit := uint32(s[0]), uint32(s[1]), uint32(s[2])
	if in == nil || in.env == nil || uint64(index) >= uint64(len(in.env.Attachments)) {
		s[0] = api.EncodeI32(-1)
		return
	}
	a := in.env.Attachments[index]
	if uint64(len(a)) <= uint64(limit) && len(a) > 0 {
		if !m.Memory().Write(buf, a) {
			s[0] = api.EncodeI32(-1)
			return
		}
	}
	s[0] = api.EncodeI32(int32(min(len(a), math.MaxInt32)))
}

// logLimiter is a token bucket over a plugin's log lines.
type logLimiter struct {
	mu      sync.Mutex
	tokens  float64
	last    time.Time
	dropped int64
}

// allow reports whether a line may be written, and how many were dropped
// since the last line that was.
func (l *logLimiter) allow(now time.Time) (bool, int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last.IsZero() {
		l.tokens = logBurst
	} else {
		l.tokens = min(logBurst, l.tokens+now.Sub(l.last).Seconds()*logRate)
	}
	l.last = now
	if l.tokens < 1 {
		l.dropped++
		return false, 0
	}
	l.tokens--
	d := l.dropped
	l.dropped = 0
	return true, d
}

// lineWriter turns a guest's stdout or stderr into log lines.
type lineWriter struct {
	p     *Plugin
	in    *instance
	level slog.Level
	buf   []byte
	tail  []byte // the first bytes written since the last error (stderr)
}

func (w *lineWriter) Write(b []byte) (int, error) {
	n := len(b)
	if w.tail != nil && len(w.tail) < stderrTailLen {
		// Keep the start of what the guest wrote: a Go guest's fatal error
		// or panic comes first, before the goroutine dumps.
		w.tail = append(w.tail, b[:min(len(b), stderrTailLen-len(w.tail))]...)
	}
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			w.buf = append(w.buf, b...)
			if len(w.buf) >= maxLogLine {
				w.flush()
			}
			break
		}
		w.buf = append(w.buf, b[:i]...)
		w.flush()
		b = b[i+1:]
	}
	return n, nil
}

func (w *lineWriter) flush() {
	if len(w.buf) == 0 {
		return
	}
	line := w.buf
	if len(line) > maxLogLine {
		line = line[:maxLogLine]
	}
	w.p.log(context.Background(), w.level, string(line), w.in.env)
	w.buf = w.buf[:0]
}

// takeTail returns and clears what stderr received since the last call.
func (w *lineWriter) takeTail() string {
	w.flush()
	s := string(bytes.TrimSpace(w.tail))
	w.tail = w.tail[:0]
	return s
}
