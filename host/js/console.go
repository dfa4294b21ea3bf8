package js

import (
	"context"
	"log/slog"
	"strings"
	"unicode/utf8"

	"github.com/dop251/goja"
)

const (
	levelDebug = slog.LevelDebug
	levelInfo  = slog.LevelInfo
	levelWarn  = slog.LevelWarn
	levelError = slog.LevelError
)

// consoleFunc makes console.log and its kin.
func (in *instance) consoleFunc(level slog.Level) func(goja.FunctionCall) goja.Value {
	return func(call goja.FunctionCall) goja.Value {
		in.log(level, call.Arguments)
		return goja.Undefined()
	}
}

// hubdLog is hubd.log(level, ...values).
func (in *instance) hubdLog(call goja.FunctionCall) goja.Value {
	var level slog.Level
	name := call.Argument(0)
	switch s, _ := stringOf(name); s {
	case "debug":
		level = levelDebug
	case "info":
		level = levelInfo
	case "warn":
		level = levelWarn
	case "error":
		level = levelError
	default:
		panic(in.rt.NewTypeError("hubd.log: unknown level %s (use \"debug\", \"info\", \"warn\" or \"error\")", name.String()))
	}
	args := call.Arguments
	if len(args) > 0 {
		args = args[1:]
	}
	in.log(level, args)
	return goja.Undefined()
}

// log writes one line to the plugin's logger, within the call's budget.
func (in *instance) log(level slog.Level, args []goja.Value) {
	lg := in.p.logger
	ctx := context.Background()
	if !lg.Enabled(ctx, level) {
		return
	}
	if in.logLeft <= 0 {
		in.logDropped++
		return
	}
	msg := in.format(args, in.logLeft)
	in.logLeft -= max(len(msg), 1)
	var attrs []slog.Attr
	if env := in.env; env != nil {
		attrs = []slog.Attr{slog.String("hook", string(env.Hook)), slog.String("socket", env.Socket.ID)}
	} else if in.loading {
		attrs = []slog.Attr{slog.String("phase", "load")}
	}
	lg.LogAttrs(ctx, level, msg, attrs...)
}

// format joins values as console.log does: strings as they are, other
// values as JSON where they have a JSON form. The result is cut at limit
// bytes.
func (in *instance) format(args []goja.Value, limit int) string {
	var b strings.Builder
	var e encoder
	e.in = in
	for i, v := range args {
		if b.Len() >= limit {
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(in.text(&e, v, limit-b.Len()))
	}
	s := b.String()
	if len(s) > limit {
		s = s[:limit]
		for !utf8.ValidString(s) && len(s) > 0 {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return s
}

func (in *instance) text(e *encoder, v goja.Value, limit int) string {
	if s, ok := stringOf(v); ok {
		return s
	}
	if o, ok := v.(*goja.Object); ok {
		switch o.ClassName() {
		case "Error":
			return in.reasonText(o)
		case "Function", "AsyncFunction", "GeneratorFunction":
			return "[Function]"
		}
		e.reset(limit)
		if e.value(v, 0) && e.err == nil {
			return string(e.buf)
		}
		if e.err == errTooLarge {
			return string(e.buf[:min(len(e.buf), limit)])
		}
	}
	if v == nil {
		return "undefined"
	}
	return v.String()
}

// flushLogDrops reports the lines a call could not log.
func (in *instance) flushLogDrops() {
	if in.logDropped > 0 {
		in.p.logger.Warn("js: plugin log output over the per-call limit; lines dropped", "dropped", in.logDropped, "limit_bytes", in.p.maxLog)
		in.logDropped = 0
	}
}
