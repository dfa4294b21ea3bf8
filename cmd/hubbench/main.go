// Command hubbench is a load generator for Socket.IO v4 servers that
// implement the hubd bench contract on namespace "/":
//
//	join(room) with ack     -> the server joins the socket to room and acks with no arguments
//	publish(room, payload)  -> the server emits "msg" with payload to every socket in room
//	echo(x) with ack        -> the server acks with x
//
// With -contract hubd the fanout and recover scenarios speak hubd's own
// client contract instead: hub:join(room) with ack joins, and the
// publisher emits "msg" with the payload, which hubd relays to the rooms it
// joined (with the namespace's "echo": true the publisher gets it back,
// pacing -rate 0).
//
// Clients speak Engine.IO v4 over WebSocket only. Each connection costs one
// reader goroutine, and incoming frames are scanned for the few fields
// needed rather than decoded, so one process can drive thousands of clients.
// For big rooms, fanout -receivers-io epoll reads every receiver from a few
// goroutines on Linux epoll instead, so that the load generator, sharing
// the machine with the server, takes as little CPU per delivery as it can.
//
// Scenarios:
//
//	fanout   -n receivers join room "bench"; a publisher publishes to it at
//	         -rate msgs/s; reports delivery rate, loss and latency
//	ack      -c clients emit echo with an ack, -inflight at a time each;
//	         reports acked events/s and round-trip time
//	connect  -c workers open and close sessions back to back; reports
//	         connections/s, connect time and errors
//	idle     -n clients join room "idle" and stay for -hold; reports the
//	         server's RSS growth per connection when -pid is given
//	recover  -n receivers join room "bench" and get one event; their TCP
//	         connections are cut, -missed events are published, and they
//	         reconnect with their session (connection state recovery);
//	         reports how many got their session back, missing, duplicate
//	         and out-of-order events, and the time from the CONNECT to the
//	         last missed event
//
// Usage:
//
//	hubbench [scenario] [flags]
//	hubbench -scenario fanout -url http://127.0.0.1:3000 -n 1000 -rate 200
//
// Only loopback targets are accepted unless -allow-remote is given.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// report is a scenario's result: printed as text, or marshalled as one JSON
// object with -json.
type report interface {
	writeText(w io.Writer)
}

// header is embedded first in every report.
type header struct {
	Scenario string `json:"scenario"`
	URL      string `json:"url"`
}

// scenarios maps a scenario name to its runner.
var scenarios = map[string]func(context.Context, *Config) (report, error){
	"fanout":  runFanout,
	"ack":     runAck,
	"connect": runConnect,
	"idle":    runIdle,
	"recover": runRecover,
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "hubbench:", err)
		os.Exit(2)
	}
	if _, err := raiseFileLimit(); err != nil {
		fmt.Fprintln(os.Stderr, "hubbench: raising RLIMIT_NOFILE:", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	rep, err := scenarios[cfg.Scenario](ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hubbench:", err)
		os.Exit(1)
	}
	if cfg.JSON {
		enc := json.NewEncoder(os.Stdout)
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(os.Stderr, "hubbench:", err)
			os.Exit(1)
		}
		return
	}
	rep.writeText(os.Stdout)
}

// parseFlags reads the optional leading scenario name and the flags.
func parseFlags(args []string) (*Config, error) {
	cfg := &Config{}
	fs := flag.NewFlagSet("hubbench", flag.ContinueOnError)
	fs.StringVar(&cfg.Scenario, "scenario", "", "fanout, ack, connect, idle or recover (may also be given as the first argument)")
	fs.StringVar(&cfg.URL, "url", "http://127.0.0.1:3000", "server base URL (loopback only unless -allow-remote)")
	fs.StringVar(&cfg.Path, "path", "/socket.io/", "Engine.IO endpoint path")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "measurement time (fanout, ack, connect)")
	fs.DurationVar(&cfg.Drain, "drain", 3*time.Second, "longest wait for outstanding messages or acks after -duration (recover: for the missed events after the reconnects)")
	fs.DurationVar(&cfg.Hold, "hold", 30*time.Second, "idle: how long to hold the connections once all are open")
	fs.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "limit for each connect, join and write")
	fs.IntVar(&cfg.Clients, "n", 0, "clients: fanout receivers (default 1000), idle connections (default 5000), recover receivers (default 200)")
	fs.IntVar(&cfg.Concurrency, "c", 50, "ack: clients; connect: concurrent workers")
	fs.IntVar(&cfg.Ramp, "ramp", 32, "handshakes in flight while opening clients")
	fs.IntVar(&cfg.Rate, "rate", 200, "fanout: publishes per second; 0 = as fast as -window allows")
	fs.IntVar(&cfg.Window, "window", 64, "fanout with -rate 0: publishes not yet seen by the publisher")
	fs.IntVar(&cfg.Inflight, "inflight", 1, "ack: emits awaiting their ack per client")
	fs.IntVar(&cfg.Size, "size", 100, "padding bytes in each fanout/echo/recover payload")
	fs.IntVar(&cfg.Missed, "missed", 100, "recover: events published while the receivers are cut off")
	fs.IntVar(&cfg.PID, "pid", 0, "idle: server process id for RSS readings; 0 = skip")
	fs.BoolVar(&cfg.JSON, "json", false, "print one JSON object instead of text")
	fs.StringVar(&cfg.Contract, "contract", contractBench, "fanout, recover: server contract, bench (join/publish) or hubd (hub:join, publisher emits \"msg\"; needs \"echo\": true for -rate 0)")
	fs.StringVar(&cfg.Auth, "auth", "", "JSON object sent as the Socket.IO CONNECT auth payload, e.g. '{\"token\":\"...\"}'")
	fs.BoolVar(&cfg.AllowRemote, "allow-remote", false, "allow a non-loopback target")
	fs.StringVar(&cfg.ReceiversIO, "receivers-io", receiversGoroutine, "fanout: how receivers are read: goroutine (one reader goroutine per receiver) or epoll (Linux: after the join, GOMAXPROCS goroutines read all receivers' sockets through epoll, parsing frames from big reads; far cheaper per message in big rooms)")
	fs.StringVar(&cfg.ReceiverURLs, "receivers-url", "", "fanout: more server base URLs, comma-separated (the other nodes of a cluster); receivers are spread round-robin over -url and these, the publisher stays on -url; recover: receivers first connect to these alone, then reconnect to -url")

	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cfg.Scenario = args[0]
		args = args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if _, ok := scenarios[cfg.Scenario]; !ok {
		return nil, fmt.Errorf("unknown scenario %q: want fanout, ack, connect, idle or recover", cfg.Scenario)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// rate returns n per second over d, or 0 for an empty interval.
func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// writeErrors prints an error tally, one line per stage and class.
func writeErrors(w io.Writer, title string, m map[string]int) {
	if len(m) == 0 {
		return
	}
	fmt.Fprintf(w, "%s:\n", title)
	for _, k := range sortedKeys(m) {
		fmt.Fprintf(w, "  %6d  %s\n", m[k], k)
	}
}

// writeLatency prints a latency summary on one line.
func writeLatency(w io.Writer, title string, l LatencySummary) {
	if l.Count == 0 {
		fmt.Fprintf(w, "%-14s no samples\n", title)
		return
	}
	fmt.Fprintf(w, "%-14s p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms  (mean %.3f ms, n=%d)\n",
		title, l.P50Ms, l.P90Ms, l.P99Ms, l.P999Ms, l.MaxMs, l.MeanMs, l.Count)
}
