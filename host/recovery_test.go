package host_test

import (
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/host/wasm"
	"github.com/hubd/hubd/hub"
)

// recoveryWait bounds every wait of the recovery tests: a hang fails the
// test, a slow machine does not.
const recoveryWait = 30 * time.Second

// recoveryRuntimes are the runtimes the connect hook of testdata/recovery
// is written for.
var recoveryRuntimes = []string{"js", "wasm-go", "wasm-c", "process"}

// buildRecoveryPlugins builds the connect hook of testdata/recovery from
// source for every runtime (recovery.js says what it does) and returns
// the spec of each.
func buildRecoveryPlugins(t *testing.T) map[string]host.Spec {
	return buildRuntimePlugins(t, "recovery", host.HookConnect)
}

// connection is a socket of the main namespace as its OnConnection
// listener saw it, with a channel closed when it disconnects.
type connection struct {
	socket    *hub.Socket
	recovered bool
	data      any // the socket's data, decoded from its JSON
	gone      chan struct{}
}

// recoveryHub is a hub with connection state recovery, middlewares run
// for recovered sockets, whose connect hook is one plugin.
type recoveryHub struct {
	srv         *hub.Server
	url         string
	connections chan connection
}

func newRecoveryHub(t *testing.T, spec host.Spec, wasmRT *wasm.Runtime) *recoveryHub {
	t.Helper()
	h := runtimesHost(t, wasmRT, spec)
	rh := &recoveryHub{
		srv:         hub.New(hub.Options{ConnectionStateRecovery: &hub.RecoveryOptions{RunMiddlewares: true}}),
		connections: make(chan connection, 16),
	}
	rh.srv.SetHooks(h.Hooks())
	rh.srv.Of("/").OnConnection(func(s *hub.Socket) {
		c := connection{socket: s, recovered: s.Recovered(), gone: make(chan struct{})}
		if b, err := json.Marshal(s.Data()); err == nil {
			_ = json.Unmarshal(b, &c.data)
		}
		s.OnDisconnect(func(hub.DisconnectReason) { close(c.gone) })
		rh.connections <- c
	})
	ts := httptest.NewServer(rh.srv)
	rh.url = "ws" + strings.TrimPrefix(ts.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
	t.Cleanup(func() {
		_ = rh.srv.Close()
		ts.Close()
	})
	return rh
}

// connected returns the next socket the hub's listener saw connect.
func (rh *recoveryHub) connected(t *testing.T) connection {
	t.Helper()
	select {
	case c := <-rh.connections:
		return c
	case <-time.After(recoveryWait):
		t.Fatal("no socket connected")
		return connection{}
	}
}

// session connects a fresh client, which gets an offset from an event
// sent to its socket, and cuts its connection: it returns the CONNECT
// reply, what the listener saw of the socket, and the offset the client
// sends back to recover.
func (rh *recoveryHub) session(t *testing.T, auth map[string]any) (reply connectReply, first connection, offset string) {
	t.Helper()
	c := dialRecovery(t, rh.url)
	reply = c.connect(auth)
	if reply.Refused != "" || reply.PID == "" {
		t.Fatalf("fresh connect: %+v, want a socket with a session", reply)
	}
	first = rh.connected(t)
	if first.socket.ID() != reply.SID || first.recovered {
		t.Fatalf("the listener saw socket %s (recovered %v), the client got %s", first.socket.ID(), first.recovered, reply.SID)
	}
	if err := first.socket.Emit("tick", 1); err != nil {
		t.Fatal(err)
	}
	args := c.event("tick")
	if err := json.Unmarshal(args[len(args)-1], &offset); err != nil || offset == "" {
		t.Fatalf("tick %s: the last argument is no offset", args)
	}
	c.ws.Close()
	select {
	case <-first.gone:
	case <-time.After(recoveryWait):
		t.Fatal("the socket is still connected after its connection closed")
	}
	return reply, first, offset
}

// TestConnectHookSeesRecovery: in every runtime, a connect hook sees
// "recovered" true, and the restored data as the socket's data, when a
// client gets its socket back, and false for a fresh socket; the
// socket_data it attaches then merges into the restored data. A hook
// that refuses recovered sockets fails the recovery with the client's
// connect_error, while fresh connects pass.
func TestConnectHookSeesRecovery(t *testing.T) {
	specs := buildRecoveryPlugins(t)
	wasmRT := wasm.New(wasm.WithCacheDir(t.TempDir()))
	freshData := map[string]any{"recovered": false, "prev": nil, "fresh": true}
	for _, name := range recoveryRuntimes {
		t.Run(name, func(t *testing.T) {
			rh := newRecoveryHub(t, specs[name], wasmRT)

			reply, first, offset := rh.session(t, nil)
			if !reflect.DeepEqual(first.data, freshData) {
				t.Fatalf("a fresh socket's hook attached %v, want %v", first.data, freshData)
			}
			again := dialRecovery(t, rh.url).connect(map[string]any{"pid": reply.PID, "offset": offset})
			if again != reply {
				t.Fatalf("recovery reply %+v, want the first one, %+v", again, reply)
			}
			back := rh.connected(t)
			want := map[string]any{"recovered": true, "prev": freshData, "fresh": true}
			if back.socket.ID() != reply.SID || !back.recovered || !reflect.DeepEqual(back.data, want) {
				t.Fatalf("recovered socket %s (recovered %v) has data %v, want %v: the hook must see recovered true and the restored data, and its socket_data merge into that",
					back.socket.ID(), back.recovered, back.data, want)
			}

			refuse := map[string]any{"refuse": true}
			reply, first, offset = rh.session(t, refuse) // a fresh connect passes
			if !reflect.DeepEqual(first.data, freshData) {
				t.Fatalf("a fresh socket's hook attached %v, want %v", first.data, freshData)
			}
			refused := dialRecovery(t, rh.url).connect(map[string]any{"pid": reply.PID, "offset": offset, "refuse": true})
			if refused.Refused != "recovery refused" {
				t.Fatalf("recovery the hook refuses: reply %+v, want connect_error \"recovery refused\"", refused)
			}
			st := rh.srv.RecoveryStats()
			if st.Attempted != 2 || st.Recovered != 1 || st.Refused[hub.RecoveryRefusedByMiddleware] != 1 {
				t.Fatalf("recovery stats %+v, want 2 attempted, 1 recovered, 1 refused by the hook", st)
			}
		})
	}
}

// recoveryClient is the least Socket.IO client the recovery tests need:
// the main namespace over WebSocket, pings answered.
type recoveryClient struct {
	t  *testing.T
	ws *websocket.Conn
}

func dialRecovery(t *testing.T, url string) *recoveryClient {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.Close() })
	c := &recoveryClient{t: t, ws: ws}
	if open := c.read(); !strings.HasPrefix(open, "0{") {
		t.Fatalf("open packet %q", open)
	}
	return c
}

// read returns the next packet that is not a ping, answering pings.
func (c *recoveryClient) read() string {
	c.t.Helper()
	for {
		_ = c.ws.SetReadDeadline(time.Now().Add(recoveryWait))
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			c.t.Fatal(err)
		}
		if string(b) != "2" {
			return string(b)
		}
		if err := c.ws.WriteMessage(websocket.TextMessage, []byte("3")); err != nil {
			c.t.Fatal(err)
		}
	}
}

// connectReply is the server's answer to a CONNECT: the socket id and the
// session's private id, or the connect_error's message.
type connectReply struct {
	SID     string `json:"sid"`
	PID     string `json:"pid"`
	Refused string `json:"-"`
}

// connect sends CONNECT for the main namespace with auth (nil: none).
func (c *recoveryClient) connect(auth map[string]any) connectReply {
	c.t.Helper()
	packet := "40"
	if auth != nil {
		b, err := json.Marshal(auth)
		if err != nil {
			c.t.Fatal(err)
		}
		packet += string(b)
	}
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(packet)); err != nil {
		c.t.Fatal(err)
	}
	var r connectReply
	switch p := c.read(); {
	case strings.HasPrefix(p, "40{"):
		if err := json.Unmarshal([]byte(p[2:]), &r); err != nil || r.SID == "" {
			c.t.Fatalf("CONNECT reply %q", p)
		}
	case strings.HasPrefix(p, "44{"):
		var ce struct{ Message string }
		if err := json.Unmarshal([]byte(p[2:]), &ce); err != nil || ce.Message == "" {
			c.t.Fatalf("connect_error %q", p)
		}
		r.Refused = ce.Message
	default:
		c.t.Fatalf("packet %q, want the CONNECT reply", p)
	}
	return r
}

// event waits for the event name in the main namespace and returns its
// arguments.
func (c *recoveryClient) event(name string) []json.RawMessage {
	c.t.Helper()
	for {
		p := c.read()
		if !strings.HasPrefix(p, "42[") {
			continue
		}
		var args []json.RawMessage
		var event string
		if err := json.Unmarshal([]byte(p[2:]), &args); err != nil || len(args) == 0 || json.Unmarshal(args[0], &event) != nil {
			c.t.Fatalf("event packet %q", p)
		}
		if event == name {
			return args[1:]
		}
	}
}
