package main

import (
	"context"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/relay"
)

func TestParseConnectReply(t *testing.T) {
	tests := []struct {
		payload, sid, pid string
	}{
		{`{"sid":"s1","pid":"p1"}`, "s1", "p1"},
		{`{"sid":"s1"}`, "s1", ""},
		{``, "", ""},
		{`not json`, "", ""},
	}
	for _, tt := range tests {
		sid, pid := parseConnectReply([]byte(tt.payload))
		if sid != tt.sid || pid != tt.pid {
			t.Errorf("parseConnectReply(%q) = %q, %q; want %q, %q", tt.payload, sid, pid, tt.sid, tt.pid)
		}
	}
}

func TestSessionAuth(t *testing.T) {
	tests := []struct {
		auth, pid, offset string
		hasOffset         bool
		want              string
	}{
		{"", "p1", "o1", true, `{"offset":"o1","pid":"p1"}`},
		{`{"token":"x","n":12345678901234567890}`, "p1", "o1", true, `{"n":12345678901234567890,"offset":"o1","pid":"p1","token":"x"}`},
		{`{"pid":"old"}`, "p1", "", false, `{"pid":"p1"}`}, // no offset: the replay starts at the session's start
		{`{"token":"x"}`, "", "", false, `{"token":"x"}`},  // no session: the auth as it was
		{"", "", "", false, ""},
	}
	for _, tt := range tests {
		got, err := sessionAuth([]byte(tt.auth), tt.pid, tt.offset, tt.hasOffset)
		if err != nil || string(got) != tt.want {
			t.Errorf("sessionAuth(%q, %q, %q) = %s, %v; want %s", tt.auth, tt.pid, tt.offset, got, err, tt.want)
		}
	}
}

// TestRecoverReceiverCounts feeds one receiver what a faulty server might
// replay: the counts must tell each fault apart.
func TestRecoverReceiverCounts(t *testing.T) {
	shared := &recoverShared{missed: 4, first: newProgress(), complete: newProgress()}
	rv := &recoverReceiver{shared: shared, seen: make([]bool, 5)}
	// What a recovering server broadcasts: the payload, then the offset.
	msg := func(seq int64, offset string) []byte {
		f := appendPublish(nil, contractHubd, fanoutRoom, 1, seq, nil)
		return append(appendString(append(f[:len(f)-1], ','), offset), ']')
	}
	rv.handle(msg(0, "off-0"))
	if !rv.got || rv.offset != "off-0" || shared.first.n.Load() != 1 {
		t.Fatalf("first event: got %v, offset %q", rv.got, rv.offset)
	}
	rv.awaiting, rv.sent = true, time.Now()
	for _, seq := range []int64{1, 3, 2, 2, 0} { // 2 after 3; 2 twice; 0 again
		rv.handle(msg(seq, "o"))
	}
	if rv.distinct != 3 || rv.dup != 2 || rv.ooo != 1 || shared.complete.n.Load() != 0 {
		t.Fatalf("distinct %d, dup %d, ooo %d, complete %d; want 3, 2, 1, 0", rv.distinct, rv.dup, rv.ooo, shared.complete.n.Load())
	}
	rv.handle(msg(4, "o"))
	if shared.complete.n.Load() != 1 || shared.hist.Count() != 1 {
		t.Fatalf("the 4th missed event did not end the recovery")
	}
}

// benchServer serves the bench contract on a hub.Server, as bench/hub does.
func benchServer(t *testing.T, recovery bool) *httptest.Server {
	t.Helper()
	var opts hub.Options
	if recovery {
		opts.ConnectionStateRecovery = &hub.RecoveryOptions{}
	}
	return benchServerWith(t, opts)
}

// benchServerWith is benchServer with the given options.
func benchServerWith(t *testing.T, opts hub.Options) *httptest.Server {
	t.Helper()
	srv := hub.New(opts)
	srv.OnConnection(func(s *hub.Socket) {
		s.On("join", func(ev *hub.Event) {
			var room string
			if err := ev.Args.Bind(&room); err == nil && room != "" {
				_ = s.Join(room)
			}
			_ = ev.Ack()
		})
		s.On("publish", func(ev *hub.Event) {
			var room string
			if err := ev.Args.Bind(&room); err != nil || room == "" {
				return
			}
			_ = srv.To(room).EmitArgs("msg", ev.Args.From(1))
		})
		s.On("echo", func(ev *hub.Event) {
			_ = ev.Ack(ev.Args)
		})
	})
	return serve(t, srv)
}

// hubdServer serves hubd's client contract on "/" (hub/relay).
func hubdServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := hub.New(hub.Options{ConnectionStateRecovery: &hub.RecoveryOptions{}})
	if err := relay.Attach(srv, relay.Config{}); err != nil {
		t.Fatal(err)
	}
	return serve(t, srv)
}

func serve(t *testing.T, srv *hub.Server) *httptest.Server {
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		ts.Close()
	})
	return ts
}

func recoverConfig(t *testing.T, url, contract string, n, missed int) *Config {
	t.Helper()
	cfg, err := parseFlags([]string{"recover", "-url", url, "-contract", contract,
		"-n", strconv.Itoa(n), "-missed", strconv.Itoa(missed), "-ramp", "8", "-timeout", "10s", "-drain", "10s", "-size", "16"})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func runRecoverT(t *testing.T, cfg *Config) *recoverReport {
	t.Helper()
	rep, err := runRecover(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := rep.(*recoverReport)
	var text strings.Builder
	r.writeText(&text)
	t.Log("\n" + text.String())
	return r
}

func TestRecoverScenario(t *testing.T) {
	const n, missed = 20, 50
	for _, tt := range []struct {
		contract string
		server   func(*testing.T) *httptest.Server
	}{
		{contractBench, func(t *testing.T) *httptest.Server { return benchServer(t, true) }},
		{contractHubd, hubdServer},
	} {
		t.Run(tt.contract, func(t *testing.T) {
			ts := tt.server(t)
			r := runRecoverT(t, recoverConfig(t, ts.URL, tt.contract, n, missed))
			if r.Connected != n || r.WithSession != n || r.CutNotClosed != 0 {
				t.Fatalf("connected %d, with session %d, cut not closed %d; want %d, %d, 0", r.Connected, r.WithSession, r.CutNotClosed, n, n)
			}
			if r.Recovered != n || r.NotRecovered != 0 || r.ReconnectFailed != 0 {
				t.Fatalf("recovered %d, not recovered %d, reconnect failed %d (%v); want all %d recovered",
					r.Recovered, r.NotRecovered, r.ReconnectFailed, r.ReconnectErrors, n)
			}
			if r.Missing != 0 || r.Duplicates != 0 || r.OutOfOrder != 0 {
				t.Fatalf("missing %d, duplicates %d, out of order %d; want none", r.Missing, r.Duplicates, r.OutOfOrder)
			}
			if r.RecoveryTime.Count != n {
				t.Fatalf("%d recovery times; want %d", r.RecoveryTime.Count, n)
			}
		})
	}
}

// TestRecoverScenarioWithoutRecovery: a server without recovery gives every
// receiver a fresh session, and the scenario says so.
func TestRecoverScenarioWithoutRecovery(t *testing.T) {
	const n = 10
	ts := benchServer(t, false)
	r := runRecoverT(t, recoverConfig(t, ts.URL, contractBench, n, 5))
	if r.WithSession != 0 || r.Recovered != 0 || r.NotRecovered != n || r.RecoveryTime.Count != 0 {
		t.Fatalf("with session %d, recovered %d, not recovered %d, %d recovery times; want 0, 0, %d, 0",
			r.WithSession, r.Recovered, r.NotRecovered, r.RecoveryTime.Count, n)
	}
}

func TestParseRecoverFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"recover"})
	if err != nil || cfg.Clients != 200 || cfg.Missed != 100 || cfg.Contract != contractBench {
		t.Fatalf("recover defaults: %+v, %v", cfg, err)
	}
	if _, err := parseFlags([]string{"recover", "-missed", "-1"}); err == nil {
		t.Fatal("-missed -1 accepted")
	}
}
