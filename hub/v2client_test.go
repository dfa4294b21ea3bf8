package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hubd/hubd/hub/internal/sio"
)

func TestV2Packet(t *testing.T) {
	cases := []struct {
		in, nsp, data string
	}{
		{"0/chat?token=abc,", "/chat", `{"token":"abc"}`},
		{"0/chat,", "/chat", ""},
		{"0/chat?,", "/chat", ""},
		{"0/chat?a=1&b=2&a=3,", "/chat", `{"a":"3","b":"2"}`},
		{"0/chat?q=a+b%20c&empty=&flag,", "/chat", `{"q":"a b c","empty":"","flag":""}`},
		{"0/chat?bad=%zz&x=%E2%9C%93,", "/chat", `{"bad":"%zz","x":"✓"}`},
		{"0/chat?quote=%22%5C,", "/chat", `{"quote":"\"\\"}`},
		{"0/chat?invalid=%ff,", "/chat", `{"invalid":"\ufffd"}`},
		{"0/chat?a=1#frag,", "/chat", `{"a":"1"}`},
		{"0/chat#frag?a=1,", "/chat", ""},
		{`2/chat?x=1,["ev"]`, "/chat", `["ev"]`},
		{`2["ev"]`, "/", `["ev"]`},
	}
	for _, tc := range cases {
		p, err := sio.Decode([]byte(tc.in), 10)
		if err != nil {
			t.Fatalf("Decode(%q): %v", tc.in, err)
		}
		v2Packet(&p)
		if p.Nsp != tc.nsp || string(p.Data) != tc.data {
			t.Errorf("%q: namespace %q data %q, want %q %q", tc.in, p.Nsp, p.Data, tc.nsp, tc.data)
		}
		if p.Type == sio.Connect && p.Data != nil && !json.Valid(p.Data) {
			t.Errorf("%q: auth %q is not JSON", tc.in, p.Data)
		}
	}
}

// TestV2QueryBound: a query of many parameters gives the first
// maxQueryParams of them.
func TestV2QueryBound(t *testing.T) {
	q := strings.Repeat("k=v&", maxQueryParams) + strings.Repeat("x=1&", 10) + strings.Repeat("&", 1000)
	var m map[string]string
	if err := json.Unmarshal(queryObject(q), &m); err != nil || len(m) != 1 || m["k"] != "v" {
		t.Fatalf("%v %v", m, err)
	}
	var b strings.Builder
	for i := range maxQueryParams + 5 {
		fmt.Fprintf(&b, "k%d=%d&", i, i)
	}
	m = nil
	if err := json.Unmarshal(queryObject(b.String()), &m); err != nil || len(m) != maxQueryParams {
		t.Fatalf("%d parameters, want %d (%v)", len(m), maxQueryParams, err)
	}
}

func TestV2SocketID(t *testing.T) {
	if got := v2SocketID("/", "abc"); got != "abc" {
		t.Errorf("main namespace: %q", got)
	}
	if got := v2SocketID("/chat", "abc"); got != "/chat#abc" {
		t.Errorf("/chat: %q", got)
	}
}

func TestV2ConnectErrorPayload(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{errors.New("go away"), `"go away"`},
		{&ConnectError{Message: "no"}, `"no"`},
		{&ConnectError{Message: "no", Data: map[string]any{"code": 403}}, `{"code":403}`},
		{&ConnectError{Message: "no", Data: "text"}, `"text"`},
		{&ConnectError{Message: "bad \xff"}, `"bad \ufffd"`},
	}
	for _, tc := range cases {
		if got := string(v2ConnectErrorPayload(tc.err)); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.err, got, tc.want)
		}
	}
}

// FuzzV2Namespace: whatever namespace a 2.x client sends, the auth made of
// its query is a JSON object of valid UTF-8, and the namespace keeps no
// query.
func FuzzV2Namespace(f *testing.F) {
	for _, s := range []string{"/chat?token=abc", "/?a=1&a=2", "/x?%", "/x?=&=&", "/x#?a", "/x?a=%ff%fe", "/x?a=\"\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, nsp string) {
		if !utf8.ValidString(nsp) {
			return // the decoder refuses such packets first
		}
		p := sio.Packet{Type: sio.Connect, Nsp: nsp}
		v2Packet(&p)
		for _, c := range p.Nsp {
			if c == '?' || c == '#' {
				t.Fatalf("namespace %q kept %q", p.Nsp, c)
			}
		}
		if p.Data == nil {
			return
		}
		var m map[string]string
		if err := json.Unmarshal(p.Data, &m); err != nil || !utf8.Valid(p.Data) {
			t.Fatalf("auth %q from %q: %v", p.Data, nsp, err)
		}
	})
}
