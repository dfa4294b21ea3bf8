package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestInHubd runs the plugin in a hubd process, as an operator would: the
// folder (plugin.json and the binary) in hubd's plugin directory, clients
// speaking Socket.IO over WebSocket. A client that emits faster than its
// limit gets {ok: false, error: "rate limited"} acks and its refused
// events reach nobody; another client, under its own limit, is not
// affected; joins are limited apart from events.
func TestInHubd(t *testing.T) {
	dir := t.TempDir()
	hubd := filepath.Join(dir, "hubd")
	if out, err := exec.Command("go", "build", "-o", hubd, "../../cmd/hubd").CombinedOutput(); err != nil {
		t.Fatalf("building hubd: %v\n%s", err, out)
	}
	// The shipped manifest with small limits: 3 events then one per 10 s,
	// 2 joins then one per 1000 s; the timeout raised so that a slow start
	// of the process under load cannot let an event through (on_error is
	// allow).
	m := manifest(t, Config{EventsPerSecond: 0.1, Burst: 3, JoinsPerSecond: 0.001, JoinBurst: 2})
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	folder := filepath.Join(dir, "plugins", "rate-limit")
	if err := os.MkdirAll(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(folder, "plugin.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(binPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(folder, "rate-limit"), bin, 0o755); err != nil {
		t.Fatal(err)
	}

	addr, stop := startHubd(t, hubd, "-listen", "127.0.0.1:0", "-plugins", filepath.Join(dir, "plugins"), "-log-format", "json")
	a, b := dial(t, addr), dial(t, addr)
	for name, c := range map[string]*wsClient{"a": a, "b": b} {
		if ack := c.emit(t, "1", `["hub:join","lobby"]`); ack != `431[{"ok":true,"rooms":["lobby"]}]` {
			t.Fatalf("%s joins lobby: %s", name, ack)
		}
	}

	// a emits 5 events at once: 3 go through, 2 are refused.
	for i := range 5 {
		id := string(rune('2' + i))
		ack := a.emit(t, id, `["chat",`+id+`]`)
		want := `43` + id + `[{"ok":true}]`
		if i >= 3 {
			want = `43` + id + `[{"error":"rate limited","ok":false}]`
		}
		if ack != want {
			t.Errorf("a's event #%d: ack %s, want %s", i+1, ack, want)
		}
	}
	// b, with its own bucket, is not limited; it received a's 3 events
	// and not the refused ones.
	for i := range 3 {
		id := string(rune('7' + i))
		if ack := b.emit(t, id, `["chat",`+id+`]`); ack != `43`+id+`[{"ok":true}]` {
			t.Errorf("b's event #%d: ack %s, want ok", i+1, ack)
		}
	}
	if got, want := strings.Join(b.events, " "), `42["chat",2] 42["chat",3] 42["chat",4]`; got != want {
		t.Errorf("b received %s, want %s (a's allowed events only)", got, want)
	}
	// a receives b's 3 events: a limited client still receives.
	for range 3 {
		a.next(t)
	}
	if got, want := strings.Join(a.events, " "), `42["chat",7] 42["chat",8] 42["chat",9]`; got != want {
		t.Errorf("a received %s, want %s", got, want)
	}

	// Joins: a has one left of its 2, then is refused; events and joins
	// are apart (a's event bucket is empty, its join bucket is not).
	if ack := a.emit(t, "10", `["hub:join","r1"]`); ack != `4310[{"ok":true,"rooms":["lobby","r1"]}]` {
		t.Errorf("a's second join: %s", ack)
	}
	if ack := a.emit(t, "11", `["hub:join","r2"]`); ack != `4311[{"error":"rate limited","ok":false}]` {
		t.Errorf("a's third join: %s, want rate limited", ack)
	}
	stop()
}

type wsClient struct {
	c      *websocket.Conn
	events []string // events received, in order
}

func dial(t *testing.T, addr string) *wsClient {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	w := &wsClient{c: c}
	if open := w.next(t); !strings.HasPrefix(open, "0{") {
		t.Fatalf("open: %s", open)
	}
	if err := c.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
		t.Fatal(err)
	}
	if ans := w.next(t); !strings.HasPrefix(ans, `40{"sid"`) {
		t.Fatalf("connect: %s", ans)
	}
	return w
}

// next reads the next message, answering pings; events are recorded.
func (w *wsClient) next(t *testing.T) string {
	t.Helper()
	_ = w.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, msg, err := w.c.ReadMessage()
		if err != nil {
			t.Fatalf("reading: %v", err)
		}
		switch m := string(msg); {
		case m == "2":
			_ = w.c.WriteMessage(websocket.TextMessage, []byte("3"))
		case strings.HasPrefix(m, "42"):
			w.events = append(w.events, m)
			return m
		default:
			return m
		}
	}
}

// ackOf normalizes an ack's JSON object (key order aside), for comparing.
func ackOf(t *testing.T, ack string) string {
	t.Helper()
	i := strings.IndexByte(ack, '[')
	if i < 0 {
		return ack
	}
	var v []map[string]any
	if err := json.Unmarshal([]byte(ack[i:]), &v); err != nil {
		return ack
	}
	b, _ := json.Marshal(v)
	return ack[:i] + string(b)
}

// emit sends an event with ack id and returns the ack, its object's keys
// sorted.
func (w *wsClient) emit(t *testing.T, id, payload string) string {
	t.Helper()
	if err := w.c.WriteMessage(websocket.TextMessage, []byte("42"+id+payload)); err != nil {
		t.Fatal(err)
	}
	for {
		if m := w.next(t); strings.HasPrefix(m, "43"+id+"[") {
			return ackOf(t, m)
		}
	}
}

// startHubd runs hubd until the test ends and returns the address it
// listens on and a stop that ends it with SIGTERM, checking it exits 0.
func startHubd(t *testing.T, bin string, args ...string) (addr string, stop func()) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HUBD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	// A file, not a pipe: a plugin process left behind by a failed test
	// could hold a pipe open and keep Wait from returning.
	logFile, err := os.Create(filepath.Join(t.TempDir(), "hubd.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	log := func() string {
		b, _ := os.ReadFile(logFile.Name())
		return string(b)
	}
	found := make(chan string, 1)
	go func() {
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			for _, l := range strings.Split(log(), "\n") {
				var line struct{ Msg, Addr string }
				if json.Unmarshal([]byte(l), &line) == nil && line.Msg == "listening" {
					found <- line.Addr
					return
				}
			}
		}
	}()
	select {
	case addr = <-found:
	case <-done:
		t.Fatalf("hubd exited before listening:\n%s", log())
	case <-time.After(30 * time.Second):
		t.Fatalf("hubd did not listen:\n%s", log())
	}
	return addr, func() {
		t.Helper()
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
			if waitErr != nil {
				t.Errorf("hubd after SIGTERM: %v\n%s", waitErr, log())
			}
		case <-time.After(20 * time.Second):
			t.Errorf("hubd did not stop")
		}
	}
}
