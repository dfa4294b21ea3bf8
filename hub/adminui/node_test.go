package adminui_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hubd/hubd/internal/nodeproc"
)

// nodeDir is testdata, where the Node scripts and their packages are.
func nodeDir(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@socket.io", "admin-ui")); err != nil {
		t.Fatalf("the admin UI's npm packages are missing: run `npm ci` in %s (scripts/test.sh does)", dir)
	}
	return dir
}

// uiLine is one line ui.mjs printed.
type uiLine struct {
	Connected    string            `json:"connected"`
	ConnectError string            `json:"connect_error"`
	Disconnected string            `json:"disconnected"`
	Event        string            `json:"event"`
	Args         []json.RawMessage `json:"args"`
}

// nodeUI is ui.mjs, the admin UI's wire behaviour with the real
// socket.io-client, connected to one server.
type nodeUI struct {
	*nodeproc.Proc
	mu      sync.Mutex
	lines   []uiLine
	changed chan struct{}
}

// startUI runs ui.mjs against the server at url with auth (nil: none).
func startUI(t *testing.T, url string, auth any) *nodeUI {
	t.Helper()
	a, _ := json.Marshal(auth)
	if auth == nil {
		a = []byte("{}")
	}
	cmd := exec.Command("node", "ui.mjs", url, string(a))
	cmd.Dir = nodeDir(t)
	u := &nodeUI{changed: make(chan struct{})}
	u.Proc = nodeproc.StartCommand(t, cmd, func(line []byte) {
		var l uiLine
		if line == nil || json.Unmarshal(line, &l) != nil {
			return
		}
		u.mu.Lock()
		u.lines = append(u.lines, l)
		close(u.changed)
		u.changed = make(chan struct{})
		u.mu.Unlock()
	})
	return u
}

// wait returns the first line match accepts, waiting up to testWait.
func (u *nodeUI) wait(t *testing.T, what string, match func(uiLine) bool) uiLine {
	t.Helper()
	deadline := time.After(testWait)
	for {
		u.mu.Lock()
		for _, l := range u.lines {
			if match(l) {
				u.mu.Unlock()
				return l
			}
		}
		changed := u.changed
		n := len(u.lines)
		u.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("the UI (socket.io-client) did not get %s in %d lines: %s", what, n, u.dump())
		}
	}
}

// event waits for an event named name whose arguments match accepts.
func (u *nodeUI) event(t *testing.T, name string, match func(args []json.RawMessage) bool) []json.RawMessage {
	t.Helper()
	return u.wait(t, name, func(l uiLine) bool { return l.Event == name && match(l.Args) }).Args
}

func (u *nodeUI) connected(t *testing.T) {
	t.Helper()
	l := u.wait(t, "connected", func(l uiLine) bool { return l.Connected != "" || l.ConnectError != "" })
	if l.ConnectError != "" {
		t.Fatalf("the UI was refused: %s", l.ConnectError)
	}
}

func (u *nodeUI) emit(t *testing.T, args ...any) {
	t.Helper()
	u.Must(map[string]any{"op": "emit", "args": args}, nil)
}

func (u *nodeUI) dump() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	b, _ := json.Marshal(u.lines)
	if len(b) > 4000 {
		b = append(b[:4000], "..."...)
	}
	return string(b)
}

// socketIDs decodes all_sockets' or socket_connected's sockets.
func socketIDs(raw json.RawMessage) map[string]serialized {
	var list []serialized
	if json.Unmarshal(raw, &list) != nil {
		var one serialized
		if json.Unmarshal(raw, &one) == nil {
			list = []serialized{one}
		}
	}
	out := map[string]serialized{}
	for _, s := range list {
		out[s.ID] = s
	}
	return out
}

// startNodePeer runs peer.cjs, a Node socket.io server instrumented by
// @socket.io/admin-ui on the Redis cluster key, and returns its URL.
func startNodePeer(t *testing.T, redisURL, key, serverID string) string {
	t.Helper()
	ready := make(chan int, 1)
	nodeproc.Start(t, nodeDir(t), "peer.cjs", []string{"REDIS_URL=" + redisURL, "KEY=" + key, "SERVER_ID=" + serverID}, func(line []byte) {
		var n struct {
			Ready int    `json:"ready"`
			Log   string `json:"log"`
			Fatal string `json:"fatal"`
		}
		switch {
		case line == nil:
			close(ready)
		case json.Unmarshal(line, &n) != nil:
		case n.Ready != 0:
			ready <- n.Ready
		case n.Fatal != "" || n.Log != "":
			fmt.Fprintln(os.Stderr, "node peer:", n.Fatal+n.Log)
		}
	})
	select {
	case port, ok := <-ready:
		if !ok {
			t.Fatal("the Node peer exited before listening")
		}
		return "http://127.0.0.1:" + strconv.Itoa(port)
	case <-time.After(testWait):
		t.Fatal("the Node peer did not start")
	}
	return ""
}
