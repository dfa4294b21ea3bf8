package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Defaults of Config.
const (
	DefaultPrefix  = "/api/"
	DefaultMaxBody = 1 << 20 // 1 MiB
	DefaultTimeout = 5 * time.Second
)

// Config configures the API. Key is required; the zero value of every
// other field means its default.
type Config struct {
	// Prefix is the path the API is mounted at, with a slash at each end
	// (DefaultPrefix, "/api/").
	Prefix string `json:"prefix"`
	// Key is the secret callers send as "Authorization: Bearer <key>".
	Key string `json:"key"`
	// MaxBody is the largest request body accepted, in bytes
	// (DefaultMaxBody, 1 MiB); a larger one gets 413.
	MaxBody int64 `json:"max_body"`
	// Timeout bounds the requests to the other nodes behind rooms, sockets
	// and disconnect (DefaultTimeout, 5s).
	Timeout time.Duration `json:"timeout"`
	// Trace, when set, serves GET sockets/{id}/trace: it returns what to
	// answer as the trace of the socket with that id (any value that
	// encodes as JSON, such as a plugin host's decision trace), or false
	// for a socket it knows nothing of. It is called on the request's
	// goroutine and must be safe for concurrent use.
	Trace func(socketID string) (any, bool) `json:"-"`
	// Revoke, when set, serves POST revoke: it is handed the request's
	// JSON body and returns what to answer under "revocation" (any value
	// that encodes as JSON, such as a plugin host's revocation result). Its
	// error means the request is wrong, and is answered 400 with the
	// error's message. It is called on the request's goroutine, with the
	// request's context, and must be safe for concurrent use.
	Revoke func(ctx context.Context, request json.RawMessage) (any, error) `json:"-"`
	// Shadows, when set, serves GET shadows: it returns what to answer
	// under "shadows" (such as a plugin host's shadow plugins with their
	// counters, host.Host.ShadowStats).
	Shadows func() any `json:"-"`
	// ShadowDivergences, when set, serves GET shadows/divergences: it is
	// given the "shadow" query parameter (empty for every shadow) and the
	// "limit" one (0 when absent) and returns what to answer under
	// "divergences" (such as host.Host.ShadowDivergences).
	ShadowDivergences func(shadow string, limit int) any `json:"-"`
	// PromoteShadow, when set, serves POST shadows/{name}/promote: it makes
	// the shadow plugin name live (such as host.Host.PromoteShadow). Its
	// error means there is no such shadow, and is answered 404 with the
	// error's message.
	PromoteShadow func(name string) error `json:"-"`
}

// Validate reports every problem of the Config at once, joined in one
// error; nil means New will accept it.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("httpapi: "+format, args...)) }
	if c.Key == "" {
		bad("key is empty: set the API key callers must send as a bearer token")
	} else if strings.ContainsAny(c.Key, " \t\r\n") {
		bad("key holds white space, which no Authorization header can carry")
	}
	if c.Prefix != "" && (!strings.HasPrefix(c.Prefix, "/") || !strings.HasSuffix(c.Prefix, "/")) {
		bad("prefix %q must start and end with /", c.Prefix)
	}
	if c.MaxBody < 0 {
		bad("max_body is %d: it must be positive (0 for the default, %d)", c.MaxBody, DefaultMaxBody)
	}
	if c.Timeout < 0 {
		bad("timeout is %v: it must be positive (0 for the default, %v)", c.Timeout, DefaultTimeout)
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.MaxBody == 0 {
		c.MaxBody = DefaultMaxBody
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}
