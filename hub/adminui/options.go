package adminui

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Mode says how much the UI is told, as the Node package's mode option.
type Mode string

const (
	// Development sends the UI the sockets and rooms with their changes
	// as they happen, and every event the sockets receive and are sent:
	// the full picture, at a cost per event while a UI watches.
	Development Mode = "development"
	// Production sends the server statistics only (connections, traffic,
	// sockets per namespace), aggregated every StatsInterval.
	Production Mode = "production"
)

// BasicAuth is the UI's login: a user name and a bcrypt hash of the
// password (`htpasswd -nbBC 10 "" secret | cut -d: -f2`, or bcryptjs's
// hashSync, as the Node package asks for).
type BasicAuth struct {
	Username     string
	PasswordHash string
}

// Options configure the instrumentation. Auth or NoAuth must be set: an
// admin namespace open to anyone is a choice, never a default.
type Options struct {
	// Namespace is the admin namespace ("/admin").
	Namespace string
	// Auth requires the UI to log in with a user name and password.
	Auth *BasicAuth
	// NoAuth lets anyone who reaches the server use the UI.
	NoAuth bool
	// ReadOnly refuses the UI's actions (emit, join, leave, disconnect);
	// the UI hides them.
	ReadOnly bool
	// ServerID names this node in the UI's server list (the host name).
	// Every node of a cluster needs its own.
	ServerID string
	// Mode is Development (the default, as the Node package's without
	// NODE_ENV) or Production.
	Mode Mode
	// Sessions keeps the session ids given to UIs that logged in, so that
	// a UI that reconnects need not log in again (in memory, for one
	// day). A cluster behind a load balancer needs a store every node
	// shares, such as RedisSessions.
	Sessions SessionStore
	// StatsInterval is how often server_stats is sent (2s, the Node
	// package's).
	StatsInterval time.Duration
}

// ErrOptions is wrapped by the error Instrument returns for options it
// cannot use.
var ErrOptions = errors.New("adminui: invalid options")

func (o Options) withDefaults() (Options, error) {
	var problems []string
	if o.Namespace == "" {
		o.Namespace = "/admin"
	}
	if !strings.HasPrefix(o.Namespace, "/") {
		o.Namespace = "/" + o.Namespace
	}
	if o.Namespace == "/" {
		problems = append(problems, `the admin namespace cannot be the main namespace "/"`)
	}
	switch {
	case o.Auth == nil && !o.NoAuth:
		problems = append(problems, "set Auth (a user name and a bcrypt password hash), or NoAuth to let anyone in")
	case o.Auth != nil && o.NoAuth:
		problems = append(problems, "Auth and NoAuth are both set: choose one")
	case o.Auth != nil:
		if o.Auth.Username == "" {
			problems = append(problems, "Auth.Username is empty")
		}
		if _, err := bcrypt.Cost([]byte(o.Auth.PasswordHash)); err != nil {
			problems = append(problems, "Auth.PasswordHash must be a bcrypt hash (such as $2b$10$...): "+err.Error())
		}
	}
	switch o.Mode {
	case "":
		o.Mode = Development
	case Development, Production:
	default:
		problems = append(problems, fmt.Sprintf("mode %q: want %q or %q", o.Mode, Development, Production))
	}
	if o.StatsInterval <= 0 {
		o.StatsInterval = 2 * time.Second
	}
	if len(problems) > 0 {
		return o, fmt.Errorf("%w: %s", ErrOptions, strings.Join(problems, "; "))
	}
	return o, nil
}

// Validate reports every problem of o that Instrument would refuse it
// for, without instrumenting anything: for a program that checks its
// configuration before it starts.
func Validate(o Options) error {
	_, err := o.withDefaults()
	return err
}
