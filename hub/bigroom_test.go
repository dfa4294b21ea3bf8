//go:build unix

package hub_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/internal/nodeproc"
)

// A room of 10,000 needs 10,000 sockets on each side, more than one process
// may open here: the clients run in a process of their own, the test binary
// run again with fleetEnv set (see runFleet).
const fleetEnv = "HUBD_TEST_FLEET"

func TestMain(m *testing.M) {
	if os.Getenv(fleetEnv) != "" {
		os.Exit(runFleet())
	}
	os.Exit(m.Run())
}

const (
	bigRoom   = 10_000
	bigMsgs   = 20       // broadcasts to the whole room
	bulkMsgs  = 64       // sent to the slow clients first, to fill their sockets
	bulkBytes = 16 << 10 // each
)

// TestSlowReadersInBigRoom: in a room of 10,000 WebSocket clients, a few
// stop reading and their sockets fill (the server's writes to them cannot
// finish); broadcasts to the room still reach every other member, all of
// them, while the slow ones have read nothing. Once the slow ones read
// again, each gets everything sent to it, once and in order.
//
// There are more slow clients than the server's writer pool has workers
// (GOMAXPROCS), so a writer that waited on a full socket would stop the
// broadcast, and this test would time out.
func TestSlowReadersInBigRoom(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur < bigRoom+512 {
		t.Fatalf("this test opens %d sockets in each of two processes; the open-file limit is %d: raise it (ulimit -n) to at least %d",
			bigRoom, lim.Cur, bigRoom+512)
	}
	slow := runtime.GOMAXPROCS(0) + 1

	srv := hub.New(hub.Options{
		// Nothing here may end a slow client: not a missed pong, not a
		// write that waits, not its queue (64 × 16 KiB and the room's
		// broadcasts).
		PingInterval:     time.Hour,
		PingTimeout:      time.Hour,
		WriteTimeout:     time.Hour,
		MaxBufferedBytes: 64 << 20,
	})
	nsp := srv.Of("/")
	nsp.OnConnection(func(s *hub.Socket) {
		s.On("join", func(ev *hub.Event) {
			var isSlow bool
			if err := ev.Args.Bind(&isSlow); err != nil {
				_ = ev.Ack(err.Error())
				return
			}
			_ = s.Join("big")
			if isSlow {
				_ = s.Join("slow")
			}
			_ = ev.Ack()
		})
	})
	ts := httptest.NewUnstartedServer(srv)
	ts.Listener = smallBufferListener{ts.Listener.(*net.TCPListener)}
	ts.Start()
	t.Cleanup(func() {
		srv.Close()
		ts.Close()
	})

	notices := make(chan string, 16)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fleetEnv+"="+strings.Join([]string{
		ts.Listener.Addr().String(), strconv.Itoa(bigRoom), strconv.Itoa(slow),
		strconv.Itoa(bigMsgs), strconv.Itoa(bulkMsgs), strconv.Itoa(bulkBytes)}, ","))
	fleet := nodeproc.StartCommand(t, cmd, func(line []byte) {
		if line == nil {
			notices <- "exited"
			return
		}
		notices <- string(line)
	})
	expect := func(want string) {
		t.Helper()
		// A bound for a hung run only: on a loaded machine, under the
		// race detector, 10,000 connections take a while.
		select {
		case got := <-notices:
			if got != want {
				t.Fatalf("the client process said %q, want %q", got, want)
			}
		case <-time.After(5 * time.Minute):
			t.Fatalf("the client process did not say %q", want)
		}
	}
	members := func(room string) int {
		t.Helper()
		ss, err := nsp.In(room).FetchSockets(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return len(ss)
	}

	expect("ready")
	if n := members("big"); n != bigRoom {
		t.Fatalf("room of %d, want %d", n, bigRoom)
	}
	if n := members("slow"); n != slow {
		t.Fatalf("%d slow clients joined, want %d", n, slow)
	}
	pad := strings.Repeat("x", bulkBytes)
	for i := range bulkMsgs {
		if err := nsp.To("slow").Emit("bulk", i, pad); err != nil {
			t.Fatal(err)
		}
	}
	for i := range bigMsgs {
		if err := nsp.To("big").Emit("msg", i); err != nil {
			t.Fatal(err)
		}
	}
	expect("fast") // every other member has every broadcast
	if n := members("slow"); n != slow {
		t.Fatalf("%d slow clients still connected, want %d", n, slow)
	}
	if n := srv.Stats().SlowWrites; n < uint64(slow) {
		t.Fatalf("Stats.SlowWrites %d, want at least one per slow client (%d)", n, slow)
	}
	fleet.Must(map[string]any{"op": "read"}, nil)
	expect("slow") // and the slow ones everything, in order
}

// smallBufferListener gives each accepted socket a 64 KiB send buffer, so
// that a client that does not read fills it with little data. Its
// connections stay *net.TCPConn, as a plain listener's.
type smallBufferListener struct{ *net.TCPListener }

func (l smallBufferListener) Accept() (net.Conn, error) {
	c, err := l.AcceptTCP()
	if err != nil {
		return nil, err
	}
	if err := c.SetWriteBuffer(64 << 10); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// runFleet is the client process of TestSlowReadersInBigRoom. fleetEnv
// holds "addr,n,slow,msgs,bulk,bulkBytes": it opens n WebSocket clients to
// addr, each joining the room (the first slow ones as slow), and says on
// stdout, one line each:
//   - "ready" once all have joined;
//   - "fast" once each of the others has read the msgs broadcasts
//     ("msg", 0…msgs-1, in order);
//   - after the command {"op":"read"} on stdin (answered at once), the slow
//     ones start reading, and "slow" once each has read the bulk events
//     ("bulk", 0…bulk-1, each with bulkBytes of padding) and then the
//     broadcasts, in order.
//
// Any error ends it with a message on stderr and status 1.
func runFleet() int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		return 1
	}
	var addr string
	var n, slow, msgs, bulk, bulkSize int
	parts := strings.Split(os.Getenv(fleetEnv), ",")
	if len(parts) != 6 {
		return fail(fmt.Errorf("bad %s %q", fleetEnv, os.Getenv(fleetEnv)))
	}
	addr = parts[0]
	for i, p := range []*int{&n, &slow, &msgs, &bulk, &bulkSize} {
		v, err := strconv.Atoi(parts[i+1])
		if err != nil {
			return fail(err)
		}
		*p = v
	}

	errs := make(chan error, 1)
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	readSlow := make(chan struct{})
	var joined, fastDone, slowDone sync.WaitGroup
	joined.Add(n)
	fastDone.Add(n - slow)
	slowDone.Add(slow)
	ramp := make(chan struct{}, 64)
	for i := range n {
		isSlow := i < slow
		go func() {
			ramp <- struct{}{}
			c, err := dialFleetClient(addr, isSlow)
			<-ramp
			if err != nil {
				report(fmt.Errorf("client %d: %w", i, err))
				return
			}
			joined.Done()
			if !isSlow {
				err = c.expectEvents("msg", msgs, 0)
				if err == nil {
					fastDone.Done()
					_, _ = io.Copy(io.Discard, c.r) // until the end
				}
			} else {
				<-readSlow
				err = c.expectEvents("bulk", bulk, bulkSize)
				if err == nil {
					err = c.expectEvents("msg", msgs, 0)
				}
				if err == nil {
					slowDone.Done()
				}
			}
			if err != nil {
				report(fmt.Errorf("client %d: %w", i, err))
			}
		}()
	}
	waitOr := func(wg *sync.WaitGroup, line string) error {
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
			fmt.Println(line)
			return nil
		case err := <-errs:
			return err
		}
	}
	if err := waitOr(&joined, "ready"); err != nil {
		return fail(err)
	}
	go func() { // the parent's commands
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			var cmd struct {
				ID int    `json:"id"`
				Op string `json:"op"`
			}
			if json.Unmarshal(sc.Bytes(), &cmd) == nil && cmd.Op == "read" {
				close(readSlow)
				fmt.Printf("{\"id\":%d,\"result\":true}\n", cmd.ID)
			}
		}
		os.Exit(0) // the test ended
	}()
	if err := waitOr(&fastDone, "fast"); err != nil {
		return fail(err)
	}
	if err := waitOr(&slowDone, "slow"); err != nil {
		return fail(err)
	}
	select {} // until stdin closes
}

// fleetClient is a bare Socket.IO client over WebSocket, enough to join and
// count events.
type fleetClient struct {
	nc net.Conn
	r  *bufio.Reader
}

func dialFleetClient(addr string, slow bool) (*fleetClient, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	if slow {
		// A small receive window: the client's side holds little.
		if err := nc.(*net.TCPConn).SetReadBuffer(16 << 10); err != nil {
			return nil, err
		}
	}
	c := &fleetClient{nc: nc, r: bufio.NewReaderSize(nc, 4096)}
	_, err = io.WriteString(nc, "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: "+addr+
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	if err != nil {
		return nil, err
	}
	status, err := c.r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.Contains(status, " 101 ") {
		return nil, fmt.Errorf("handshake answered %q", status)
	}
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if line == "\r\n" {
			break
		}
	}
	if err := c.expectPrefix("0{"); err != nil { // the Engine.IO open packet
		return nil, err
	}
	if err := c.send("40"); err != nil {
		return nil, err
	}
	if err := c.expectPrefix("40{"); err != nil {
		return nil, err
	}
	if err := c.send(`421["join",` + strconv.FormatBool(slow) + `]`); err != nil {
		return nil, err
	}
	if err := c.expectPrefix("431["); err != nil {
		return nil, err
	}
	return c, nil
}

// send writes one masked text frame (the mask key is zero, which leaves the
// payload as it is).
func (c *fleetClient) send(s string) error {
	frame := append([]byte{0x81, 0x80 | byte(len(s)), 0, 0, 0, 0}, s...)
	_, err := c.nc.Write(frame)
	return err
}

// next reads one text frame from the server (unmasked, unfragmented).
func (c *fleetClient) next() ([]byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(c.r, h[:]); err != nil {
		return nil, err
	}
	if h[0] != 0x81 || h[1]&0x80 != 0 {
		return nil, fmt.Errorf("unexpected frame header % x", h)
	}
	n := uint64(h[1])
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(c.r, b[:]); err != nil {
			return nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(c.r, b[:]); err != nil {
			return nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 1<<20 {
		return nil, fmt.Errorf("frame of %d bytes", n)
	}
	p := make([]byte, n)
	_, err := io.ReadFull(c.r, p)
	return p, err
}

func (c *fleetClient) expectPrefix(prefix string) error {
	p, err := c.next()
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(p, []byte(prefix)) {
		return fmt.Errorf("got %.60q, want %q…", p, prefix)
	}
	return nil
}

// expectEvents reads count events named event, numbered 0…count-1 in their
// first argument, with padding of pad bytes as the second when pad > 0.
func (c *fleetClient) expectEvents(event string, count, pad int) error {
	for i := range count {
		p, err := c.next()
		if err != nil {
			return fmt.Errorf("%s %d: %w", event, i, err)
		}
		var args []json.RawMessage
		if !bytes.HasPrefix(p, []byte("42")) || json.Unmarshal(p[2:], &args) != nil || len(args) < 2 {
			return fmt.Errorf("%s %d: got %.60q", event, i, p)
		}
		var name string
		var seq int
		if json.Unmarshal(args[0], &name) != nil || name != event || json.Unmarshal(args[1], &seq) != nil || seq != i {
			return fmt.Errorf("%s %d: got %.60q", event, i, p)
		}
		if pad > 0 {
			var s string
			if len(args) != 3 || json.Unmarshal(args[2], &s) != nil || len(s) != pad {
				return errors.New(event + ": bad padding")
			}
		}
	}
	return nil
}
