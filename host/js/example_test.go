package js

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/sdk/wire"
)

// readmeBlock returns the first fenced block of a language in the SDK's
// README.
func readmeBlock(t *testing.T, lang string) string {
	t.Helper()
	b, err := os.ReadFile("../../sdk/js/README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	start := strings.Index(s, "```"+lang+"\n")
	if start < 0 {
		t.Fatalf("no %s block in the README", lang)
	}
	s = s[start+len(lang)+4:]
	return s[:strings.Index(s, "```")]
}

// TestSDKExample runs the plugin the SDK's README shows, with its
// manifest's config.
func TestSDKExample(t *testing.T) {
	var m host.Manifest
	if err := json.Unmarshal([]byte(readmeBlock(t, "json")), &m); err != nil {
		t.Fatal(err)
	}
	var logs logBuffer
	p := loadSource(t, readmeBlock(t, "js"), withConfig(string(m.Config)), withLogger(logs.logger()))
	if got := p.Hooks(); !equalHooks(got, []host.Hook{host.HookConnect, host.HookEvent}) {
		t.Errorf("hooks %v", got)
	}

	anon := connectEnv()
	anon.Handshake.Auth = nil
	if d := mustDecide(t, p, anon); d.Action != host.Deny || d.Reason != "missing token" || string(d.Data) != `{"temporary":false}` {
		t.Errorf("connect without a token: %+v", d)
	}
	if d := mustDecide(t, p, connectEnv()); string(d.SocketData) != `{"user":"t-42"}` || len(d.Join) != 1 || d.Join[0] != "user:t-42" {
		t.Errorf("connect: %+v", d)
	}

	user := func(event, args string) *host.Envelope {
		env := eventEnv("s1", event, args)
		env.Socket.Data = wire.Raw(`{"user":"t-42"}`)
		return env
	}
	ping := user("ping", `[]`)
	ping.Ack = true
	if d := mustDecide(t, p, ping); d.Action != host.Reply || string(d.Reply) != `["pong"]` {
		t.Errorf("ping: %+v", d)
	}
	if d := mustDecide(t, p, user("chat", `["buy spam now"]`)); d.Action != host.Drop {
		t.Errorf("banned: %+v", d)
	}
	if !strings.Contains(logs.String(), "dropped a message from t-42") {
		t.Errorf("no log line: %s", logs.String())
	}
	if d := mustDecide(t, p, user("chat", `["  hello  "]`)); string(d.Args) != `[{"from":"t-42","text":"hello"}]` {
		t.Errorf("chat: %+v %s", d, d.Args)
	}
	if d := mustDecide(t, p, user("typing", `[]`)); d.Action != "" || d.Args != nil {
		t.Errorf("other event: %+v", d)
	}
}
