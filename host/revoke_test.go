package host_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/httpapi"
)

// hostileRevocations are revocations that must be refused, each with what
// its error must say.
var hostileRevocations = []struct {
	name, body string
	want       []string
}{
	{"no selector", `{"namespace": "/"}`, []string{"no selector"}},
	{"rooms not a list", `{"rooms": "vip"}`, []string{"rooms must be a JSON array, not string"}},
	{"a number for a room", `{"rooms": [1]}`, []string{"must be a JSON string, not number"}},
	{"too many rooms", `{"rooms": [` + strings.Repeat(`"r",`, host.MaxRevokeRooms) + `"r"]}`, []string{"rooms has 257 names, at most 256"}},
	{"too many sockets", `{"sockets": [` + strings.Repeat(`"s",`, host.MaxRevokeSockets) + `"s"]}`, []string{"sockets has 1025 names, at most 1024"}},
	{"empty room", `{"rooms": [""]}`, []string{"rooms[0] is 0 bytes long"}},
	{"huge room", `{"rooms": ["` + strings.Repeat("r", 300) + `"]}`, []string{"rooms[0] is 300 bytes long"}},
	{"deep path", `{"data": {"path": "` + strings.Repeat("a.", 20) + `a", "equals": 1}}`, []string{"21 segments deep, at most 16"}},
	{"long path", `{"data": {"path": "` + strings.Repeat("a", 300) + `", "equals": 1}}`, []string{"300 bytes long, at most 256"}},
	{"empty segment", `{"data": {"path": "user..sub", "equals": 1}}`, []string{`segment 2 of "user..sub" is empty`}},
	{"no path", `{"data": {"equals": 1}}`, []string{"data.path: empty"}},
	{"no value", `{"data": {"path": "user.sub"}}`, []string{"data.equals is missing"}},
	{"huge value", `{"data": {"path": "a", "equals": "` + strings.Repeat("x", 2000) + `"}}`, []string{"data.equals is 2002 bytes of JSON, at most 1024"}},
	{"data not an object", `{"data": "user.sub=u1"}`, []string{"data must be a JSON object, not string"}},
	{"unknown recheck", `{"rooms": ["a"], "recheck": "everything"}`, []string{`recheck "everything"`}},
	{"misspelt field", `{"room": ["a"]}`, []string{`unknown field "room"`}},
	{"two values", `{"rooms": ["a"]} {}`, []string{"more than one JSON value"}},
	{"not an object", `["a"]`, []string{"a revocation is a JSON object"}},
	{"huge", `{"rooms": ["` + strings.Repeat("r", 70<<10) + `"]}`, []string{"at most 65536"}},
	{"every problem at once", `{"rooms": [""], "recheck": "x", "data": {"path": "a..b", "equals": 1}}`,
		[]string{"rooms[0]", `recheck "x"`, "segment 2"}},
}

// TestRevocationHostile: hostile selectors — huge, deep, of the wrong
// type — are refused with an error that says what to fix, by the parser
// and by the HTTP API (400), before any socket is looked at.
func TestRevocationHostile(t *testing.T) {
	h := host.New(nil)
	srv := hub.New(hub.Options{})
	rv, err := h.ServeRevocations(srv, host.RevokeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rv.Close(); _ = srv.Close() })
	api, err := httpapi.New(srv, httpapi.Config{Key: revokeKey, Revoke: rv.RevokeJSON, MaxBody: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(api)
	t.Cleanup(ts.Close)
	for _, tt := range hostileRevocations {
		t.Run(tt.name, func(t *testing.T) {
			_, err := host.ParseRevocation([]byte(tt.body))
			if !errors.Is(err, host.ErrBadRevocation) {
				t.Fatalf("ParseRevocation: %v, want an error wrapping ErrBadRevocation", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			status, body := postRevoke(t, strings.TrimSuffix(ts.URL, "/"), tt.body)
			var answer struct {
				OK    bool   `json:"ok"`
				Error string `json:"error"`
			}
			if err := json.Unmarshal(body, &answer); err != nil || status != http.StatusBadRequest || answer.OK || !strings.Contains(answer.Error, tt.want[0]) {
				t.Errorf("POST revoke: %d %s, want 400 saying %q", status, body, tt.want[0])
			}
		})
	}
}

// TestRevocationValid: what a valid revocation may be.
func TestRevocationValid(t *testing.T) {
	for _, body := range []string{
		`{"rooms": ["vip"]}`,
		`{"namespace": "/chat", "sockets": ["abc"], "recheck": "connect"}`,
		`{"data": {"path": "user.sub", "equals": "u123"}}`,
		`{"data": {"path": "groups.0", "equals": {"id": 1, "tags": ["a"]}}, "rooms": ["a", "b"]}`,
		`{"data": {"path": "banned", "equals": null}}`,
	} {
		if _, err := host.ParseRevocation([]byte(body)); err != nil {
			t.Errorf("%s: %v", body, err)
		}
	}
}

// FuzzParseRevocation: no input makes the parser panic, and whatever it
// accepts validates and survives a round trip.
func FuzzParseRevocation(f *testing.F) {
	for _, tt := range hostileRevocations {
		if len(tt.body) < 4096 {
			f.Add([]byte(tt.body))
		}
	}
	f.Add([]byte(`{"data": {"path": "user.sub", "equals": "u123"}, "recheck": "connect"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		rev, err := host.ParseRevocation(raw)
		if err != nil {
			return
		}
		b, err := json.Marshal(rev)
		if err != nil {
			t.Fatalf("%+v: %v", rev, err)
		}
		if _, err := host.ParseRevocation(b); err != nil {
			t.Fatalf("%s accepted, its round trip %s refused: %v", raw, b, err)
		}
	})
}

// TestRevocationDataMatch: a data selector matches the value at its path
// by JSON value, and nothing when the path runs into another type, off an
// array or into nothing.
func TestRevocationDataMatch(t *testing.T) {
	data := `{"user": {"sub": "u1", "n": 7, "groups": ["a", {"id": 2}], "flags": {"x": true, "y": null}}, "list": [1, 2]}`
	for _, tt := range []struct {
		path, equals string
		want         bool
	}{
		{"user.sub", `"u1"`, true},
		{"user.sub", `"u2"`, false},
		{"user.n", `7.0`, true},
		{"user.n", `"7"`, false},
		{"user.groups.0", `"a"`, true},
		{"user.groups.1.id", `2`, true},
		{"user.groups.2", `"a"`, false},
		{"user.groups.-1", `"a"`, false},
		{"user.groups.x", `"a"`, false},
		{"user.flags", `{"y": null, "x": true}`, true},
		{"user.flags.y", `null`, true},
		{"user.flags.z", `null`, false},
		{"user.sub.deeper", `"u1"`, false},
		{"list.1", `2`, true},
		{"list", `[1, 2]`, true},
		{"nothing", `null`, false},
	} {
		rev := host.Revocation{Data: &host.DataSelector{Path: tt.path, Equals: json.RawMessage(tt.equals)}}
		got, err := host.MatchRevocationData(rev, []byte(data))
		if err != nil || got != tt.want {
			t.Errorf("%s = %s: %v (%v), want %v", tt.path, tt.equals, got, err, tt.want)
		}
	}
	for _, raw := range []string{``, `null`, `"u1"`, `[1]`, `{"user": "u1"}`, `{broken`} {
		rev := host.Revocation{Data: &host.DataSelector{Path: "user.sub", Equals: json.RawMessage(`"u1"`)}}
		if got, _ := host.MatchRevocationData(rev, []byte(raw)); got {
			t.Errorf("data %q matched user.sub", raw)
		}
	}
}
