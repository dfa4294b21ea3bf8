package adminui_test

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/adminui"
	"golang.org/x/crypto/bcrypt"
)

// TestUIClient: the real socket.io-client, as the UI drives it (polling
// first, then the upgrade), logs in, gets its session, the config and the
// sockets, sees a socket connect and has an emit reach it; then comes back
// with its session id alone.
func TestUIClient(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	_, _, url := server(t, hub.Options{}, adminui.Options{
		Auth: &adminui.BasicAuth{Username: "admin", PasswordHash: string(hash)},
	})
	refused := startUI(t, url, map[string]string{"username": "admin", "password": "nope"})
	refused.wait(t, "the refusal", func(l uiLine) bool { return l.ConnectError == "invalid credentials" })

	ui := startUI(t, url, map[string]string{"username": "admin", "password": "s3cret"})
	ui.connected(t)
	var session string
	_ = json.Unmarshal(ui.event(t, "session", func([]json.RawMessage) bool { return true })[0], &session)
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(session) {
		t.Fatalf("session %q", session)
	}
	ui.event(t, "config", func([]json.RawMessage) bool { return true })
	ui.event(t, "all_sockets", func([]json.RawMessage) bool { return true })

	c := dial(t, url)
	id := connect(t, c, "/", nil)
	ui.event(t, "socket_connected", func(args []json.RawMessage) bool { _, ok := socketIDs(args[0])[id]; return ok })
	ui.event(t, "server_stats", func(args []json.RawMessage) bool {
		var st stats
		if json.Unmarshal(args[0], &st) != nil || st.ClientsCount < 2 {
			return false
		}
		for _, n := range st.Namespaces {
			if n.Name == "/" && n.SocketsCount == 1 {
				return true
			}
		}
		return false
	})
	ui.emit(t, "emit", "/", id, "news", map[string]any{"text": "from the UI"})
	p, err := c.WaitEvent("/", "news", testWait)
	if err != nil || string(p.Args[0]) != `{"text":"from the UI"}` {
		t.Fatalf("the UI's emit: %v %v", p, err)
	}

	back := startUI(t, url, map[string]string{"sessionId": session})
	back.connected(t)
	back.event(t, "config", func([]json.RawMessage) bool { return true })
}
