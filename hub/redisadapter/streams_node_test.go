package redisadapter_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/redisadapter"
	"github.com/hubd/hubd/internal/nodeproc"
)

// A hub node can run in a process of its own, so that a test can kill it
// with SIGKILL: the test binary runs again with testNodeEnv set, and
// TestMain hands over to runTestNode.
const testNodeEnv = "HUBD_TEST_NODE"

// runTestNode serves a hub node with the streams flavour and connection
// state recovery until its stdin closes (or it is killed). The parent
// gives it HUBD_TEST_REDIS, HUBD_TEST_KEY (see streamsOptions) and
// HUBD_TEST_RECOVERY (the recovery's duration); it prints the port it
// listens on, on one line.
func runTestNode() int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "test node:", err)
		return 1
	}
	opt, err := redis.ParseURL(os.Getenv("HUBD_TEST_REDIS"))
	if err != nil {
		return fail(err)
	}
	rdb := redis.NewClient(opt)
	d, err := time.ParseDuration(os.Getenv("HUBD_TEST_RECOVERY"))
	if err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	streams, err := redisadapter.NewStreams(ctx, rdb, streamsOptions(os.Getenv("HUBD_TEST_KEY"), false))
	if err != nil {
		return fail(err)
	}
	srv := hub.New(hub.Options{
		Adapter:                 streams.Adapter,
		ConnectionStateRecovery: &hub.RecoveryOptions{MaxDisconnectionDuration: d},
		Logger:                  slog.New(slog.DiscardHandler),
	})
	serveJoin(srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	go http.Serve(ln, srv)
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	_, _ = io.Copy(io.Discard, os.Stdin)
	srv.Close()
	streams.Close()
	return 0
}

// serveJoin lets the clients of the recovery tests join a room with data:
// the event "join" (room, data) is answered with the socket's rooms, once
// they are set.
func serveJoin(srv *hub.Server) {
	srv.Of("/").OnConnection(func(s *hub.Socket) {
		s.On("join", func(ev *hub.Event) {
			var room string
			var data map[string]any
			if err := ev.Args.Bind(&room, &data); err != nil {
				_ = ev.Ack(map[string]any{"error": err.Error()})
				return
			}
			if err := s.Join(room); err != nil {
				_ = ev.Ack(map[string]any{"error": err.Error()})
				return
			}
			s.SetData(data)
			_ = ev.Ack(s.Rooms())
		})
	})
}

// nodeProcess is a hub node in a process of its own.
type nodeProcess struct {
	*nodeproc.Proc
	addr string // host:port
}

// startNodeProcess runs the test binary again as a node of key's
// cluster; it ends when the test does, if it has not been killed.
func startNodeProcess(t *testing.T, key string, recovery time.Duration) *nodeProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), testNodeEnv+"=1", "HUBD_TEST_REDIS="+redisURL, "HUBD_TEST_KEY="+key,
		"HUBD_TEST_RECOVERY="+recovery.String())
	port := make(chan string, 1)
	p := nodeproc.StartCommand(t, cmd, func(line []byte) {
		select {
		case port <- strings.TrimSpace(string(line)): // the first line, or nil at the end
		default:
		}
	})
	select {
	case n := <-port:
		if _, err := strconv.Atoi(n); err != nil {
			t.Fatalf("the node process did not start: %q", n)
		}
		return &nodeProcess{Proc: p, addr: "127.0.0.1:" + n}
	case <-time.After(wait):
		t.Fatal("the node process did not start")
	}
	return nil
}

// kill ends the node with SIGKILL: nothing of it runs after.
func (p *nodeProcess) kill(t *testing.T) {
	t.Helper()
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
}
