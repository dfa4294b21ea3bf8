package host_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/host/js"
	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/relay"
)

// wsSocket is the least Socket.IO client these tests need: one namespace
// over WebSocket, events with acks one at a time, pings answered.
type wsSocket struct {
	t    *testing.T
	c    *websocket.Conn
	id   string
	next int
}

func dialSocket(t *testing.T, url string) *wsSocket {
	t.Helper()
	return dialSocketAuth(t, url, "")
}

// dialSocketAuth is dialSocket with auth, the JSON of the handshake's
// auth ("" for none).
func dialSocketAuth(t *testing.T, url, auth string) *wsSocket {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(url, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	s := &wsSocket{t: t, c: c}
	if open := s.read(); !strings.HasPrefix(open, "0{") {
		t.Fatalf("open packet %q", open)
	}
	s.write("40" + auth)
	reply := s.read()
	var ok struct{ SID string }
	if !strings.HasPrefix(reply, "40{") || json.Unmarshal([]byte(reply[2:]), &ok) != nil || ok.SID == "" {
		t.Fatalf("connect reply %q", reply)
	}
	s.id = ok.SID
	return s
}

func (s *wsSocket) write(msg string) {
	s.t.Helper()
	if err := s.c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		s.t.Fatal(err)
	}
}

// read returns the next packet that is not a ping, answering pings.
func (s *wsSocket) read() string {
	s.t.Helper()
	for {
		_ = s.c.SetReadDeadline(time.Now().Add(30 * time.Second)) // a hang fails the test, not a slow machine
		_, b, err := s.c.ReadMessage()
		if err != nil {
			s.t.Fatal(err)
		}
		if string(b) == "2" {
			s.write("3")
			continue
		}
		return string(b)
	}
}

// until returns the next packet that starts with prefix, passing over
// the others (relayed events, notices).
func (s *wsSocket) until(prefix string) string {
	s.t.Helper()
	for {
		if p := s.read(); strings.HasPrefix(p, prefix) {
			return p
		}
	}
}

// emit sends an event with an ack and returns the ack's first argument.
func (s *wsSocket) emit(event string, args json.RawMessage) map[string]any {
	s.t.Helper()
	s.next++
	id := strconv.Itoa(s.next)
	payload := `["` + event + `"`
	if inner := strings.TrimSpace(string(args)); len(inner) > 2 {
		payload += "," + inner[1:len(inner)-1]
	}
	s.write("42" + id + payload + "]")
	for {
		p := s.read()
		if !strings.HasPrefix(p, "43"+id+"[") {
			continue // a relayed event
		}
		var ack []map[string]any
		if err := json.Unmarshal([]byte(p[len("43"+id):]), &ack); err != nil || len(ack) != 1 {
			s.t.Fatalf("ack %q: %v", p, err)
		}
		return ack[0]
	}
}

// TestHostileSocketsThroughTheHub drives defect 2 from outside: through
// the hub, one socket sends arguments too deep for any runtime and input
// that makes a plugin fail, another behaves. The first gets the failure
// policy's answers and its strikes; the second is served; the strikes go
// when the socket disconnects, although no plugin handles disconnect.
func TestHostileSocketsThroughTheHub(t *testing.T) {
	h := host.New(nil)
	generousBudgets(h)
	h.Register("js", js.Runtime{})
	defer h.Close()
	if err := h.Load(context.Background(), []host.Spec{payloadLimit(t), jsPlugin(t, "filter", "deny", poisonSrc)}); err != nil {
		t.Fatal(err)
	}
	if h.Subscribed(host.HookDisconnect, "/", "") {
		t.Fatal("a plugin handles disconnect: this test is about the case where none does")
	}
	disconnected := make(chan string, 4)
	srv := hub.New(hub.Options{})
	srv.SetHooks(hub.ChainHooks(h.Hooks(), &hub.Hooks{Disconnect: func(s *hub.Socket, _ hub.DisconnectReason) {
		disconnected <- s.ID()
	}}))
	if err := relay.Attach(srv, relay.Config{}); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Close()

	attacker, legit := dialSocket(t, ts.URL), dialSocket(t, ts.URL)
	okAck := func(who string, ack map[string]any) {
		t.Helper()
		if ack["ok"] != true {
			t.Fatalf("%s: ack %v, want ok", who, ack)
		}
	}
	for i := range 3 * 5 {
		ack := attacker.emit("chat", deepArgs(300))
		if ack["ok"] != false || !strings.Contains(fmt.Sprint(ack["error"]), "nested deeper than 64 levels") {
			t.Fatalf("deep args: ack %v", ack)
		}
		okAck("legitimate socket", legit.emit("chat", json.RawMessage(fmt.Sprintf(`["hello %d"]`, i))))
	}
	for range 5 {
		if ack := attacker.emit("chat", json.RawMessage(`["poison"]`)); ack["ok"] != false || ack["error"] != "plugin unavailable" {
			t.Fatalf("poison: ack %v", ack)
		}
		okAck("legitimate socket", legit.emit("chat", json.RawMessage(`["hello"]`)))
	}
	if n := h.StruckSockets("filter"); n != 1 {
		t.Fatalf("%d sockets with strikes, want the attacker's", n)
	}
	attacker.write("41")
	select {
	case id := <-disconnected:
		if id != attacker.id {
			t.Fatalf("disconnected %s, want the attacker %s", id, attacker.id)
		}
	case <-time.After(time.Minute): // a hang fails the test
		t.Fatal("the attacker's disconnect never reached the hooks")
	}
	if n := h.StruckSockets("filter"); n != 0 {
		t.Fatalf("%d sockets with strikes after the attacker left", n)
	}
	okAck("legitimate socket", legit.emit("chat", json.RawMessage(`["still here"]`)))
}
