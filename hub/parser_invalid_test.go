package hub_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/msgpack"
	"github.com/hubd/hubd/hub/internal/sio"
)

// mpPacket writes a msgpack packet map from its entries, key then value.
func mpPacket(entries ...any) []byte {
	b := msgpack.AppendMapHeader(nil, len(entries)/2)
	for i := 0; i < len(entries); i += 2 {
		b = msgpack.AppendString(b, entries[i].(string))
		var err error
		if b, err = msgpack.AppendValue(b, entries[i+1]); err != nil {
			panic(err)
		}
	}
	return b
}

// With the msgpack parser, a packet that breaks the protocol closes the
// connection as a malformed JSON packet does: its sockets get the error
// and disconnect with "forced close", and nothing it carried is handled.
func TestInvalidMsgpackPacketsCloseTheConnection(t *testing.T) {
	bins := make([]any, 12)
	for i := range bins {
		bins[i] = []byte{byte(i)}
	}
	deep := strings.Repeat("\x91", 100) + "\xc0"
	cases := []struct {
		name   string
		text   bool
		packet []byte
	}{
		{"a text message", true, []byte(`42["x"]`)},
		{"not msgpack", false, []byte("\xc1")},
		{"connect twice", false, mpPacket("type", 0, "nsp", "/")},
		{"event for a namespace not joined", false, mpPacket("type", 2, "nsp", "/chat", "data", []any{"x"})},
		{"connect_error from the client", false, mpPacket("type", 4, "nsp", "/", "data", map[string]any{"message": "x"})},
		{"binary type 5", false, mpPacket("type", 5, "nsp", "/", "data", []any{"x"})},
		{"reserved event name", false, mpPacket("type", 2, "nsp", "/", "data", []any{"disconnect"})},
		{"event name an object", false, mpPacket("type", 2, "nsp", "/", "data", []any{map[string]any{}})},
		{"event data an object", false, mpPacket("type", 2, "nsp", "/", "data", map[string]any{"a": 1})},
		{"more binary values than MaxAttachments", false, mpPacket("type", 2, "nsp", "/", "data", append([]any{"x"}, bins...))},
		{"a placeholder out of range", false, mpPacket("type", 2, "nsp", "/", "data", []any{"x", []byte{1},
			map[string]any{"_placeholder": true, "num": 1}})},
		{"a string of 4 GiB declared", false, append(mpPacket("type", 2, "nsp", "/"), "\xa4data\x92\xa1x\xdb\xff\xff\xff\xff"...)},
		{"nested too deeply", false, append(append(mpPacket("type", 2, "nsp", "/"), "\xa4data\x92\xa1x"...), deep...)},
		{"a string not UTF-8", false, mpPacket("type", 2, "nsp", "/", "data", msgpack.Raw("\x92\xa1x\xa2\xc3\x28"))},
		{"no namespace", false, mpPacket("type", 2, "data", []any{"x"})},
		{"an ack id not a number", false, mpPacket("type", 2, "nsp", "/", "id", "1", "data", []any{"x"})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, url := hubServer(t, hub.Options{Parser: hub.ParserMsgpack})
			srv.Of("/chat")
			var handled, errs strLog
			srv.OnConnection(func(s *hub.Socket) {
				s.OnAny(func(ev *hub.Event) { handled.add(ev.Name) })
				s.OnError(func(err error) { errs.add(err.Error()) })
			})
			reasons := watchReasons(srv.Of("/"))
			ws, id := msgpackDial(t, url)
			kind := websocket.BinaryMessage
			if tc.text {
				kind = websocket.TextMessage
			}
			if err := ws.WriteMessage(kind, tc.packet); err != nil {
				t.Fatal(err)
			}
			ws.SetReadDeadline(time.Now().Add(testWait))
			for {
				if _, _, err := ws.ReadMessage(); err != nil {
					if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
						t.Fatal("the connection stayed open")
					}
					break
				}
			}
			if r := reasons.waitFor(t, id); r != hub.ReasonForcedClose && r != hub.ReasonTransportClose {
				t.Errorf("reason = %q, want %q", r, hub.ReasonForcedClose)
			}
			if got := errs.get(); len(got) != 1 {
				t.Errorf("OnError got %q, want one error", got)
			}
			if got := handled.get(); len(got) != 0 {
				t.Errorf("events delivered: %q", got)
			}
			waitUntil(t, func() bool { return srv.Connections() == 0 && srv.Of("/").Len() == 0 }, "connection and socket gone")
		})
	}
}

// msgpackDial opens a WebSocket connection and joins "/" with msgpack
// packets; it returns the connection and the socket id.
func msgpackDial(t *testing.T, url string) (*websocket.Conn, string) {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(url, "http")+ioPath+"?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	ws.SetReadDeadline(time.Now().Add(testWait))
	if _, open, err := ws.ReadMessage(); err != nil || open[0] != '0' {
		t.Fatalf("open: %q %v", open, err)
	}
	if err := ws.WriteMessage(websocket.BinaryMessage, mpPacket("type", 0, "nsp", "/")); err != nil {
		t.Fatal(err)
	}
	kind, reply, err := ws.ReadMessage()
	if err != nil || kind != websocket.BinaryMessage {
		t.Fatalf("connect reply: %d %q %v", kind, reply, err)
	}
	p, _, err := sio.DecodeMsgpack(reply, 0)
	var data struct{ Sid string }
	if err != nil || p.Type != sio.Connect || json.Unmarshal(p.Data, &data) != nil || data.Sid == "" {
		t.Fatalf("connect reply %x: %+v %v", reply, p, err)
	}
	return ws, data.Sid
}
