package hub_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
)

// interactiveClient is a Node script run with commands on its stdin and
// one JSON observation per line on its stdout.
type interactiveClient struct {
	t     *testing.T
	stdin io.WriteCloser
	lines chan compatObs
	errc  chan error

	mu     sync.Mutex
	stderr strings.Builder
	seen   []compatObs
}

func startInteractive(t *testing.T, script string, args ...string) *interactiveClient {
	t.Helper()
	compatRequireClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	cmd := exec.CommandContext(ctx, "node", append([]string{script}, args...)...)
	cmd.Dir = compatClientDir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &interactiveClient{t: t, stdin: stdin, lines: make(chan compatObs, 1024), errc: make(chan error, 1)}
	cmd.Stderr = writerFunc(func(b []byte) (int, error) {
		c.mu.Lock()
		c.stderr.Write(b)
		c.mu.Unlock()
		return len(b), nil
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			var o compatObs
			if json.Unmarshal(sc.Bytes(), &o) == nil {
				c.lines <- o
			}
		}
		c.errc <- cmd.Wait()
		close(c.lines)
	}()
	t.Cleanup(func() {
		stdin.Close()
		cancel()
		for range c.lines {
		}
	})
	return c
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func (c *interactiveClient) send(cmd string) {
	c.t.Helper()
	if _, err := io.WriteString(c.stdin, cmd+"\n"); err != nil {
		c.t.Fatalf("writing %q to the client: %v", cmd, err)
	}
}

// next returns the next observation ev; those before it are kept in seen.
func (c *interactiveClient) next(ev string) compatObs {
	c.t.Helper()
	timeout := time.After(testWait)
	for {
		select {
		case o, ok := <-c.lines:
			if !ok {
				c.mu.Lock()
				defer c.mu.Unlock()
				c.t.Fatalf("client ended (%v) before %q; stderr:\n%s", <-c.errc, ev, c.stderr.String())
			}
			c.seen = append(c.seen, o)
			if o["ev"] == ev {
				return o
			}
		case <-timeout:
			c.t.Fatalf("no %q from the client within %v; seen %v", ev, testWait, c.seen)
		}
	}
}

// nextEvent returns the next socket event called name.
func (c *interactiveClient) nextEvent(name string) compatObs {
	c.t.Helper()
	for {
		o := c.next("event")
		if o["event"] == name {
			return o
		}
	}
}

// The real socket.io-client recovers: after a cut, it comes back with the
// same id, socket.recovered true, and gets what it missed once and in
// order — over each transport.
func TestCompatRecovery(t *testing.T) {
	for _, tr := range []compatTransport{compatWebSocket, compatPolling} {
		t.Run(tr.name, func(t *testing.T) {
			rs := newRecoveryServer(t, hub.RecoveryOptions{})
			nsp := rs.srv.Of("/")
			nsp.OnConnection(func(s *hub.Socket) {
				s.On("join", func(ev *hub.Event) {
					var room string
					ev.Args.Bind(&room)
					s.Join(room)
					s.SetData(map[string]any{"n": 2})
					ev.Ack(s.Rooms())
				})
			})
			params, _ := json.Marshal(map[string]any{"transports": tr.transports})
			c := startInteractive(t, "recovery.mjs", rs.url, string(params))
			first := c.next("connect")
			if first["recovered"] != false {
				t.Fatalf("first connect: %v", first)
			}
			id := first["id"].(string)
			c.next("joined")
			nsp.To("r").Emit("before", 0)
			c.nextEvent("before")

			c.send("cut")
			c.next("disconnect")
			rs.mu.Lock()
			gone := rs.gone[id]
			rs.mu.Unlock()
			select {
			case <-gone:
			case <-time.After(testWait):
				t.Fatal("the server did not see the cut")
			}
			nsp.To("r").Emit("gap", 1)
			nsp.To("r").Emit("gap", 2, []byte("bin"))
			nsp.To(id).Emit("gap", 3)
			nsp.To("r").Volatile().Emit("other", 0)
			nsp.To("x").Emit("other", 1)

			c.send("reconnect")
			again := c.next("connect")
			if again["recovered"] != true || again["id"] != id {
				t.Fatalf("reconnect: %v, want recovered with id %s", again, id)
			}
			s := rs.socket(t, id)
			if !s.Recovered() || !s.In("r") {
				t.Fatalf("server side: Recovered %v, rooms %v", s.Recovered(), s.Rooms())
			}
			if d, _ := s.Data().(map[string]any); d["n"] != 2 {
				t.Fatalf("data %v, want n=2", s.Data())
			}
			s.Emit("after")
			c.nextEvent("after")
			var got []string
			for _, o := range c.seen {
				if o["ev"] != "event" {
					continue
				}
				args := o["args"].([]any)
				if o["event"] == "gap" || o["event"] == "other" {
					got = append(got, fmt.Sprintf("%s%v", o["event"], args[0]))
					if off, ok := args[len(args)-1].(string); !ok || off == "" {
						t.Fatalf("replayed event without an offset: %v", o)
					}
				}
				if o["event"] == "gap" && args[0] == float64(2) {
					if b, _ := args[1].(map[string]any); b["$bin"] != "Ymlu" {
						t.Fatalf("binary argument replayed as %v", args[1])
					}
				}
			}
			if want := "gap1 gap2 gap3"; strings.Join(got, " ") != want {
				t.Fatalf("client got %v, want %s", got, want)
			}
			c.send("quit")
		})
	}
}
