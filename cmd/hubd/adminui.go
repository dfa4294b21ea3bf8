package main

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/adminui"
	"github.com/hubd/hubd/hub/redisadapter"
)

// AdminUIConfig serves the Socket.IO admin UI (@socket.io/admin-ui 0.5):
// an admin namespace the UI connects to, and optionally the UI's page
// itself. Fixed at start.
type AdminUIConfig struct {
	// Enabled turns the admin namespace on (false; the -admin-ui flag
	// too).
	Enabled bool `json:"enabled"`
	// Namespace is the admin namespace ("/admin").
	Namespace string `json:"namespace"`
	// Auth is the UI's login: {"username", "password_hash"} (a bcrypt
	// hash, e.g. from `htpasswd -nbBC 10 "" secret | cut -d: -f2`), or
	// {"none": true} to let anyone who reaches hubd in. One of the two is
	// required.
	Auth AdminAuthConfig `json:"auth"`
	// ReadOnly refuses the UI's actions (emit, join, leave, disconnect).
	ReadOnly bool `json:"read_only"`
	// ServerID names this node in the UI (the host name); every node of
	// a cluster needs its own.
	ServerID string `json:"server_id"`
	// Mode is "development" (the default: live socket, room and event
	// updates while a UI watches) or "production" (statistics only).
	Mode string `json:"mode"`
	// StatsInterval is how often the UI gets the server's statistics
	// ("2s").
	StatsInterval Duration `json:"stats_interval"`
	// Sessions keeps the UI's login sessions: "memory" (the default) or
	// "redis" (in the Redis of adapter.url, shared by every node, for a
	// cluster behind a load balancer; needs adapter type redis or
	// redis-streams).
	Sessions string `json:"sessions"`
	// UIDir, when set, is an installed @socket.io/admin-ui package (or
	// its ui/dist folder), whose page hubd serves at UIPath.
	UIDir string `json:"ui_dir"`
	// UIPath is where the page is served, with ui_dir ("/admin/").
	UIPath string `json:"ui_path"`
}

// AdminAuthConfig is admin_ui.auth.
type AdminAuthConfig struct {
	// Username and PasswordHash (bcrypt) are the UI's login.
	Username     string `json:"username"`
	PasswordHash string `json:"password_hash"`
	// None lets the UI in without a login.
	None bool `json:"none"`
}

// options are the admin UI's options from c, but for the sessions.
func (c AdminUIConfig) options() adminui.Options {
	o := adminui.Options{
		Namespace:     c.Namespace,
		NoAuth:        c.Auth.None,
		ReadOnly:      c.ReadOnly,
		ServerID:      c.ServerID,
		Mode:          adminui.Mode(c.Mode),
		StatsInterval: time.Duration(c.StatsInterval),
	}
	if c.Auth.Username != "" || c.Auth.PasswordHash != "" {
		o.Auth = &adminui.BasicAuth{Username: c.Auth.Username, PasswordHash: c.Auth.PasswordHash}
	}
	return o
}

// validateAdminUI reports the problems of the admin_ui block.
func validateAdminUI(bad func(string, ...any), c AdminUIConfig, adapter AdapterConfig) {
	if !c.Enabled {
		return
	}
	a := c.Auth
	switch {
	case !a.None && a.Username == "" && a.PasswordHash == "":
		bad("admin_ui.auth: set username and password_hash (bcrypt), or \"none\": true to let anyone who reaches hubd in")
	case a.None && (a.Username != "" || a.PasswordHash != ""):
		bad("admin_ui.auth: \"none\" with a username or password_hash: choose one")
	default:
		if err := adminui.Validate(c.options()); err != nil {
			bad("admin_ui: %v", strings.TrimPrefix(err.Error(), adminui.ErrOptions.Error()+": "))
		}
	}
	switch c.Sessions {
	case "", "memory":
	case "redis":
		if adapter.Type != "redis" && adapter.Type != "redis-streams" {
			bad("admin_ui.sessions \"redis\" keeps the sessions in the adapter's Redis: set adapter.type redis or redis-streams, or use \"memory\"")
		}
	default:
		bad("admin_ui.sessions %q: memory or redis", c.Sessions)
	}
	if c.UIDir != "" {
		if _, err := adminui.Handler(c.UIDir); err != nil {
			bad("admin_ui.ui_dir %q: %v", c.UIDir, err)
		}
	}
	if !strings.HasPrefix(c.UIPath, "/") || !strings.HasSuffix(c.UIPath, "/") {
		bad("admin_ui.ui_path %q: a path that starts and ends with /, such as \"/admin/\"", c.UIPath)
	}
}

// openAdminUI instruments srv for the admin UI when c asks for it, and
// serves its page on mux; the close function is always safe to call.
func openAdminUI(srv *hub.Server, mux *http.ServeMux, c AdminUIConfig, adapter AdapterConfig) (func(), error) {
	if !c.Enabled {
		return func() {}, nil
	}
	o := c.options()
	closeSessions := func() {}
	if c.Sessions == "redis" {
		rdb, err := redisadapter.NewClient(adapter.URL)
		if err != nil {
			return func() {}, fmt.Errorf("admin_ui.sessions: %w", err)
		}
		o.Sessions = &adminui.RedisSessions{Client: rdb}
		closeSessions = func() { _ = rdb.Close() }
	}
	admin, err := adminui.Instrument(srv, o)
	if err != nil {
		closeSessions()
		return func() {}, err
	}
	if c.UIDir != "" {
		h, err := adminui.Handler(c.UIDir)
		if err != nil {
			_ = admin.Close()
			closeSessions()
			return func() {}, fmt.Errorf("admin_ui.ui_dir: %w", err)
		}
		mux.Handle(c.UIPath, http.StripPrefix(strings.TrimSuffix(c.UIPath, "/"), h))
	}
	return func() {
		_ = admin.Close()
		closeSessions()
	}, nil
}
