package process

import (
	"log/slog"
	"os"
)

// stderr is the process's standard error as it was at start: go-plugin
// redirects os.Stderr once the plugin serves, while hubd reads the
// original stream as the plugin's log.
var stderr = os.Stderr

// Log is the plugin's logger. Its records reach hubd's log, tagged with
// the plugin's name, at their level. Plain writes to standard error reach
// it too, at debug level.
var Log = slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{
	Level:       slog.LevelDebug,
	ReplaceAttr: hclogAttr,
}))

// hclogAttr writes slog's JSON in the form go-plugin parses (hclog's JSON
// format): @timestamp, @level and @message.
func hclogAttr(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.TimeKey:
		return slog.String("@timestamp", a.Value.Time().Format("2006-01-02T15:04:05.000000Z07:00"))
	case slog.LevelKey:
		return slog.String("@level", levelName(a.Value.Any().(slog.Level)))
	case slog.MessageKey:
		return slog.String("@message", a.Value.String())
	}
	return a
}

func levelName(l slog.Level) string {
	switch {
	case l < slog.LevelDebug:
		return "trace"
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	}
	return "error"
}
