package tcpproxy_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hubd/hubd/internal/tcpproxy"
)

// startServer answers each line a client sends with name:line, and ends
// the connection after the line "bye".
func startServer(t *testing.T, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := io.WriteString(c, name+":"+line); err != nil || line == "bye\n" {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// client is a connection through the proxy.
type client struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, p *tcpproxy.Proxy) *client {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return &client{t: t, c: c, r: bufio.NewReader(c)}
}

// ask sends line and returns the answer, or the error that ended the
// connection.
func (c *client) ask(line string) (string, error) {
	if _, err := io.WriteString(c.c, line+"\n"); err != nil {
		return "", err
	}
	answer, err := c.r.ReadString('\n')
	return strings.TrimSuffix(answer, "\n"), err
}

func (c *client) expect(line, want string) {
	c.t.Helper()
	if got, err := c.ask(line); err != nil || got != want {
		c.t.Fatalf("asked %q: %q (%v), want %q", line, got, err, want)
	}
}

// expectReset checks that the connection ends with a TCP reset.
func (c *client) expectReset(what string) {
	c.t.Helper()
	if got, err := c.r.ReadString('\n'); !errors.Is(err, syscall.ECONNRESET) {
		c.t.Fatalf("%s: read %q (%v), want a connection reset", what, got, err)
	}
}

// dialReset checks that a connection through p is reset: at once, or on
// its first read.
func dialReset(t *testing.T, p *tcpproxy.Proxy, what string) {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if errors.Is(err, syscall.ECONNRESET) {
		return
	}
	if err != nil {
		t.Fatalf("%s: %v, want a connection reset", what, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	(&client{t: t, c: c, r: bufio.NewReader(c)}).expectReset(what)
}

func TestForwardsToTheTargetOfTheMoment(t *testing.T) {
	a, b := startServer(t, "a"), startServer(t, "b")
	p := tcpproxy.Start(t, a)
	onA := dial(t, p)
	onA.expect("1", "a:1")
	p.Point(b)
	onB := dial(t, p)
	onB.expect("2", "b:2")
	onA.expect("3", "a:3") // an open connection stays where it is
}

func TestCutResetsAndRefusesUntilRestore(t *testing.T) {
	p := tcpproxy.Start(t, startServer(t, "a"))
	before := dial(t, p)
	before.expect("1", "a:1")
	p.Cut()
	before.expectReset("a connection open at the cut")
	dialReset(t, p, "a connection made during the cut")
	p.Restore()
	dial(t, p).expect("2", "a:2")
}

func TestTheTargetEndingEndsTheClient(t *testing.T) {
	p := tcpproxy.Start(t, startServer(t, "a"))
	c := dial(t, p)
	c.expect("bye", "a:bye")
	if line, err := c.r.ReadString('\n'); err != io.EOF {
		t.Fatalf("after the server closed: %q (%v), want EOF", line, err)
	}
}

func TestAnUnreachableTargetResets(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := ln.Addr().String()
	ln.Close()
	p := tcpproxy.Start(t, gone)
	dialReset(t, p, "a connection to a target that refuses")
}
