package hub_test

// Wire compatibility with the official socket.io-client (npm, version
// pinned in testdata/client/package.json). Each test serves a hub.Server
// configured for its scenario, runs testdata/client/driver.mjs against it
// and checks both what the client printed and what the server observed.
// The npm packages come from `make test` (npm ci); without them these tests
// fail, they never skip.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
)

// TestCompatBasic: connect with auth and query, acks, a catch-all
// listener, reserved names, a client-side disconnect; on each transport.
func TestCompatBasic(t *testing.T) {
	t.Parallel()
	for _, tr := range []compatTransport{compatWebSocket, compatPolling, compatDefault} {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			rec := newCompatRecorder()
			srv := hub.New(hub.Options{})
			srv.OnConnection(func(s *hub.Socket) {
				h := s.Handshake()
				rec.add("socket", s)
				s.OnAny(func(ev *hub.Event) { rec.add("any", ev.Name+" "+string(ev.Args.JSON())) })
				s.On("echo", func(ev *hub.Event) { rec.add("ack-err", fmt.Sprint(ev.Ack(ev.Args))) })
				s.On("sync", func(ev *hub.Event) { rec.add("ack-err", fmt.Sprint(ev.Ack("synced"))) })
				s.OnDisconnect(func(r hub.DisconnectReason) { rec.add("disconnect", string(r)) })
				// Reserved names are refused by every way of emitting.
				for _, name := range []string{"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"} {
					ctx, cancel := context.WithTimeout(context.Background(), time.Second)
					_, ackErr := s.EmitWithAck(ctx, name, 1)
					_, bcastAckErr := srv.Timeout(time.Second).EmitWithAck(ctx, name)
					cancel()
					for how, err := range map[string]error{
						"Socket.Emit":                      s.Emit(name, 1),
						"Socket.Volatile.Emit":             s.Volatile().Emit(name),
						"Socket.Timeout.Emit(ack)":         s.Timeout(time.Second).Emit(name, hub.AckFunc(func(hub.Args, error) {})),
						"Socket.EmitWithAck":               ackErr,
						"Socket.Broadcast.Emit":            s.Broadcast().Emit(name),
						"Server.Emit":                      srv.Emit(name),
						"Server.To.Emit":                   srv.To(s.ID()).Emit(name),
						"Server.Timeout.EmitWithAck":       bcastAckErr,
						"Server.To.EmitArgs":               srv.To(s.ID()).EmitArgs(name, hub.Args{}),
						"Namespace(\"/\").Except.Emit":     srv.Of("/").Except("nobody").Emit(name),
						"Server.Local.Compress(true).Emit": srv.Local().Compress(true).Emit(name),
					} {
						if !errors.Is(err, hub.ErrReserved) {
							rec.add("reserved-failure", fmt.Sprintf("%s(%q) = %v, want ErrReserved", how, name, err))
						}
					}
				}
				if err := s.Emit("welcome", map[string]any{"id": s.ID(), "auth": h.Auth, "query": h.Query(), "nsp": s.Namespace().Name()}); err != nil {
					rec.add("emit-err", err.Error())
				}
			})
			url := serveCompat(t, srv)
			run := runCompatDriver(t, "basic", url, map[string]any{"transports": tr.transports})

			socks := rec.wait(t, "socket", 1, testWait)
			s := socks[0].(*hub.Socket)
			h := s.Handshake()
			compatWant(t, "server: Handshake().Auth", h.Auth, map[string]any{"token": "tok-123", "n": 7})
			if got := h.Headers.Get("X-Custom"); got != "yes" {
				t.Errorf("server: Handshake().Headers X-Custom = %q, want the client's extraHeaders value %q", got, "yes")
			}
			for k, v := range map[string]string{"q1": "v1", "empty": "", "EIO": "4"} {
				if got := h.Query()[k]; len(got) != 1 || got[0] != v {
					t.Errorf("server: Handshake().Query[%q] = %q, want [%q]; query %v", k, got, v, h.Query())
				}
			}
			firstTransport := "polling"
			if tr.name == "websocket" {
				firstTransport = "websocket"
			}
			if got := h.Query().Get("transport"); got != firstTransport {
				t.Errorf("server: Handshake().Query[transport] = %q, want %q", got, firstTransport)
			}
			if got := rec.get("reserved-failure"); len(got) > 0 {
				t.Errorf("reserved event names not refused:\n%v", got)
			}

			c := run.one(t, "connect")
			if c["id"] != s.ID() {
				t.Errorf("client socket.id = %v, server Socket.ID() = %q", c["id"], s.ID())
			}
			if tr.name != "default" && c["transport"] != tr.final {
				t.Errorf("client transport at connect = %v, want %s", c["transport"], tr.final)
			}
			welcome := run.one(t, "welcome")["value"].(map[string]any)
			compatWant(t, "client: welcome.auth", welcome["auth"], map[string]any{"token": "tok-123", "n": 7})
			compatWant(t, "client: welcome.query", welcome["query"], h.Query())
			compatWant(t, "client: welcome.id", welcome["id"], s.ID())
			compatWant(t, "client: echo ack (callback)", run.one(t, "echo-ack")["args"], []any{"hello", 42, map[string]any{"a": []any{1, "x", nil}, "b": true}})
			compatWant(t, "client: echo ack (emitWithAck)", run.one(t, "echo-ack2")["value"], "é✓😀 <&>")
			compatWant(t, "client: sync ack", run.one(t, "sync-ack")["value"], "synced")
			compatWant(t, "client: final transport", run.one(t, "transport")["name"], tr.final)
			compatWant(t, "client: events received (no reserved name may reach it)", run.one(t, "events")["names"], []any{"welcome"})
			compatWant(t, "client: disconnect reason", run.one(t, "disconnect")["reason"], "io client disconnect")

			compatWant(t, "server: OnAny saw", rec.get("any"), []string{
				`echo ["hello",42,{"a":[1,"x",null],"b":true}]`,
				`echo ["é✓😀 <&>",1.5]`,
				`catch-all [1,[2],{"three":3}]`,
				`message ["sent with send()"]`,
				`sync []`,
			})
			compatWant(t, "server: Ack errors", rec.get("ack-err"), []string{"<nil>", "<nil>", "<nil>"})
			compatWant(t, "server: disconnect reason", rec.wait(t, "disconnect", 1, testWait), []string{"client namespace disconnect"})
		})
	}
}

// TestCompatStream: numbered events both ways from the first moment of the
// connection on, so that with the default transports they are in flight
// while the client upgrades from polling to WebSocket. Nothing may be lost,
// duplicated or reordered, in either direction.
func TestCompatStream(t *testing.T) {
	t.Parallel()
	const n, burst = 1500, 5
	for _, tr := range []compatTransport{compatWebSocket, compatPolling, compatDefault} {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			rec := newCompatRecorder()
			srv := hub.New(hub.Options{})
			srv.OnConnection(func(s *hub.Socket) {
				var mu sync.Mutex
				var got []int
				bad := 0
				s.On("c", func(ev *hub.Event) {
					var i int
					var b []byte
					if err := ev.Args.Bind(&i, &b); err != nil {
						bad++
					}
					if i%10 == 0 && !bytes.Equal(b, compatPattern(8, i%256)) || i%10 != 0 && (b != nil || ev.Args.Len() != 1) {
						bad++
					}
					mu.Lock()
					got = append(got, i)
					mu.Unlock()
				})
				streamed := make(chan struct{})
				go func() {
					defer close(streamed)
					for i := 0; i < n; i++ {
						args := []any{i}
						if i%10 == 0 {
							args = append(args, compatPattern(8, i%256))
						}
						if err := s.Emit("n", args...); err != nil {
							rec.add("emit-err", err.Error())
						}
						if i%burst == burst-1 {
							time.Sleep(time.Millisecond)
						}
					}
				}()
				s.On("done", func(ev *hub.Event) {
					<-streamed
					mu.Lock()
					rec.add("got", slices.Clone(got))
					received := len(got)
					mu.Unlock()
					rec.add("transport", s.Transport())
					_ = ev.Ack(map[string]any{"received": received, "bad": bad, "transport": s.Transport()})
				})
			})
			// A WebSocket handshake that takes a while, as on a real
			// network, so that the upgrade happens mid-stream.
			slowUpgrade := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("transport") == "websocket" && tr.name == "default" {
					time.Sleep(150 * time.Millisecond)
				}
				srv.ServeHTTP(w, r)
			})
			url := serveCompatHandler(t, srv, slowUpgrade)
			run := runCompatDriver(t, "stream", url, map[string]any{"transports": tr.transports, "n": n, "burst": burst})

			got := rec.wait(t, "got", 1, testWait)[0].([]int)
			if len(got) != n {
				t.Errorf("server received %d events, want %d", len(got), n)
			}
			for i, v := range got {
				if v != i {
					t.Errorf("server: event %d carries %d (lost, duplicated or reordered): %v", i, v, got[max(0, i-3):min(len(got), i+3)])
					break
				}
			}
			if e := rec.get("emit-err"); len(e) > 0 {
				t.Errorf("server Emit errors: %v", e)
			}
			st := run.one(t, "stream")
			compatWant(t, "client: received", st["received"], n)
			compatWant(t, "client: final transport", st["finalTransport"], tr.final)
			compatWant(t, "server: final transport", rec.get("transport"), []string{tr.final})
			compatWant(t, "server summary seen by the client", st["server"], map[string]any{"received": n, "bad": 0, "transport": tr.final})
			if tr.name != "default" {
				if st["upgrade"] != nil {
					t.Errorf("client upgraded with transports %v: %v", tr.transports, st["upgrade"])
				}
				compatWant(t, "client: transports events came on", st["transports"], []string{tr.final})
				return
			}
			// The default transports: the connection starts on polling and
			// upgrades while the events flow.
			up, _ := st["upgrade"].(map[string]any)
			if up == nil || up["transport"] != "websocket" {
				t.Fatalf("client: no upgrade to websocket: %v", st)
			}
			compatWant(t, "client: first transport", st["firstTransport"], "polling")
			t.Logf("upgrade after %v of %d server events received and %v of %d client events sent", up["received"], n, up["sent"], n)
			for _, dir := range []string{"received", "sent"} {
				if c := up[dir].(float64); c <= 0 || c >= n {
					t.Errorf("client: %v events %s when the upgrade completed: want some, not all, in flight", c, dir)
				}
			}
		})
	}
}

// TestCompatHeartbeat: with a short ping interval, an idle connection
// lives through several pings on every transport, upgrade included. The
// ping timeout is long, so that a loaded machine answers in time.
func TestCompatHeartbeat(t *testing.T) {
	t.Parallel()
	for _, tr := range []compatTransport{compatWebSocket, compatPolling, compatDefault} {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			rec := newCompatRecorder()
			srv := hub.New(hub.Options{PingInterval: 100 * time.Millisecond, PingTimeout: 5 * time.Second})
			srv.OnConnection(func(s *hub.Socket) {
				s.On("ping", func(ev *hub.Event) { _ = ev.Ack("pong") })
				s.OnDisconnect(func(r hub.DisconnectReason) { rec.add("disconnect", string(r)) })
			})
			url := serveCompat(t, srv)
			run := runCompatDriver(t, "idle", url, map[string]any{"transports": tr.transports, "pings": 5, "final": tr.final})
			r := run.one(t, "idle")
			if r["connected"] != true || r["ack"] != "pong" || r["transport"] != tr.final {
				t.Errorf("client after 5 pings idle: %v, want connected on %s and answering", r, tr.final)
			}
			if p := r["pings"].(float64); p < 5 {
				t.Errorf("client saw %v pings, want 5", p)
			}
			compatWant(t, "server: disconnect reason", rec.wait(t, "disconnect", 1, testWait), []string{"client namespace disconnect"})
		})
	}
}

// TestCompatNamespaces: io(url) and io(url + "/admin") share one Manager
// and so one Engine.IO connection; the events of each namespace stay in it.
func TestCompatNamespaces(t *testing.T) {
	t.Parallel()
	for _, tr := range []compatTransport{compatWebSocket, compatPolling, compatDefault} {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			rec := newCompatRecorder()
			srv := hub.New(hub.Options{})
			for _, name := range []string{"/", "/admin"} {
				srv.Of(name).OnConnection(func(s *hub.Socket) {
					rec.add("socket", s)
					_ = s.Emit("hello", name)
					s.On("whoami", func(ev *hub.Event) { _ = ev.Ack(name, s.ID()) })
					s.On("trigger", func(ev *hub.Event) {
						counts := map[string]any{"connections": srv.Connections(), "/": srv.Of("/").Len(), "/admin": srv.Of("/admin").Len()}
						_ = srv.Emit("bcast", "root-all")
						_ = srv.Of("/admin").Emit("bcast", "admin-all")
						_ = s.Emit("bcast", "root-direct")
						_ = ev.Ack(counts)
					})
				})
			}
			url := serveCompat(t, srv)
			run := runCompatDriver(t, "namespaces", url, map[string]any{"transports": tr.transports})

			byID := map[string]*hub.Socket{}
			for _, v := range rec.get("socket") {
				byID[v.(*hub.Socket).ID()] = v.(*hub.Socket)
			}
			root := byID[fmt.Sprint(run.one(t, "whoami", "nsp", "/")["id"])]
			admin := byID[fmt.Sprint(run.one(t, "whoami", "nsp", "/admin")["id"])]
			if root == nil || admin == nil {
				t.Fatalf("the client's socket ids are not the server's: %v / %v", run.all("whoami"), byID)
			}
			compatWant(t, "client: whoami /", run.one(t, "whoami", "nsp", "/")["value"], "/")
			compatWant(t, "client: whoami /admin", run.one(t, "whoami", "nsp", "/admin")["value"], "/admin")
			compatWant(t, "client: hello /", run.one(t, "hello", "nsp", "/")["value"], "/")
			compatWant(t, "client: hello /admin", run.one(t, "hello", "nsp", "/admin")["value"], "/admin")
			// Three sockets over two connections: the Manager's two share one.
			compatWant(t, "server counts when both Managers were connected", run.one(t, "trigger")["counts"],
				map[string]any{"connections": 2, "/": 2, "/admin": 1})
			ha, hb := root.Handshake(), admin.Handshake()
			ha.Auth, hb.Auth = nil, nil
			if !reflect.DeepEqual(ha, hb) {
				t.Errorf("the two sockets of one Manager have different handshakes (so different connections):\n%+v\n%+v", ha, hb)
			}
			compatWant(t, "server: /admin auth", admin.Handshake().Auth, map[string]any{"who": "admin"})
			compatWant(t, "client: events in /", run.one(t, "events", "nsp", "/")["events"], [][]string{{"bcast", "root-all"}, {"bcast", "root-direct"}})
			compatWant(t, "client: events in /admin", run.one(t, "events", "nsp", "/admin")["events"], [][]string{{"bcast", "admin-all"}})
			compatWant(t, "client: events of the other Manager", run.one(t, "events", "nsp", "other")["events"], [][]string{{"bcast", "root-all"}})
			compatEventually(t, "every connection closed", testWait, func() bool { return srv.Connections() == 0 })
		})
	}
}

// compatRoomStep is one broadcast of TestCompatRooms: what it does and who
// must get its "m" event (tagged with the step's name).
type compatRoomStep struct {
	tag  string
	do   func(srv *hub.Server, by map[string]*hub.Socket) error
	want []string
}

// TestCompatRooms: room and except targeting, seen by five clients.
func TestCompatRooms(t *testing.T) {
	t.Parallel()
	names := []string{"c0", "c1", "c2", "c3", "c4"}
	rooms := map[string][]string{"c0": {"a"}, "c1": {"a", "b"}, "c2": {"b"}, "c3": {"a", "c"}, "c4": nil}
	emit := func(op func(srv *hub.Server, by map[string]*hub.Socket) hub.BroadcastOperator) func(string) func(*hub.Server, map[string]*hub.Socket) error {
		return func(tag string) func(*hub.Server, map[string]*hub.Socket) error {
			return func(srv *hub.Server, by map[string]*hub.Socket) error { return op(srv, by).Emit("m", tag) }
		}
	}
	step := func(tag string, op func(srv *hub.Server, by map[string]*hub.Socket) hub.BroadcastOperator, want ...string) compatRoomStep {
		return compatRoomStep{tag, emit(op)(tag), want}
	}
	steps := []compatRoomStep{
		step("to-a", func(s *hub.Server, _ map[string]*hub.Socket) hub.BroadcastOperator { return s.To("a") }, "c0", "c1", "c3"),
		step("to-a-except-b", func(s *hub.Server, _ map[string]*hub.Socket) hub.BroadcastOperator { return s.To("a").Except("b") }, "c0", "c3"),
		step("to-a-b-once", func(s *hub.Server, _ map[string]*hub.Socket) hub.BroadcastOperator { return s.To("a", "b") }, "c0", "c1", "c2", "c3"),
		step("in-a-to-b-a-once", func(s *hub.Server, _ map[string]*hub.Socket) hub.BroadcastOperator { return s.In("a").To("b", "a") }, "c0", "c1", "c2", "c3"),
		step("except-a", func(s *hub.Server, _ map[string]*hub.Socket) hub.BroadcastOperator { return s.Except("a") }, "c2", "c4"),
		step("except-a-c", func(s *hub.Server, _ map[string]*hub.Socket) hub.BroadcastOperator { return s.Except("a").Except("c") }, "c2", "c4"),
		step("c1-broadcast", func(_ *hub.Server, by map[string]*hub.Socket) hub.BroadcastOperator { return by["c1"].Broadcast() }, "c0", "c2", "c3", "c4"),
		step("c1-to-a", func(_ *hub.Server, by map[string]*hub.Socket) hub.BroadcastOperator { return by["c1"].To("a") }, "c0", "c3"),
		step("c0-except-c", func(_ *hub.Server, by map[string]*hub.Socket) hub.BroadcastOperator { return by["c0"].Except("c") }, "c1", "c2", "c4"),
		step("to-id-c2", func(s *hub.Server, by map[string]*hub.Socket) hub.BroadcastOperator { return s.To(by["c2"].ID()) }, "c2"),
		step("to-ids-except-c", func(s *hub.Server, by map[string]*hub.Socket) hub.BroadcastOperator {
			return s.To(by["c2"].ID(), by["c3"].ID()).Except("c")
		}, "c2"),
		step("except-id", func(s *hub.Server, by map[string]*hub.Socket) hub.BroadcastOperator {
			return s.To("a").Except(by["c1"].ID())
		}, "c0", "c3"),
		step("to-empty-room", func(s *hub.Server, _ map[string]*hub.Socket) hub.BroadcastOperator { return s.To("nobody-here") }),
		{"sockets-join-d", func(s *hub.Server, _ map[string]*hub.Socket) error {
			if err := s.In("b").SocketsJoin("d"); err != nil {
				return err
			}
			return s.To("d").Emit("m", "sockets-join-d")
		}, []string{"c1", "c2"}},
		{"c3-leaves-a", func(s *hub.Server, by map[string]*hub.Socket) error {
			if err := by["c3"].Leave("a"); err != nil {
				return err
			}
			return s.To("a").Emit("m", "c3-leaves-a")
		}, []string{"c0", "c1"}},
		{"sockets-leave-b", func(s *hub.Server, _ map[string]*hub.Socket) error {
			if err := s.In("d").SocketsLeave("b"); err != nil {
				return err
			}
			return s.To("b").Emit("m", "sockets-leave-b")
		}, nil},
		step("to-d-still", func(s *hub.Server, _ map[string]*hub.Socket) hub.BroadcastOperator { return s.To("d") }, "c1", "c2"),
	}
	for _, tr := range []compatTransport{compatWebSocket, compatPolling} {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			rec := newCompatRecorder()
			srv := hub.New(hub.Options{})
			var mu sync.Mutex
			by := map[string]*hub.Socket{}
			ready := 0
			srv.OnConnection(func(s *hub.Socket) {
				name := fmt.Sprint(compatAuth(s, "name"))
				if err := s.Join(rooms[name]...); err != nil {
					rec.add("err", err.Error())
				}
				mu.Lock()
				by[name] = s
				mu.Unlock()
				s.On("ready", func(ev *hub.Event) {
					_ = ev.Ack()
					mu.Lock()
					ready++
					all := ready == len(names)
					mu.Unlock()
					if !all {
						return
					}
					go func() {
						mu.Lock()
						snapshot := compatCopy(by)
						mu.Unlock()
						ctx, cancel := context.WithTimeout(context.Background(), testWait)
						defer cancel()
						inA, err := srv.In("a").FetchSockets(ctx)
						if err != nil {
							rec.add("err", err.Error())
						}
						var ids []string
						for _, r := range inA {
							ids = append(ids, r.ID)
						}
						slices.Sort(ids)
						rec.add("fetch-a", ids)
						for _, st := range steps {
							if err := st.do(srv, snapshot); err != nil {
								rec.add("err", st.tag+": "+err.Error())
							}
						}
						_ = srv.Emit("done")
					}()
				})
			})
			url := serveCompat(t, srv)
			run := runCompatDriver(t, "rooms", url, map[string]any{"transports": tr.transports, "names": names})

			if errs := rec.get("err"); len(errs) > 0 {
				t.Errorf("server errors: %v", errs)
			}
			mu.Lock()
			wantA := []string{by["c0"].ID(), by["c1"].ID(), by["c3"].ID()}
			mu.Unlock()
			slices.Sort(wantA)
			compatWant(t, "server: In(a).FetchSockets ids", rec.wait(t, "fetch-a", 1, testWait)[0], wantA)
			for _, name := range names {
				want := []string{}
				for _, st := range steps {
					if slices.Contains(st.want, name) {
						want = append(want, st.tag)
					}
				}
				compatWant(t, "client "+name+": tags of the m events received", run.one(t, "got", "name", name)["tags"], want)
			}
		})
	}
}

func compatCopy(m map[string]*hub.Socket) map[string]*hub.Socket {
	out := make(map[string]*hub.Socket, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// TestCompatAcks: acks in both directions, with and without timeouts, and
// broadcast acks collected from several clients.
func TestCompatAcks(t *testing.T) {
	t.Parallel()
	names := []string{"c0", "c1", "c2"}
	for _, tr := range []compatTransport{compatWebSocket, compatPolling} {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			rec := newCompatRecorder()
			srv := hub.New(hub.Options{})
			type result struct {
				Args json.RawMessage
				Err  string
				Dur  time.Duration
			}
			res := func(a hub.Args, err error, start time.Time) result {
				r := result{Args: a.JSON(), Dur: time.Since(start)}
				if err != nil {
					r.Err = err.Error()
					if errors.Is(err, hub.ErrTimeout) {
						r.Err = "ErrTimeout"
					}
				}
				return r
			}
			bres := func(rs []hub.Args, err error) result {
				var list []string
				for _, a := range rs {
					var s string
					_ = a.Bind(&s)
					list = append(list, s)
				}
				slices.Sort(list)
				b, _ := json.Marshal(list)
				r := result{Args: b}
				if err != nil {
					r.Err = err.Error()
					if errors.Is(err, hub.ErrTimeout) {
						r.Err = "ErrTimeout"
					}
				}
				return r
			}
			serverAcks := func(s *hub.Socket) {
				ctx, cancel := context.WithTimeout(context.Background(), testWait)
				defer cancel()
				start := time.Now()
				a, err := s.EmitWithAck(ctx, "question", 7)
				rec.add("question", res(a, err, start))
				start = time.Now()
				a, err = s.Timeout(300*time.Millisecond).EmitWithAck(ctx, "silent", 1)
				rec.add("silent", res(a, err, start))
				short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
				start = time.Now()
				a, err = s.EmitWithAck(short, "silent", 2)
				cancelShort()
				r := res(a, err, start)
				if errors.Is(err, context.DeadlineExceeded) {
					r.Err = "DeadlineExceeded"
				}
				rec.add("silent-ctx", r)
				done := make(chan result, 1)
				start = time.Now()
				if err := s.Emit("question", 5, hub.AckFunc(func(a hub.Args, err error) { done <- res(a, err, start) })); err != nil {
					rec.add("err", err.Error())
				}
				select {
				case r := <-done:
					rec.add("question-func", r)
				case <-ctx.Done():
					rec.add("question-func", result{Err: "no ack"})
				}
				rs, err := srv.Timeout(testWait).EmitWithAck(ctx, "bq", "nobody")
				rec.add("bq-all", bres(rs, err))
				start = time.Now()
				// c0 and c1 answer within the timeout, c2 never does.
				rs, err = srv.Timeout(3*time.Second).EmitWithAck(ctx, "bq", "c2")
				r = bres(rs, err)
				r.Dur = time.Since(start)
				rec.add("bq-one-silent", r)
				rs, err = srv.To("room-01").Timeout(testWait).EmitWithAck(ctx, "bq", "c2")
				rec.add("bq-room", bres(rs, err))
				bch := make(chan result, 1)
				err = srv.Except("room-01").Timeout(testWait).Emit("bq", "nobody", hub.BroadcastAckFunc(func(rs []hub.Args, err error) { bch <- bres(rs, err) }))
				if err != nil {
					rec.add("err", err.Error())
				}
				rec.add("bq-except-func", <-bch)
				_ = srv.Emit("done")
			}
			srv.OnConnection(func(s *hub.Socket) {
				name := fmt.Sprint(compatAuth(s, "name"))
				if name == "c0" || name == "c1" {
					_ = s.Join("room-01")
				}
				s.On("ack-me", func(ev *hub.Event) {
					rec.add("ack-me", string(ev.Args.JSON()))
					_ = ev.Ack("ok", ev.Args.JSON())
				})
				s.On("no-ack", func(ev *hub.Event) { rec.add("no-ack", fmt.Sprint(ev.WantsAck(), " ", string(ev.Args.JSON()))) })
				var laterMu sync.Mutex
				var later []*hub.Event
				s.On("later", func(ev *hub.Event) {
					laterMu.Lock()
					later = append(later, ev)
					all := len(later) == 3
					laterMu.Unlock()
					if all {
						go func() {
							for _, e := range slices.Backward(later) {
								var k int
								_ = e.Args.Bind(&k)
								_ = e.Ack(k * 100)
							}
						}()
					}
				})
				s.On("server-acks-please", func(*hub.Event) { go serverAcks(s) })
			})
			url := serveCompat(t, srv)
			run := runCompatDriver(t, "acks", url, map[string]any{"transports": tr.transports, "names": names})

			compatWant(t, "client: ack with a callback", run.one(t, "ack-callback")["args"], []any{"ok", []any{1, "two"}})
			compatWant(t, "client: emitWithAck", run.one(t, "ack-promise")["value"], "ok")
			compatWant(t, "client: acks answered in the reverse order", run.one(t, "acks-out-of-order")["pairs"], [][]int{{1, 100}, {2, 200}, {3, 300}})
			compatWant(t, "client: timeout(10000).emit answered in time", run.one(t, "ack-timeout-in-time"), compatObs{"ev": "ack-timeout-in-time", "err": nil, "args": []any{"ok", []any{5}}})
			tc := run.one(t, "timeout-callback")
			if tc["message"] != "operation has timed out" || tc["isError"] != true || tc["ms"].(float64) < 250 {
				t.Errorf("client: timeout(300).emit with no ack: %v, want an Error \"operation has timed out\" after 300 ms", tc)
			}
			tp := run.one(t, "timeout-promise")
			if tp["message"] != "operation has timed out" {
				t.Errorf("client: timeout(300).emitWithAck with no ack: %v, want a rejection \"operation has timed out\"", tp)
			}
			compatWant(t, "server: ack-me events", rec.get("ack-me"), []string{`[1,"two"]`, `[{"x":1}]`, `[5]`})
			compatWant(t, "server: no-ack events (WantsAck, args)", rec.get("no-ack"), []string{`true ["a"]`, `true ["b"]`})

			get := func(key string) result { return rec.wait(t, key, 1, testWait)[0].(result) }
			q := get("question")
			compatWant(t, "server: EmitWithAck answered", q.Args, []any{42, "fine"})
			compatWant(t, "server: EmitWithAck error", q.Err, "")
			s := get("silent")
			if s.Err != "ErrTimeout" || s.Dur < 250*time.Millisecond {
				t.Errorf("server: Timeout(300ms).EmitWithAck unanswered = %+v, want ErrTimeout after about 300ms", s)
			}
			compatWant(t, "server: EmitWithAck with an expiring context", get("silent-ctx").Err, "DeadlineExceeded")
			qf := get("question-func")
			compatWant(t, "server: Emit with AckFunc", qf.Args, []any{30, "fine"})
			compatWant(t, "server: Emit with AckFunc error", qf.Err, "")
			compatWant(t, "server: broadcast ack, all answer", get("bq-all"), map[string]any{"Args": []string{"c0", "c1", "c2"}, "Err": "", "Dur": 0})
			one := get("bq-one-silent")
			compatWant(t, "server: broadcast ack, c2 silent: responses", one.Args, []string{"c0", "c1"})
			compatWant(t, "server: broadcast ack, c2 silent: error", one.Err, "ErrTimeout")
			if one.Dur < 2900*time.Millisecond {
				t.Errorf("server: broadcast ack with a silent client ended after %v, before its 3s timeout", one.Dur)
			}
			compatWant(t, "server: To(room).EmitWithAck (c2 not in the room)", get("bq-room"), map[string]any{"Args": []string{"c0", "c1"}, "Err": "", "Dur": 0})
			compatWant(t, "server: Except(room).Emit with BroadcastAckFunc", get("bq-except-func"), map[string]any{"Args": []string{"c2"}, "Err": "", "Dur": 0})
			silent := run.all("silent-received")
			if len(silent) != 2 {
				t.Errorf("client: %d silent events received, want 2: %v", len(silent), silent)
			}
			if errs := rec.get("err"); len(errs) > 0 {
				t.Errorf("server errors: %v", errs)
			}
		})
	}
}

// TestCompatBinary: binary arguments both ways, top level and nested, in
// events and in acks.
func TestCompatBinary(t *testing.T) {
	t.Parallel()
	pat := compatPattern
	for _, tr := range []compatTransport{compatWebSocket, compatPolling, compatDefault} {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			rec := newCompatRecorder()
			srv := hub.New(hub.Options{})
			srv.OnConnection(func(s *hub.Socket) {
				s.On("bin-up", func(ev *hub.Event) {
					var a, b []byte
					if err := ev.Args.Bind(&a, &b); err != nil {
						rec.add("err", err.Error())
					}
					vals, err := ev.Args.Values()
					if err != nil {
						rec.add("err", err.Error())
					}
					rec.add("bind", [][]byte{a, b})
					rec.add("values", vals)
					rec.add("attachments", len(ev.Args.Attachments()))
					rec.add("json", string(ev.Args.JSON()))
					if err := ev.Ack(pat(1000, 10), map[string]any{"echo": a, "list": []any{pat(3, 11), "z"}}); err != nil {
						rec.add("err", err.Error())
					}
				})
				s.On("sbin-please", func(*hub.Event) {
					go func() {
						if err := s.Emit("sbin", pat(2000, 20), []any{pat(9, 21), "x"}, map[string]any{"k": pat(33, 22), "e": []byte{}}); err != nil {
							rec.add("err", err.Error())
						}
						ctx, cancel := context.WithTimeout(context.Background(), testWait)
						defer cancel()
						a, err := s.EmitWithAck(ctx, "sbin-ack", pat(100, 23))
						if err != nil {
							rec.add("err", err.Error())
						}
						var rev []byte
						var obj map[string]any
						if err := a.Bind(&rev); err != nil {
							rec.add("err", err.Error())
						}
						vals, _ := a.Values()
						if len(vals) == 2 {
							obj, _ = vals[1].(map[string]any)
						}
						rec.add("sbin-ack", []any{rev, obj, len(a.Attachments())})
						_ = s.Emit("done")
					}()
				})
			})
			url := serveCompat(t, srv)
			run := runCompatDriver(t, "binary", url, map[string]any{"transports": tr.transports})

			if errs := rec.get("err"); len(errs) > 0 {
				t.Errorf("server errors: %v", errs)
			}
			bind := rec.wait(t, "bind", 1, testWait)[0].([][]byte)
			if !reflect.DeepEqual(bind[0], pat(16, 1)) || !reflect.DeepEqual(bind[1], pat(300, 2)) {
				t.Errorf("server: Bind(*[]byte, *[]byte) = %x, %x; want the Buffer and the Uint8Array sent", bind[0], bind[1])
			}
			wantVals := []any{pat(16, 1), pat(300, 2),
				map[string]any{"nested": map[string]any{"buf": pat(256, 3), "list": []any{[]byte{}, "s", pat(1, 5)}}, "n": float64(1)},
				pat(5, 4), "text"}
			vals := rec.get("values")[0].([]any)
			if !reflect.DeepEqual(compatNormBytes(vals), compatNormBytes(wantVals)) {
				t.Errorf("server: Values() =\n%#v\nwant\n%#v\n(JSON %s)", vals, wantVals, rec.get("json"))
			}
			compatWant(t, "server: attachments", rec.get("attachments"), []int{6})
			compatWant(t, "client: ack of bin-up", run.one(t, "bin-up-ack")["args"],
				[]any{compatBin(pat(1000, 10)), map[string]any{"echo": compatBin(pat(16, 1)), "list": []any{compatBin(pat(3, 11)), "z"}}})
			compatWant(t, "client: sbin", run.one(t, "sbin")["args"],
				[]any{compatBin(pat(2000, 20)), []any{compatBin(pat(9, 21)), "x"}, map[string]any{"k": compatBin(pat(33, 22)), "e": compatBin([]byte{})}})
			ack := rec.wait(t, "sbin-ack", 1, testWait)[0].([]any)
			want := slices.Clone(pat(100, 23))
			slices.Reverse(want)
			if !reflect.DeepEqual(ack[0], want) {
				t.Errorf("server: binary ack from the client = %x, want %x", ack[0], want)
			}
			if obj, _ := ack[1].(map[string]any); obj == nil || !reflect.DeepEqual(obj["r"], pat(7, 24)) || obj["n"] != float64(100) {
				t.Errorf("server: nested binary in the client's ack = %#v", ack[1])
			}
			compatWant(t, "server: attachments of the client's ack", ack[2], 2)
			compatWant(t, "client: final transport", run.one(t, "transport")["name"], tr.final)
		})
	}
}

// compatNormBytes makes empty and nil byte slices compare equal.
func compatNormBytes(v any) any {
	switch x := v.(type) {
	case []byte:
		return "bytes:" + string(x)
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = compatNormBytes(x[i])
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k := range x {
			out[k] = compatNormBytes(x[k])
		}
		return out
	}
	return v
}

// TestCompatMiddleware: namespace middlewares refusing with a message and
// data, dynamic namespaces (OfPattern, OfFunc) accepted and refused.
func TestCompatMiddleware(t *testing.T) {
	t.Parallel()
	type want struct {
		ok      bool
		message string
		data    any
	}
	attempts := []struct {
		nsp  string
		auth any
		want want
	}{
		{"/private", map[string]any{"token": "bad"}, want{false, "not authorized", map[string]any{"code": 401, "reason": "bad token"}}},
		{"/plain", nil, want{false, "boom", nil}},
		{"/dyn-42", nil, want{ok: true}},
		{"/dyn-13", nil, want{false, "unlucky", []any{13, "x"}}},
		{"/dyn-x", nil, want{false, "Invalid namespace", nil}},
		{"/nope", nil, want{false, "Invalid namespace", nil}},
		{"/org-acme", map[string]any{"org": "acme"}, want{ok: true}},
		{"/org-evil", map[string]any{"org": "acme"}, want{false, "Invalid namespace", nil}},
	}
	for _, tr := range []compatTransport{compatWebSocket, compatPolling} {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			rec := newCompatRecorder()
			srv := hub.New(hub.Options{})
			hello := func(s *hub.Socket) {
				rec.add("connected", s.Namespace().Name())
				_ = s.Emit("hello", s.Namespace().Name())
			}
			srv.OnConnection(func(s *hub.Socket) {
				s.On("ping", func(ev *hub.Event) { _ = ev.Ack("pong") })
			})
			priv := srv.Of("/private")
			priv.Use(func(s *hub.Socket) error {
				rec.add("private-auth", string(s.Handshake().Auth))
				if compatAuth(s, "token") != "good" {
					return &hub.ConnectError{Message: "not authorized", Data: map[string]any{"code": 401, "reason": "bad token"}}
				}
				return nil
			})
			priv.OnConnection(hello)
			srv.Of("/plain").Use(func(*hub.Socket) error { return errors.New("boom") })
			srv.Of("/plain").OnConnection(hello)
			dyn := srv.OfPattern(regexp.MustCompile(`^/dyn-[0-9]+$`))
			dyn.Use(func(s *hub.Socket) error {
				if s.Namespace().Name() == "/dyn-13" {
					return &hub.ConnectError{Message: "unlucky", Data: []any{13, "x"}}
				}
				return nil
			})
			dyn.OnConnection(hello)
			org := srv.OfFunc(func(name string, auth json.RawMessage) bool {
				var a struct{ Org string }
				_ = json.Unmarshal(auth, &a)
				return strings.HasPrefix(name, "/org-") && a.Org == strings.TrimPrefix(name, "/org-")
			})
			org.OnConnection(hello)
			url := serveCompat(t, srv)
			var list [][]any
			for _, a := range attempts {
				list = append(list, []any{a.nsp, a.auth})
			}
			run := runCompatDriver(t, "middleware", url, map[string]any{"transports": tr.transports, "attempts": list})

			for _, a := range attempts {
				r := run.one(t, "result", "nsp", a.nsp, "auth", compatNorm(t, a.auth))
				if r["ok"] != a.want.ok {
					t.Errorf("client: %s (auth %v) connected = %v, want %v: %v", a.nsp, a.auth, r["ok"], a.want.ok, r)
					continue
				}
				if a.want.ok {
					compatWant(t, "client: hello in "+a.nsp, r["hello"], a.nsp)
					continue
				}
				compatWant(t, "client: connect_error message of "+a.nsp, r["message"], a.want.message)
				compatWant(t, "client: connect_error data of "+a.nsp, r["data"], a.want.data)
				if r["active"] != false || r["connectedLater"] != false {
					t.Errorf("client: %s refused, but the socket is active=%v connectedLater=%v (it should not retry)", a.nsp, r["active"], r["connectedLater"])
				}
			}
			root := run.one(t, "root")
			if root["connected"] != true || root["value"] != "pong" {
				t.Errorf("client: the main namespace socket after the refusals: %v, want connected and answering", root)
			}
			good := run.one(t, "result", "nsp", "/private", "auth", map[string]any{"token": "good"})
			if good["ok"] != true || good["hello"] != "/private" {
				t.Errorf("client: /private with the good token: %v", good)
			}
			compatWant(t, "server: connection listeners ran for", rec.sortedStrings("connected"), []string{"/dyn-42", "/org-acme", "/private"})
			compatWant(t, "server: /private middleware saw auth", rec.get("private-auth"), []string{`{"token":"bad"}`, `{"token":"good"}`})
			var nsps []string
			for _, n := range srv.Namespaces() {
				nsps = append(nsps, n.Name())
			}
			for _, name := range []string{"/nope", "/org-evil", "/dyn-x"} {
				if slices.Contains(nsps, name) {
					t.Errorf("server: refused dynamic namespace %s was created: %v", name, nsps)
				}
			}
			if !slices.Contains(nsps, "/dyn-42") || !slices.Contains(nsps, "/org-acme") {
				t.Errorf("server: dynamic namespaces not created: %v", nsps)
			}
		})
	}
}

// TestCompatVolatile: volatile events never break the delivery of normal
// ones, and reach a client whose transport is idle.
func TestCompatVolatile(t *testing.T) {
	t.Parallel()
	for _, tr := range []compatTransport{compatWebSocket, compatPolling} {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			rec := newCompatRecorder()
			srv := hub.New(hub.Options{})
			// whenIdle emits a volatile event once the transport can take
			// it at once: over WebSocket when nothing is being written,
			// over polling when the client's GET is parked. The emit is
			// dropped until then, which Stats tells (the event is counted
			// as sent only when it was queued), so it is repeated until it
			// goes; the client sees it once.
			whenIdle := func(what string, emit func() error) {
				deadline := time.Now().Add(testWait)
				for {
					before := srv.Stats().EventsSent
					if err := emit(); err != nil {
						rec.add("err", what+": "+err.Error())
						return
					}
					if srv.Stats().EventsSent > before {
						return
					}
					if time.Now().After(deadline) {
						rec.add("err", what+": the transport never became idle")
						return
					}
					time.Sleep(time.Millisecond)
				}
			}
			srv.OnConnection(func(s *hub.Socket) {
				s.On("burst", func(ev *hub.Event) {
					var n int
					_ = ev.Args.Bind(&n)
					for i := 0; i < n; i++ {
						_ = s.Emit("n", i)
						_ = s.Volatile().Emit("v", i)
					}
					_ = s.Emit("end")
				})
				s.On("sync", func(ev *hub.Event) { _ = ev.Ack() })
				s.On("idle", func(*hub.Event) {
					go func() {
						whenIdle("vi", func() error { return s.Volatile().Emit("vi", 1) })
						whenIdle("vb", func() error { return srv.Volatile().Emit("vb", 2) })
						_ = s.Emit("end2")
					}()
				})
			})
			url := serveCompat(t, srv)
			run := runCompatDriver(t, "volatile", url, map[string]any{"transports": tr.transports, "n": 200})
			v := run.one(t, "volatile")
			t.Logf("volatile events delivered during the burst: %v of 200", v["volatile"])
			if errs := rec.get("err"); len(errs) > 0 {
				t.Errorf("server errors: %v", errs)
			}
			compatWant(t, "client: normal events", v["normal"], 200)
			compatWant(t, "client: volatile events on an idle transport", v["idle"], [][]any{{"vi", 1}, {"vb", 2}})
			compatWant(t, "client: order of the other events", v["order"], []string{"end", "vi", "vb", "end2"})
			compatWant(t, "client: transport", v["transport"], tr.final)
		})
	}
}

// TestCompatLarge: 500 KB strings and binaries both ways.
func TestCompatLarge(t *testing.T) {
	t.Parallel()
	const size = 500_000
	pat := compatPattern
	for _, tr := range []compatTransport{compatWebSocket, compatPolling} {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			rec := newCompatRecorder()
			srv := hub.New(hub.Options{})
			srv.OnConnection(func(s *hub.Socket) {
				s.On("big-str", func(ev *hub.Event) {
					var str string
					if err := ev.Args.Bind(&str); err != nil {
						rec.add("err", err.Error())
					}
					rec.add("big-str", str == compatString(size, 1))
					_ = ev.Ack(compatString(size, 2), len(str))
				})
				s.On("big-bin", func(ev *hub.Event) {
					var b []byte
					if err := ev.Args.Bind(&b); err != nil {
						rec.add("err", err.Error())
					}
					rec.add("big-bin", reflect.DeepEqual(b, pat(size, 3)))
					_ = ev.Ack(pat(size, 4), len(b))
				})
				s.On("big-please", func(*hub.Event) { _ = s.Emit("big", compatString(size, 5), pat(size, 6)) })
			})
			url := serveCompat(t, srv)
			run := runCompatDriver(t, "large", url, map[string]any{"transports": tr.transports, "size": size})

			if errs := rec.get("err"); len(errs) > 0 {
				t.Errorf("server errors: %v", errs)
			}
			compatWant(t, "server: the 500 KB string arrived intact", rec.get("big-str"), []bool{true})
			compatWant(t, "server: the 500 KB binary arrived intact", rec.get("big-bin"), []bool{true})
			compatWant(t, "client: ack of the string", run.one(t, "big-str-ack")["args"], []any{compatStr(compatString(size, 2)), len(compatString(size, 1))})
			compatWant(t, "client: ack of the binary", run.one(t, "big-bin-ack")["args"], []any{compatBin(pat(size, 4)), size})
			compatWant(t, "client: big event", run.one(t, "big")["args"], []any{compatStr(compatString(size, 5)), compatBin(pat(size, 6))})
			compatWant(t, "client: transport", run.one(t, "transport")["name"], tr.final)
		})
	}
}

// TestCompatMaxPayload: a client message over Options.MaxPayload ends the
// connection; a smaller one before it goes through.
func TestCompatMaxPayload(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		tr           compatTransport
		clientReason string
		serverReason string
	}{
		// The WebSocket is closed with status 1009 (message too big).
		{compatWebSocket, "transport close", "transport close"},
		// The POST is refused with 413: the client's transport errors and
		// it closes the session.
		{compatPolling, "transport error", "transport close"},
	} {
		t.Run(tc.tr.name, func(t *testing.T) {
			t.Parallel()
			rec := newCompatRecorder()
			srv := hub.New(hub.Options{MaxPayload: 10_000})
			srv.OnConnection(func(s *hub.Socket) {
				s.On("small", func(ev *hub.Event) {
					var str string
					_ = ev.Args.Bind(&str)
					rec.add("small", len(str))
					_ = ev.Ack("ok")
				})
				s.On("too-big", func(ev *hub.Event) { rec.add("too-big", ev.Args.Len()) })
				many := 0
				s.On("many", func(*hub.Event) { many++ })
				s.On("count", func(ev *hub.Event) { _ = ev.Ack(many) })
				s.OnDisconnect(func(r hub.DisconnectReason) { rec.add("disconnect", string(r)) })
			})
			url := serveCompat(t, srv)
			run := runCompatDriver(t, "maxpayload", url, map[string]any{"transports": tc.tr.transports, "small": 100, "big": 20_000, "many": 50, "manySize": 900})

			compatWant(t, "client: small message ack", run.one(t, "small-ack")["value"], "ok")
			compatWant(t, "server: small message", rec.get("small"), []int{100})
			compatWant(t, "client: 50 messages of 900 bytes (45 KB together) all arrived", run.one(t, "many-ack")["value"], 50)
			d := run.one(t, "disconnect")
			compatWant(t, "client: disconnect reason", d["reason"], tc.clientReason)
			compatWant(t, "server: disconnect reason", rec.wait(t, "disconnect", 1, testWait), []string{tc.serverReason})
			if got := rec.get("too-big"); len(got) > 0 {
				t.Errorf("server: the message over MaxPayload reached the handler: %v", got)
			}
			compatEventually(t, "the connection closed", testWait, func() bool { return srv.Connections() == 0 })
		})
	}
}

// TestCompatDisconnect: disconnections started by either side, with the
// reasons each side reports and whether the client reconnects.
func TestCompatDisconnect(t *testing.T) {
	t.Parallel()
	type want struct {
		client, admin, managerClose string // client-side reasons ("" not checked)
		server, serverAdmin         string // server-side reasons ("" none)
		adminStays                  bool
	}
	cases := []struct {
		mode   string
		admin  bool
		params map[string]any
		want   want
	}{
		// socket.disconnect(): the last socket of the Manager, so the
		// connection closes too.
		{"client", false, nil, want{client: "io client disconnect", managerClose: "forced close", server: "client namespace disconnect"}},
		// Socket.Disconnect(false): only that namespace; no reconnection.
		{"server", true, nil, want{client: "io server disconnect", server: "server namespace disconnect", adminStays: true}},
		// Socket.Disconnect(true): every namespace, then the connection.
		{"server-close", true, nil, want{client: "io server disconnect", admin: "io server disconnect", managerClose: "forced close",
			server: "server namespace disconnect", serverAdmin: "server namespace disconnect"}},
		// The same through the adapter: In(id).DisconnectSockets(true).
		{"server-sockets", true, nil, want{client: "io server disconnect", admin: "io server disconnect", managerClose: "forced close",
			server: "server namespace disconnect", serverAdmin: "server namespace disconnect"}},
		// The client closes its Engine.IO connection.
		{"engine", true, map[string]any{"reconnection": false}, want{client: "forced close", admin: "forced close", managerClose: "forced close",
			server: "transport close", serverAdmin: "transport close"}},
	}
	for _, tr := range []compatTransport{compatWebSocket, compatPolling} {
		for _, tc := range cases {
			t.Run(tr.name+"/"+tc.mode, func(t *testing.T) {
				t.Parallel()
				rec := newCompatRecorder()
				srv := hub.New(hub.Options{})
				for _, name := range []string{"/", "/admin"} {
					srv.Of(name).OnConnection(func(s *hub.Socket) {
						s.On("ping", func(ev *hub.Event) { _ = ev.Ack("pong") })
						s.On("kick", func(ev *hub.Event) {
							var mode string
							_ = ev.Args.Bind(&mode)
							switch mode {
							case "server-sockets":
								if err := s.Namespace().In(s.ID()).DisconnectSockets(true); err != nil {
									rec.add("err", err.Error())
								}
							default:
								s.Disconnect(mode == "server-close")
							}
						})
						s.OnDisconnect(func(r hub.DisconnectReason) { rec.add("disconnect "+name, string(r)) })
					})
				}
				url := serveCompat(t, srv)
				params := map[string]any{"transports": tr.transports, "mode": tc.mode, "admin": tc.admin}
				for k, v := range tc.params {
					params[k] = v
				}
				run := runCompatDriver(t, "disconnect", url, params)
				r := run.one(t, "result")
				compatWant(t, "client: reason of /", r["reason"], tc.want.client)
				if tc.want.admin != "" {
					compatWant(t, "client: reason of /admin", r["adminReason"], tc.want.admin)
				}
				if tc.want.managerClose != "" {
					compatWant(t, "client: Manager close reason", r["managerClose"], tc.want.managerClose)
				}
				if r["attempts"] != float64(0) || r["connected"] != false {
					t.Errorf("client: after the disconnect: %v, want no reconnection attempt", r)
				}
				// A socket the server disconnected or that disconnected
				// itself is inactive: it will not reconnect even if asked.
				// (After engine.close() with reconnection off, the client
				// keeps it active.)
				if tc.mode != "engine" && r["active"] != false {
					t.Errorf("client: after the disconnect: %v, want an inactive socket", r)
				}
				if tc.want.adminStays {
					if r["adminConnected"] != true || r["adminAck"] != "pong" {
						t.Errorf("client: /admin after / was disconnected: %v, want connected and answering", r)
					}
				}
				compatWant(t, "server: reason of /", rec.wait(t, "disconnect /", 1, testWait), []string{tc.want.server})
				if tc.want.serverAdmin != "" {
					compatWant(t, "server: reason of /admin", rec.wait(t, "disconnect /admin", 1, testWait), []string{tc.want.serverAdmin})
				}
				if tc.want.adminStays {
					// The Node script ends by closing its Manager, which
					// closes the connection without a DISCONNECT.
					compatWant(t, "server: reason of /admin", rec.wait(t, "disconnect /admin", 1, testWait), []string{"transport close"})
				}
				compatEventually(t, "every connection closed", testWait, func() bool { return srv.Connections() == 0 })
			})
		}
	}
}

// TestCompatDisconnectCloseRounds repeats Socket.Disconnect(true) many
// times: whether the client's poll is pending when it happens varies from
// round to round, and every round must end the same way: "io server
// disconnect" on both namespaces and no reconnection.
func TestCompatDisconnectCloseRounds(t *testing.T) {
	t.Parallel()
	const rounds = 12
	for _, tr := range []compatTransport{compatWebSocket, compatPolling} {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			rec := newCompatRecorder()
			srv := hub.New(hub.Options{})
			for _, name := range []string{"/", "/admin"} {
				srv.Of(name).OnConnection(func(s *hub.Socket) {
					s.On("kick", func(*hub.Event) { s.Disconnect(true) })
					s.OnDisconnect(func(r hub.DisconnectReason) { rec.add("disconnect "+name, string(r)) })
				})
			}
			url := serveCompat(t, srv)
			run := runCompatDriver(t, "kicks", url, map[string]any{"transports": tr.transports, "rounds": rounds})
			want := map[string]any{"root": []string{"io server disconnect"}, "admin": []string{"io server disconnect"}, "manager": []string{"forced close"}, "attempts": 0}
			bad := 0
			for i, r := range run.one(t, "kicks")["results"].([]any) {
				if !reflect.DeepEqual(compatNorm(t, r), compatNorm(t, want)) {
					bad++
					t.Errorf("round %d: client saw %v, want %v", i, r, want)
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d rounds: the client saw the connection close before the DISCONNECT packets sent ahead of it", bad, rounds)
			}
			for _, name := range []string{"/", "/admin"} {
				got := rec.wait(t, "disconnect "+name, rounds, testWait)
				for _, r := range got {
					if r != "server namespace disconnect" {
						t.Errorf("server: %s reasons %v, want only %q", name, got, "server namespace disconnect")
						break
					}
				}
			}
		})
	}
}

// TestCompatReconnect: the server goes away (Server.Shutdown, which refuses
// handshakes from then on) and a new server takes over the address; the
// client reconnects by itself, gets a new socket id and traffic resumes.
func TestCompatReconnect(t *testing.T) {
	t.Parallel()
	for _, tr := range []compatTransport{compatWebSocket, compatPolling, compatDefault} {
		t.Run(tr.name+"/new-server", func(t *testing.T) {
			t.Parallel()
			rec := newCompatRecorder()
			var mu sync.Mutex
			var cleanup []func()
			t.Cleanup(func() {
				mu.Lock()
				defer mu.Unlock()
				for _, f := range slices.Backward(cleanup) {
					f()
				}
			})
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			var newServer func(label string, ln net.Listener) (*hub.Server, *http.Server)
			newServer = func(label string, ln net.Listener) (*hub.Server, *http.Server) {
				srv := hub.New(hub.Options{})
				hs := &http.Server{Handler: srv}
				srv.OnConnection(func(s *hub.Socket) {
					rec.add("socket "+label, s.ID())
					s.On("hello", func(ev *hub.Event) { _ = ev.Ack(label, s.ID()) })
					s.OnDisconnect(func(r hub.DisconnectReason) { rec.add("disconnect "+label, string(r)) })
					s.On("go-away", func(*hub.Event) {
						go func() {
							// Shutdown returns once the sessions have ended
							// (their close packets handed to their
							// transports); the HTTP server's own Shutdown
							// then lets a polling GET that carries one
							// finish (Close would cut it: "transport
							// error"), and closes the listener. Then a new
							// server takes the same address.
							ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
							defer cancel()
							if err := srv.Shutdown(ctx); err != nil {
								rec.add("err", "shutdown: "+err.Error())
							}
							if err := hs.Shutdown(ctx); err != nil {
								rec.add("err", "http shutdown: "+err.Error())
							}
							ln2, err := net.Listen("tcp", addr)
							if err != nil {
								rec.add("err", "listen again: "+err.Error())
								return
							}
							// The client's first attempt finds no server:
							// its connection is closed unanswered. Then the
							// new server takes the address.
							nc, err := ln2.Accept()
							if err != nil {
								rec.add("err", "accept: "+err.Error())
								return
							}
							_ = nc.Close()
							newServer("B", ln2)
						}()
					})
				})
				go func() { _ = hs.Serve(ln) }()
				mu.Lock()
				cleanup = append(cleanup, func() { _ = srv.Close(); _ = hs.Close() })
				mu.Unlock()
				return srv, hs
			}
			newServer("A", ln)
			run := runCompatDriver(t, "reconnect", "http://"+addr, map[string]any{"transports": tr.transports})

			if errs := rec.get("err"); len(errs) > 0 {
				t.Fatalf("server errors: %v", errs)
			}
			const second = "B"
			first := run.one(t, "first")
			idA := rec.wait(t, "socket A", 1, testWait)[0]
			compatWant(t, "client: first ack", first["ack"], []any{"A", idA})
			compatWant(t, "server A: disconnect reason", rec.wait(t, "disconnect A", 1, testWait)[:1], []string{"server shutting down"})
			s := run.one(t, "second")
			compatWant(t, "client: disconnect reason", s["reason"], "transport close")
			ids := rec.wait(t, "socket "+second, 1, testWait)
			id2 := ids[len(ids)-1]
			if s["id"] == first["id"] || s["id"] != id2 {
				t.Errorf("client: socket id after reconnecting = %v (first %v), server %s saw %v", s["id"], first["id"], second, id2)
			}
			compatWant(t, "client: ack after reconnecting", s["ack"], []any{second, id2})
			compatWant(t, "client: recovered", s["recovered"], false)
			if s["reconnectErrors"].(float64) < 1 {
				t.Errorf("client: no reconnection attempt failed while no server listened: %v", s)
			}
			t.Logf("reconnected at attempt %v after %v failed attempts, on %v", s["attempt"], s["reconnectErrors"], s["transport"])
		})
	}
}
