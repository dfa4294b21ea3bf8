package redisadapter

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParseStreamID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want streamID
		ok   bool
	}{
		{"0-0", streamID{0, 0}, true},
		{"1700000000000-12", streamID{1700000000000, 12}, true},
		{"18446744073709551615-18446744073709551615", streamID{1<<64 - 1, 1<<64 - 1}, true},
		{"18446744073709551616-0", streamID{}, false}, // past 64 bits
		{"", streamID{}, false},
		{"1", streamID{}, false},
		{"1-", streamID{}, false},
		{"-1", streamID{}, false},
		{"1--1", streamID{}, false},
		{"+1-1", streamID{}, false},
		{"1-1-1", streamID{}, false},
		{" 1-1", streamID{}, false},
		{"abc", streamID{}, false},
		{"\x00", streamID{}, false},
		{"507f191e810c19729de860ea", streamID{}, false},
		{strings.Repeat("9", 30) + "-0", streamID{}, false},
	} {
		got, ok := parseStreamID(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseStreamID(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
		if ok && got.String() != tc.in {
			t.Errorf("%q reads back as %q", tc.in, got.String())
		}
	}
	if n := (streamID{5, 1<<64 - 1}).next(); n != (streamID{6, 0}) {
		t.Errorf("next of the last sequence = %v", n)
	}
	if !(streamID{1, 9}).less(streamID{2, 0}) || (streamID{2, 0}).less(streamID{1, 9}) || (streamID{1, 1}).less(streamID{1, 1}) {
		t.Error("less orders by milliseconds, then sequence")
	}
}

// The stream of a namespace is the one Node's hashCode picks, the sign of
// the remainder included; the values come from running Node's function.
func TestStreamOf(t *testing.T) {
	for _, tc := range []struct {
		nsp  string
		hash int32
		of3  string
	}{
		{"/", 47, "s-2"},
		{"/chat", 46457863, "s-1"},
		{"/ünïcødé", -301512856, "s--1"},
		{"/😀", 1818066, "s-0"}, // two UTF-16 code units
		{"/a-very-long-namespace-name-to-overflow-the-32-bit-hash", -1800020596, "s--1"},
	} {
		if h := javaHash(tc.nsp); h != tc.hash {
			t.Errorf("javaHash(%q) = %d, want %d", tc.nsp, h, tc.hash)
		}
		if s := streamOf("s", 3, tc.nsp); s != tc.of3 {
			t.Errorf("streamOf(%q) = %s, want %s", tc.nsp, s, tc.of3)
		}
		if s := streamOf("s", 1, tc.nsp); s != "s" {
			t.Errorf("one stream: %s", s)
		}
	}
}

// A record Node wrote (@msgpack/msgpack's encode of {sid, pid, rooms,
// data}, base64) reads as a session with no hubd fields; hubd's records
// read back as written.
func TestSessionRecords(t *testing.T) {
	const fromNode = "hKNzaWSjYWJjo3BpZKJwMaVyb29tc5OjYWJjoXIqpGRhdGGEpHVzZXKheKFuyz/4AAAAAAAAoWLEAgECpm5lc3RlZIGhYZLDwA=="
	r, err := decodeRecord(fromNode)
	if err != nil {
		t.Fatal(err)
	}
	var data map[string]any
	if err := json.Unmarshal(r.data, &data); err != nil {
		t.Fatal(err)
	}
	if r.sid != "abc" || r.pid != "p1" || strings.Join(r.rooms, ",") != "abc,r,42" || r.live || r.owner != "" || r.start != "" || r.nsp != "" ||
		data["user"] != "x" || data["n"] != 1.5 {
		t.Fatalf("Node's record read as %+v, data %s", r, r.data)
	}
	if b, _ := data["b"].(map[string]any); b["type"] != "Buffer" {
		t.Errorf("binary data reads as Node's Buffer JSON: %v", data["b"])
	}

	in := &sessionRecord{sid: "s", pid: "p", rooms: []string{"s", "r"}, data: json.RawMessage(`{"a":[1,2.5,"é",null,true],"o":{}}`),
		owner: "0123456789abcdef", live: true, start: "1-2", nsp: "/chat"}
	enc, err := in.encode()
	if err != nil {
		t.Fatal(err)
	}
	out, err := decodeRecord(enc)
	if err != nil {
		t.Fatal(err)
	}
	if out.sid != in.sid || out.pid != in.pid || strings.Join(out.rooms, ",") != "s,r" || string(out.data) != string(in.data) ||
		out.owner != in.owner || !out.live || out.start != in.start || out.nsp != in.nsp {
		t.Fatalf("read back as %+v, data %s", out, out.data)
	}

	for name, bad := range map[string]string{
		"not base64":  "%%%",
		"not msgpack": "wQ==",
		"not a map":   "kQ==",
		"no pid":      "gaNzaWSjYWJj",
		"too big":     strings.Repeat("A", maxRecordBytes+4),
		"rooms a map": "g6NzaWSjYWJjo3BpZKJwMaVyb29tc4A=",
	} {
		if _, err := decodeRecord(bad); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}
