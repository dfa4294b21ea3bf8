package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Config holds the command-line settings shared by all scenarios. Fields
// that a scenario does not use are ignored by it.
type Config struct {
	Scenario    string
	URL         string
	Path        string
	Duration    time.Duration
	Drain       time.Duration
	Hold        time.Duration
	Timeout     time.Duration
	Clients     int // -n: fanout and recover receivers, idle connections
	Concurrency int // -c: ack clients, connect workers
	Ramp        int // handshakes in flight during ramp-up
	Rate        int // fanout publish rate, messages/s; 0 = as fast as the window allows
	Window      int // fanout publishes in flight when Rate is 0
	Inflight    int // ack: emits in flight per client
	Size        int // padding bytes in each payload
	Missed      int // recover: events published while the receivers are cut off
	PID         int
	JSON        bool
	AllowRemote bool
	Contract    string // fanout, recover: "bench" (default) or "hubd"
	Auth        string // JSON object sent in every Socket.IO CONNECT; "" = none
	// ReceiverURLs are more base URLs, comma-separated, over which fanout
	// spreads its receivers round-robin with URL (the publisher stays on
	// URL): the nodes of one cluster. recover spreads its receivers over
	// these alone, and reconnects them to URL.
	ReceiverURLs string
	// ReceiversIO is how fanout reads its receivers: "goroutine" (default),
	// one reader goroutine each, or "epoll", a few goroutines on Linux
	// epoll that cost far less per delivered message.
	ReceiversIO string
}

// Server contracts for the fanout and recover scenarios.
const (
	contractBench = "bench" // join / publish / echo, see the package doc
	contractHubd  = "hubd"  // hub:join with ack; any other event is relayed to the sender's rooms
)

// Receiver read modes for fanout (-receivers-io).
const (
	receiversGoroutine = "goroutine"
	receiversEpoll     = "epoll"
)

// defaultClients is the -n default per scenario.
var defaultClients = map[string]int{"fanout": 1000, "idle": 5000, "recover": 200}

// validate fills scenario-dependent defaults and checks the settings.
func (c *Config) validate() error {
	if c.Clients == 0 {
		c.Clients = defaultClients[c.Scenario]
	}
	switch {
	case c.Clients < 0, c.Concurrency < 1, c.Ramp < 1, c.Inflight < 1, c.Window < 1:
		return errors.New("-n must be >= 0; -c, -ramp, -inflight and -window must be >= 1")
	case c.Rate < 0 || c.Size < 0 || c.PID < 0 || c.Missed < 0:
		return errors.New("-rate, -size, -pid and -missed must be >= 0")
	case c.Duration <= 0 || c.Timeout <= 0 || c.Drain < 0 || c.Hold < 0:
		return errors.New("-duration and -timeout must be > 0; -drain and -hold >= 0")
	}
	switch c.Contract {
	case "":
		c.Contract = contractBench
	case contractBench, contractHubd:
	default:
		return fmt.Errorf("-contract %q: want bench or hubd", c.Contract)
	}
	switch c.ReceiversIO {
	case "":
		c.ReceiversIO = receiversGoroutine
	case receiversGoroutine:
	case receiversEpoll:
		if !epollSupported {
			return errors.New("-receivers-io epoll needs Linux: use -receivers-io goroutine here")
		}
	default:
		return fmt.Errorf("-receivers-io %q: want goroutine or epoll", c.ReceiversIO)
	}
	if c.Auth != "" {
		var v map[string]any
		if err := json.Unmarshal([]byte(c.Auth), &v); err != nil || v == nil {
			return fmt.Errorf("-auth must be a JSON object: %q", c.Auth)
		}
	}
	if _, err := c.wsURL(); err != nil {
		return err
	}
	if _, err := c.receiverWSURLs(); err != nil {
		return err
	}
	return nil
}

// receiverWSURLs are the Engine.IO endpoints of ReceiverURLs.
func (c *Config) receiverWSURLs() ([]string, error) {
	var out []string
	for _, raw := range strings.Split(c.ReceiverURLs, ",") {
		if raw = strings.TrimSpace(raw); raw == "" {
			continue
		}
		u, err := c.wsURLOf(raw)
		if err != nil {
			return nil, fmt.Errorf("-receivers-url: %w", err)
		}
		out = append(out, u)
	}
	return out, nil
}

// newDialer returns a Dialer for wsURL with the timeout, CONNECT auth and
// join event the settings call for.
func (c *Config) newDialer(wsURL string) *Dialer {
	d := newDialer(wsURL, c.Timeout)
	if c.Auth != "" {
		d.auth = []byte(c.Auth)
	}
	if c.Contract == contractHubd {
		d.joinEvent = "hub:join"
	}
	return d
}

// wsURL returns the Engine.IO WebSocket endpoint for the target, refusing
// hosts other than loopback ones unless AllowRemote is set.
func (c *Config) wsURL() (string, error) { return c.wsURLOf(c.URL) }

func (c *Config) wsURLOf(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("-url: %w", err)
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("-url: unsupported scheme %q", u.Scheme)
	}
	if !c.AllowRemote && !isLoopback(u.Hostname()) {
		return "", fmt.Errorf("-url: %q is not a loopback address (use -allow-remote to override)", u.Hostname())
	}
	u.Path = "/" + strings.Trim(c.Path, "/") + "/"
	u.RawQuery = "EIO=4&transport=websocket"
	return u.String(), nil
}

// isLoopback accepts "localhost" and literal loopback IPs. Other names are
// not resolved: what they point at can change between check and use.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
