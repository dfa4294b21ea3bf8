package process

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/internal/waitfor"
	pb "github.com/hubd/hubd/sdk/proto/hubd/v1"
)

// revokeSink is the host's Revoke func for a test: it validates as the
// host does, then answers refuse when set, else keeps the revocation.
type revokeSink struct {
	got    chan []byte
	refuse error
}

func newRevokeSink() *revokeSink { return &revokeSink{got: make(chan []byte, 16)} }

func (s *revokeSink) revoke(raw []byte) error {
	if _, err := host.ParseRevocation(raw); err != nil {
		return err
	}
	if s.refuse != nil {
		return s.refuse
	}
	s.got <- bytes.Clone(raw)
	return nil
}

// next waits for the next revocation the plugin asked for.
func (s *revokeSink) next(t *testing.T) string {
	t.Helper()
	select {
	case b := <-s.got:
		return string(b)
	case <-time.After(waitfor.Bound):
		t.Fatal("no revocation reached the host")
		return ""
	}
}

// none checks that no revocation reached the host.
func (s *revokeSink) none(t *testing.T) {
	t.Helper()
	select {
	case b := <-s.got:
		t.Fatalf("a revocation reached the host: %s", b)
	default:
	}
}

// loadRevoking loads faulty granted "revoke", with sink as the host's
// Revoke func.
func loadRevoking(t *testing.T, sink *revokeSink, edit func(*host.Manifest)) (*plugin, *logSink) {
	t.Helper()
	return loadSpec(t, &Runtime{}, host.Spec{Entry: faultyBin, Revoke: sink.revoke}, func(m *host.Manifest) {
		m.Capabilities = []string{host.CapabilityRevoke}
		if edit != nil {
			edit(m)
		}
	})
}

// revokeCall has the plugin revoke rev (JSON) from its event handler and
// returns its answer: the kind of Revoke's error ("ok" for none) and its
// text.
func revokeCall(t *testing.T, p *plugin, rev string) (kind, msg string) {
	t.Helper()
	d, err := call(p, event("s1", "revoke", `[`+rev+`]`), long)
	if err != nil {
		t.Fatal(err)
	}
	var out [2]string
	if d == nil || json.Unmarshal(d.Reply, &out) != nil {
		t.Fatalf("revoke %s: the plugin answered %+v", rev, d)
	}
	return out[0], out[1]
}

// TestRevoke: a plugin granted "revoke" calls process.Revoke from a
// handler, and the host's Revoke func gets the revocation's JSON byte for
// byte.
func TestRevoke(t *testing.T) {
	sink := newRevokeSink()
	p, _ := loadRevoking(t, sink, nil)
	for _, rev := range []string{
		`{"namespace":"/","rooms":["vip"]}`,
		`{ "data": {"path": "user.sub", "equals": {"a": [1, 2.50]}}, "recheck": "connect" }`,
	} {
		if kind, msg := revokeCall(t, p, rev); kind != "ok" {
			t.Fatalf("revoke %s: %s %s", rev, kind, msg)
		}
		if got := sink.next(t); got != rev {
			t.Fatalf("the host got %s\nwant         %s", got, rev)
		}
	}
}

// TestRevokeNotGranted: without the capability the plugin is served
// nothing, and told so when it revokes.
func TestRevokeNotGranted(t *testing.T) {
	p, _ := load(t, &Runtime{}, faultyBin, nil)
	if p.cur.Load().host != nil {
		t.Fatal("a plugin without the capability is served the host service")
	}
	kind, msg := revokeCall(t, p, `{"rooms":["vip"]}`)
	if kind != "not-granted" || !strings.Contains(msg, `needs the "revoke" capability`) {
		t.Fatalf("got %s %q, want not-granted", kind, msg)
	}
}

// TestRevokeErrors: a revocation the host finds bad, and one it refuses,
// reach the plugin as errors of their kind, in the host's words.
func TestRevokeErrors(t *testing.T) {
	sink := newRevokeSink()
	p, _ := loadRevoking(t, sink, nil)
	for _, c := range []struct{ rev, kind, msg string }{
		{`{"rooms":["vip"],"recheck":"all"}`, "bad", `hubd: bad revocation: recheck "all": use "join" (the default) or "connect"`},
		{`{"rooms":["vip"],"everything":true}`, "bad", `unknown field "everything"`},
		{`{"namespace":"/"}`, "bad", "no selector"},
		{`"bob"`, "bad", "a revocation is a JSON object"},
	} {
		kind, msg := revokeCall(t, p, c.rev)
		if kind != c.kind || !strings.Contains(msg, c.msg) {
			t.Errorf("revoke %s: got %s %q, want %s %q", c.rev, kind, msg, c.kind, c.msg)
		}
	}
	sink.refuse = fmt.Errorf("%w: 64 revocations are waiting already", host.ErrRevokeRefused)
	kind, msg := revokeCall(t, p, `{"rooms":["vip"]}`)
	if want := "hubd: revocation refused: 64 revocations are waiting already"; kind != "refused" || msg != want {
		t.Errorf("refused: got %s %q, want refused %q", kind, msg, want)
	}
	sink.none(t)
}

// TestRevokeFromGoroutine: a goroutine of the plugin's own, running after
// the call that started it has returned, revokes too.
func TestRevokeFromGoroutine(t *testing.T) {
	sink := newRevokeSink()
	p, logs := loadRevoking(t, sink, nil)
	rev := `{"sockets":["s1","s2"],"recheck":"connect"}`
	if _, err := call(p, event("s1", "revoke-later", `[`+rev+`]`), long); err != nil {
		t.Fatal(err)
	}
	if got := sink.next(t); got != rev {
		t.Fatalf("the host got %s, want %s", got, rev)
	}
	logs.wait(t, "revoked later", "kind=ok")
}

// TestRevokeFromObserved: a hook the plugin only observes revokes too;
// the host did not wait for it.
func TestRevokeFromObserved(t *testing.T) {
	sink := newRevokeSink()
	p, logs := loadRevoking(t, sink, func(m *host.Manifest) { m.Config = json.RawMessage(`{"revoke": true}`) })
	env := &host.Envelope{Hook: host.HookDisconnect, Namespace: "/", Socket: host.Socket{ID: "gone7"}, Reason: "transport close"}
	if d, err := call(p, env, long); err != nil || d != nil {
		t.Fatalf("observe: %+v, %v", d, err)
	}
	if got := sink.next(t); got != `{"sockets":["gone7"]}` {
		t.Fatalf("the host got %s", got)
	}
	logs.wait(t, "revoked on disconnect", "kind=ok")
}

// TestRevokeAfterRestart: a process started again is bound again; the
// instance that exited serves nothing any more.
func TestRevokeAfterRestart(t *testing.T) {
	sink := newRevokeSink()
	p, _ := loadRevoking(t, sink, nil)
	first := p.cur.Load()
	if err := syscall.Kill(p.pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitBack(t, p)
	if p.cur.Load() == first {
		t.Fatal("the process was not started again")
	}
	if kind, msg := revokeCall(t, p, `{"rooms":["vip"]}`); kind != "ok" {
		t.Fatalf("after a restart: %s %s", kind, msg)
	}
	if got := sink.next(t); got != `{"rooms":["vip"]}` {
		t.Fatalf("the host got %s", got)
	}
	select {
	case <-first.host.done:
	default:
		t.Fatal("the exited process's host service still serves")
	}
	if n := hostGoroutines(); n == 0 {
		t.Fatal("no goroutine serves the running process: the leak check below would see nothing")
	}
}

// TestRevokeLegacyPlugin: a plugin built before Bind loads, granted
// "revoke" or not, and works; the host serves it nothing and says why.
func TestRevokeLegacyPlugin(t *testing.T) {
	sink := newRevokeSink()
	for _, granted := range []bool{false, true} {
		spec := host.Spec{Entry: legacyBin}
		if granted {
			spec.Revoke = sink.revoke
		}
		p, logs := loadSpec(t, &Runtime{}, spec, nil)
		d, err := call(p, event("s3", "anything", `["x"]`), long)
		if err != nil || d.Event != "echo:s3" || string(d.Args) != `["x"]` {
			t.Fatalf("granted %v: %+v, %v", granted, d, err)
		}
		if p.cur.Load().host != nil {
			t.Fatalf("granted %v: a host service is left serving a plugin that cannot call it", granted)
		}
		_, warned := logs.find("WARN", "rebuild it with the current sdk/process")
		if warned != granted {
			t.Fatalf("granted %v: warned %v; logs %q", granted, warned, logs.records)
		}
	}
}

// TestRevokeNoLeak: closing plugins that served the Host service — a
// process that called it, one that did not — leaves no goroutine of it.
func TestRevokeNoLeak(t *testing.T) {
	sink := newRevokeSink()
	for range 3 {
		p, _ := loadRevoking(t, sink, nil)
		if kind, msg := revokeCall(t, p, `{"rooms":["vip"]}`); kind != "ok" {
			t.Fatalf("%s %s", kind, msg)
		}
		sink.next(t)
		idle, _ := loadRevoking(t, sink, nil)
		if hostGoroutines() == 0 {
			t.Fatal("no goroutine serves the processes: the check below would see nothing")
		}
		for _, q := range []*plugin{p, idle} {
			if err := q.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Close has stopped the servers; their last goroutines may take a
	// moment to return.
	for deadline := time.Now().Add(waitfor.Bound); hostGoroutines() != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines of the host service are left:\n%s", hostGoroutines(), goroutines())
		}
	}
}

// hostGoroutines counts the goroutines serving a Host service: those of
// its servers (this package's tests run no other gRPC server).
func hostGoroutines() int {
	n := 0
	for _, g := range strings.Split(goroutines(), "\n\n") {
		if strings.Contains(g, "google.golang.org/grpc.(*Server)") || strings.Contains(g, "(*plugin).serveHost") {
			n++
		}
	}
	return n
}

func goroutines() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

// TestRevokeSizes: a revocation over the host's bound (64 KiB) is refused
// as bad with its size, and never reaches the Revoke func, however large
// (the Go SDK checks the bound before sending; the Host service's message
// bound, 256 KiB, is for processes in other languages).
func TestRevokeSizes(t *testing.T) {
	sink := newRevokeSink()
	p, _ := loadRevoking(t, sink, nil)
	for _, size := range []int{64<<10 - 10, 100 << 10, 300 << 10} {
		rev := `{"rooms":["vip"],"reason":"` + strings.Repeat("x", size) + `"}`
		kind, msg := revokeCall(t, p, rev)
		if want := fmt.Sprintf("%d bytes of JSON, at most 65536", len(rev)); kind != "bad" || !strings.Contains(msg, want) {
			t.Errorf("a revocation of %d bytes: got %s %q, want bad %q", len(rev), kind, msg, want)
		}
	}
	sink.none(t)
}

// TestHostServiceMessageBound: a process that is not built with the Go SDK
// (which checks the revocation's bound itself) and sends the Host service
// more than its message bound is refused by the transport, and its
// request reaches no Revoke func; one just under the bound reaches it.
func TestHostServiceMessageBound(t *testing.T) {
	sink := newRevokeSink()
	srv := newHostServer(sink.revoke)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := pb.NewHostClient(conn)
	big := `{"rooms":["vip"],"reason":"` + strings.Repeat("x", maxHostMessage) + `"}`
	_, err = client.Revoke(t.Context(), &pb.RevokeRequest{RevocationJson: []byte(big)})
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("a request of %d bytes: %v, want ResourceExhausted", len(big), err)
	}
	sink.none(t)
	// Under the message bound, the host's own bound answers.
	over := `{"rooms":["vip"],"reason":"` + strings.Repeat("x", 100<<10) + `"}`
	_, err = client.Revoke(t.Context(), &pb.RevokeRequest{RevocationJson: []byte(over)})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "at most 65536") {
		t.Fatalf("a revocation of %d bytes: %v, want InvalidArgument with the host's bound", len(over), err)
	}
	if _, err := client.Revoke(t.Context(), &pb.RevokeRequest{RevocationJson: []byte(`{"rooms":["vip"]}`)}); err != nil {
		t.Fatal(err)
	}
	if got := sink.next(t); got != `{"rooms":["vip"]}` {
		t.Fatalf("the host got %s", got)
	}
}

// TestHostServiceStreamBound: the Host service takes at most
// maxHostStreams calls in flight from a process. It says so in its HTTP/2
// settings, and a client that opens one stream more (as a process in
// another language might, ignoring them) has it refused, while the calls
// in flight go on. Spoken in raw HTTP/2 frames, since a gRPC client
// queues the calls past the bound itself.
func TestHostServiceStreamBound(t *testing.T) {
	entered := make(chan struct{}, maxHostStreams+1)
	release := make(chan struct{})
	srv := newHostServer(func([]byte) error {
		entered <- struct{}{}
		<-release
		return nil
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	defer close(release)

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(waitfor.Bound))
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	// The server's settings announce the bound.
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if s, ok := f.(*http2.SettingsFrame); ok && !s.IsAck() {
			if v, ok := s.Value(http2.SettingMaxConcurrentStreams); !ok || v != maxHostStreams {
				t.Fatalf("SETTINGS_MAX_CONCURRENT_STREAMS = %d (%v), want %d", v, ok, maxHostStreams)
			}
			break
		}
	}
	if err := fr.WriteSettingsAck(); err != nil {
		t.Fatal(err)
	}

	var hdr bytes.Buffer
	enc := hpack.NewEncoder(&hdr)
	for _, f := range [][2]string{
		{":method", "POST"}, {":scheme", "http"}, {":path", pb.Host_Revoke_FullMethodName},
		{":authority", ln.Addr().String()}, {"content-type", "application/grpc"}, {"te", "trailers"},
	} {
		_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	msg, err := proto.Marshal(&pb.RevokeRequest{RevocationJson: []byte(`{"rooms":["vip"]}`)})
	if err != nil {
		t.Fatal(err)
	}
	body := append([]byte{0, byte(len(msg) >> 24), byte(len(msg) >> 16), byte(len(msg) >> 8), byte(len(msg))}, msg...)
	last := uint32(0)
	for i := range maxHostStreams + 1 {
		last = uint32(2*i + 1)
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: last, BlockFragment: hdr.Bytes(), EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		if err := fr.WriteData(last, true, body); err != nil {
			t.Fatal(err)
		}
	}
	// The stream past the bound is refused.
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("no refusal of stream %d: %v", last, err)
		}
		if r, ok := f.(*http2.RSTStreamFrame); ok {
			if r.StreamID != last || r.ErrCode != http2.ErrCodeRefusedStream {
				t.Fatalf("RST_STREAM of stream %d (%v), want stream %d refused", r.StreamID, r.ErrCode, last)
			}
			break
		}
	}
	// The calls within it reached the host, and none more.
	for range maxHostStreams {
		select {
		case <-entered:
		case <-time.After(waitfor.Bound):
			t.Fatal("the calls within the bound did not all reach the host")
		}
	}
	select {
	case <-entered:
		t.Fatal("a call past the bound reached the host")
	default:
	}
}
