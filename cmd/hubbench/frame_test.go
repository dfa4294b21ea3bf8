package main

import (
	"testing"
)

func TestParseAck(t *testing.T) {
	tests := []struct {
		frame string
		id    uint64
		args  string
		ok    bool
	}{
		{`430[]`, 0, `[]`, true},
		{`4312["x",{"t":1}]`, 12, `["x",{"t":1}]`, true},
		{`43[]`, 0, "", false},          // no id
		{`42["msg"]`, 0, "", false},     // an event
		{`3`, 0, "", false},             // a pong
		{`40{"sid":"a"}`, 0, "", false}, // connect reply
	}
	for _, tt := range tests {
		id, args, ok := parseAck([]byte(tt.frame))
		if ok != tt.ok || id != tt.id || string(args) != tt.args {
			t.Errorf("parseAck(%q) = %d, %q, %v; want %d, %q, %v", tt.frame, id, args, ok, tt.id, tt.args, tt.ok)
		}
	}
}

func TestParseEvent(t *testing.T) {
	tests := []struct {
		frame, name, rest string
		ok                bool
	}{
		{`42["msg",{"t":5}]`, "msg", `,{"t":5}]`, true},
		{`427["echo",1]`, "echo", `,1]`, true},
		{`42["ping"]`, "ping", `]`, true},
		{`42[1,2]`, "", "", false}, // numeric event name
		{`42["unterminated`, "", "", false},
		{`43["msg"]`, "", "", false},
		{`2`, "", "", false},
	}
	for _, tt := range tests {
		name, rest, ok := parseEvent([]byte(tt.frame))
		if ok != tt.ok || string(name) != tt.name || string(rest) != tt.rest {
			t.Errorf("parseEvent(%q) = %q, %q, %v; want %q, %q, %v", tt.frame, name, rest, ok, tt.name, tt.rest, tt.ok)
		}
	}
}

func TestIntField(t *testing.T) {
	tests := []struct {
		in, key string
		want    int64
		ok      bool
	}{
		{`{"t":1700000000123456789,"s":42,"p":"xx"}`, "t", 1700000000123456789, true},
		{`{"t":1700000000123456789,"s":42,"p":"xx"}`, "s", 42, true},
		{`{"s":-3}`, "s", -3, true},
		{`{"s":"3"}`, "s", 0, false},
		{`{"t":99999999999999999999}`, "t", 0, false}, // overflow
		{`{"x":1}`, "t", 0, false},
		{`{"t":}`, "t", 0, false},
	}
	for _, tt := range tests {
		got, ok := intField([]byte(tt.in), tt.key)
		if got != tt.want || ok != tt.ok {
			t.Errorf("intField(%q, %q) = %d, %v; want %d, %v", tt.in, tt.key, got, ok, tt.want, tt.ok)
		}
	}
}

func TestBuiltFramesScanBack(t *testing.T) {
	frame := appendEmit(nil, -1, "publish")
	frame = appendString(frame, "bench")
	frame = append(frame, ',')
	frame = appendPayload(frame, 1234567890, 77, padding(5))
	frame = append(frame, ']')
	if want := `42["publish","bench",{"t":1234567890,"s":77,"p":"xxxxx"}]`; string(frame) != want {
		t.Fatalf("publish frame = %s, want %s", frame, want)
	}

	// What a server broadcasts for it, and what a receiver extracts.
	msg := []byte(`42["msg",{"t":1234567890,"s":77,"p":"xxxxx"}]`)
	name, rest, ok := parseEvent(msg)
	if !ok || string(name) != "msg" {
		t.Fatalf("parseEvent = %q, %v", name, ok)
	}
	if ts, _ := intField(rest, "t"); ts != 1234567890 {
		t.Errorf("t = %d", ts)
	}
	if s, _ := intField(rest, "s"); s != 77 {
		t.Errorf("s = %d", s)
	}

	echo := appendEmit(nil, 9, "echo")
	if string(echo) != `429["echo",` {
		t.Errorf("echo prefix = %s", echo)
	}
}

func TestLeadingUintSaturates(t *testing.T) {
	v, n := leadingUint([]byte("18446744073709551616x"))
	if v != 1<<64-1 || n != 20 {
		t.Fatalf("got %d, %d", v, n)
	}
}

func TestScanDoesNotAllocate(t *testing.T) {
	msg := []byte(`42["msg",{"t":1234567890,"s":77,"p":"xxxxx"}]`)
	n := testing.AllocsPerRun(1000, func() {
		_, rest, _ := parseEvent(msg)
		intField(rest, "t")
		intField(rest, "s")
	})
	if n != 0 {
		t.Fatalf("scanning allocates %.1f times", n)
	}
}

func TestAppendPublish(t *testing.T) {
	pad := padding(3)
	tests := []struct {
		contract, want string
	}{
		{contractBench, `42["publish","bench",{"t":12,"s":7,"p":"xxx"}]`},
		{contractHubd, `42["msg",{"t":12,"s":7,"p":"xxx"}]`},
	}
	for _, tt := range tests {
		got := string(appendPublish(nil, tt.contract, "bench", 12, 7, pad))
		if got != tt.want {
			t.Errorf("appendPublish(%s) = %s; want %s", tt.contract, got, tt.want)
		}
	}
	// What the hubd publisher sends is what receivers parse.
	var r receiver
	r.shared = &fanoutShared{}
	r.handle(appendPublish(nil, contractHubd, "bench", 12, 0, pad))
	if r.count != 1 || r.next != 1 {
		t.Errorf("receiver did not count the hubd publish: %+v", r)
	}
}

func TestAppendConnect(t *testing.T) {
	if got := string(appendConnect(nil, nil)); got != "40" {
		t.Errorf("no auth: %q", got)
	}
	if got := string(appendConnect(nil, []byte(`{"token":"a.b.c"}`))); got != `40{"token":"a.b.c"}` {
		t.Errorf("auth: %q", got)
	}
}

func TestLastStringArg(t *testing.T) {
	tests := []struct {
		frame, want string
		ok          bool
	}{
		{`42["msg",{"t":1,"s":0},"ab3f-1"]`, "ab3f-1", true},
		{`42["msg","x"]`, "x", true},
		{`42["msg",{"t":1},"1700000000000-0"]`, "1700000000000-0", true},
		{`42["msg",{"t":1},""]`, "", true},
		{`42["msg",{"p":"a\",\"b"},"o\"1"]`, `o"1`, true}, // escaped quotes
		{`42["msg",1,"a\\"]`, `a\`, true},                 // escaped backslash before the closing quote
		{`42["msg",{"t":1,"s":0}]`, "", false},            // no offset: recovery off
		{`42["msg"]`, "", false},                          // the name is no argument
		{`42["msg",["a"]]`, "", false},
		{`43["x"]`, "", false},
		{`40{"sid":"a"}`, "", false},
	}
	for _, tt := range tests {
		got, ok := lastStringArg([]byte(tt.frame))
		if got != tt.want || ok != tt.ok {
			t.Errorf("lastStringArg(%s) = %q, %v; want %q, %v", tt.frame, got, ok, tt.want, tt.ok)
		}
	}
}
