package main

import "testing"

func TestWSURL(t *testing.T) {
	tests := []struct {
		url, path string
		remote    bool
		want      string
		ok        bool
	}{
		{"http://127.0.0.1:3000", "/socket.io/", false, "ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket", true},
		{"http://localhost:3001/", "socket.io", false, "ws://localhost:3001/socket.io/?EIO=4&transport=websocket", true},
		{"https://[::1]:8443", "/x/", false, "wss://[::1]:8443/x/?EIO=4&transport=websocket", true},
		{"http://10.0.0.1:3000", "/socket.io/", false, "", false},
		{"http://example.com", "/socket.io/", false, "", false},
		{"http://10.0.0.1:3000", "/socket.io/", true, "ws://10.0.0.1:3000/socket.io/?EIO=4&transport=websocket", true},
		{"ftp://127.0.0.1", "/socket.io/", false, "", false},
	}
	for _, tt := range tests {
		c := &Config{URL: tt.url, Path: tt.path, AllowRemote: tt.remote}
		got, err := c.wsURL()
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("wsURL(%q, %q, remote=%v) = %q, %v; want %q, ok=%v", tt.url, tt.path, tt.remote, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"idle", "-pid", "0"})
	if err != nil || cfg.Scenario != "idle" || cfg.Clients != 5000 {
		t.Fatalf("idle defaults: %+v, %v", cfg, err)
	}
	cfg, err = parseFlags([]string{"-scenario", "fanout", "-n", "10"})
	if err != nil || cfg.Scenario != "fanout" || cfg.Clients != 10 {
		t.Fatalf("fanout: %+v, %v", cfg, err)
	}
	if _, err := parseFlags([]string{"bogus"}); err == nil {
		t.Fatal("unknown scenario accepted")
	}
	if _, err := parseFlags([]string{"ack", "-url", "http://192.0.2.1:3000"}); err == nil {
		t.Fatal("remote target accepted without -allow-remote")
	}
}

func TestParseContractAndAuth(t *testing.T) {
	cfg, err := parseFlags([]string{"fanout"})
	if err != nil || cfg.Contract != contractBench {
		t.Fatalf("default contract: %+v, %v", cfg, err)
	}
	cfg, err = parseFlags([]string{"fanout", "-contract", "hubd", "-auth", `{"token":"x"}`})
	if err != nil || cfg.Contract != contractHubd {
		t.Fatalf("hubd: %+v, %v", cfg, err)
	}
	if d := cfg.newDialer("ws://127.0.0.1/"); d.joinEvent != "hub:join" || string(d.auth) != `{"token":"x"}` {
		t.Fatalf("dialer: join %q auth %q", d.joinEvent, d.auth)
	}
	if _, err := parseFlags([]string{"fanout", "-contract", "other"}); err == nil {
		t.Fatal("unknown contract accepted")
	}
	for _, auth := range []string{`[1]`, `"x"`, `null`, `{`} {
		if _, err := parseFlags([]string{"fanout", "-auth", auth}); err == nil {
			t.Fatalf("-auth %s accepted", auth)
		}
	}
}

func TestReceiverURLs(t *testing.T) {
	cfg, err := parseFlags([]string{"fanout", "-url", "http://127.0.0.1:3000", "-receivers-url", "http://127.0.0.1:3001, http://127.0.0.1:3002"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := cfg.receiverWSURLs()
	want := []string{"ws://127.0.0.1:3001/socket.io/?EIO=4&transport=websocket", "ws://127.0.0.1:3002/socket.io/?EIO=4&transport=websocket"}
	if err != nil || len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("receiverWSURLs = %q, %v", got, err)
	}
	if _, err := parseFlags([]string{"fanout", "-receivers-url", "http://192.0.2.1:3000"}); err == nil {
		t.Fatal("remote receivers accepted without -allow-remote")
	}
	// Receivers go round-robin over the publisher's server and the others.
	r := &ramp{dialer: &Dialer{}, others: []*Dialer{{}, {}}}
	var seq []*Dialer
	for range 6 {
		seq = append(seq, r.pick())
	}
	if seq[0] != r.dialer || seq[1] != r.others[0] || seq[2] != r.others[1] || seq[3] != r.dialer || seq[5] != r.others[1] {
		t.Fatalf("pick order wrong")
	}
}

func TestParseReceiversIO(t *testing.T) {
	cfg, err := parseFlags([]string{"fanout"})
	if err != nil || cfg.ReceiversIO != receiversGoroutine {
		t.Fatalf("default: %+v, %v", cfg, err)
	}
	_, err = parseFlags([]string{"fanout", "-receivers-io", "epoll"})
	if epollSupported != (err == nil) {
		t.Fatalf("-receivers-io epoll with support %v: %v", epollSupported, err)
	}
	if _, err := parseFlags([]string{"fanout", "-receivers-io", "threads"}); err == nil {
		t.Fatal("unknown receiver mode accepted")
	}
}
