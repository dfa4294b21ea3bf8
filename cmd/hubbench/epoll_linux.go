//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
)

// epollSupported reports whether -receivers-io epoll works here.
const epollSupported = true

// epollReaders reads the fanout receivers with a few goroutines, each
// waiting on its own epoll instance, instead of one goroutine per client:
// a wake-up serves every connection that has bytes, and each read takes
// all a connection has (up to 64 KiB). This keeps the load generator's cost
// per delivered message low when it shares the machine with the server.
//
// A client is adopted once its join is acknowledged: its socket is
// duplicated and the gorilla connection closed, which takes the socket out
// of the Go runtime's poller (two pollers would both wake for every
// packet). What gorilla had read past the join ack but not parsed is taken
// from the client's tapConn and parsed first, so nothing is lost between
// the two readers.
//
// Each poller counts its receivers' deliveries in a fanoutShared of its own
// and adds them to the run's after every wake-up (the latency samples at
// stop), so that the two cores do not contend for the same counters on
// every message.
type epollReaders struct {
	shared  *fanoutShared // the run's
	pollers []*epollPoller
	conns   []atomic.Pointer[epollConn] // by receiver index
	wg      sync.WaitGroup
	dropped atomic.Int64 // connections that ended before stop
	failed  atomic.Int64 // clients that could not be adopted
}

// epollPoller is one reading goroutine and its epoll instance.
type epollPoller struct {
	epfd int
	file *os.File // epfd, waited on in the runtime's poller
	wake [2]int   // a pipe: a byte written to wake[1] stops the poller
	buf  []byte

	local   fanoutShared // this poller's receivers' counts
	flushed int64        // local.delivered already added to the run's
}

// epollConn is one adopted receiver.
type epollConn struct {
	fd   int
	rv   *receiver
	ws   wsReader
	p    *epollPoller
	dead bool
}

// wakeIndex marks the stop pipe in an epoll event.
const wakeIndex = -1

// startEpollReaders starts workers pollers for up to n receivers, counting
// into shared.
func startEpollReaders(shared *fanoutShared, n, workers int) (*epollReaders, error) {
	e := &epollReaders{shared: shared, conns: make([]atomic.Pointer[epollConn], n)}
	for range max(workers, 1) {
		p, err := newEpollPoller()
		if err != nil {
			e.stop()
			return nil, err
		}
		e.pollers = append(e.pollers, p)
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.run(p)
		}()
	}
	return e, nil
}

func newEpollPoller() (*epollPoller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	p := &epollPoller{epfd: epfd, buf: make([]byte, 64<<10)}
	if err := syscall.Pipe2(p.wake[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		syscall.Close(epfd)
		return nil, os.NewSyscallError("pipe2", err)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: wakeIndex}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p.wake[0], &ev); err != nil {
		p.close()
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	if err := syscall.SetNonblock(epfd, true); err != nil {
		p.close()
		return nil, os.NewSyscallError("fcntl", err)
	}
	p.file = os.NewFile(uintptr(epfd), "epoll")
	return p, nil
}

func (p *epollPoller) close() {
	syscall.Close(p.wake[0])
	syscall.Close(p.wake[1])
	if p.file != nil {
		p.file.Close()
	} else {
		syscall.Close(p.epfd)
	}
}

// adopt takes over client c as receiver i, read into rv from now on. On
// failure the client is closed and counted in failed.
func (e *epollReaders) adopt(i int, c *Client, rv *receiver) {
	p := e.pollers[i%len(e.pollers)]
	rv.shared = &p.local
	conn := &epollConn{rv: rv, p: p}
	fd, rest, err := detachFD(c)
	conn.fd = fd
	if err == nil && len(rest) > 0 {
		// Frames gorilla read but did not parse: parse them now, on this
		// goroutine, before the poller can see the connection.
		err = conn.ws.feed(rest, conn)
	}
	if err != nil {
		if fd >= 0 {
			syscall.Close(fd)
		}
		e.failed.Add(1)
		return
	}
	e.conns[i].Store(conn)
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(i)}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		e.conns[i].Store(nil)
		syscall.Close(fd)
		e.failed.Add(1)
	}
}

// detachFD returns a duplicate of the client's socket descriptor and the
// bytes read from the socket past the join ack, and closes the client, so
// that the duplicate is the socket's only descriptor. The client must have
// been dialed with tap set and have joined.
func detachFD(c *Client) (fd int, rest []byte, err error) {
	defer c.conn.Close()
	tap, ok := c.conn.NetConn().(*tapConn)
	if !ok {
		return -1, nil, errors.New("client dialed without tap")
	}
	if rest, err = afterJoinAck(tap.stop()); err != nil {
		return -1, nil, err
	}
	sc, ok := tap.Conn.(syscall.Conn)
	if !ok {
		return -1, nil, errors.New("connection has no file descriptor")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, nil, err
	}
	fd = -1
	var dupErr error
	if err := rc.Control(func(s uintptr) {
		fd, dupErr = dupCloexec(int(s))
	}); err != nil {
		return -1, nil, err
	}
	return fd, rest, dupErr
}

func dupCloexec(fd int) (int, error) {
	r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
	if errno != 0 {
		return -1, os.NewSyscallError("fcntl", errno)
	}
	return int(r), nil
}

// run is one poller's loop: it returns once stop writes to its pipe.
//
// The poller does not block in epoll_wait: a goroutine blocked in a system
// call holds a thread, and the runtime hands its P to another thread each
// time, which at thousands of wake-ups a second costs more than the reads.
// Instead the epoll descriptor, readable whenever it has events, waits in
// the Go runtime's own poller like any socket, and is polled with a zero
// timeout once it is ready.
func (e *epollReaders) run(p *epollPoller) {
	events := make([]syscall.EpollEvent, 256)
	rc, err := p.file.SyscallConn()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hubbench: epoll:", err)
		return
	}
	stopped := false
	poll := func(epfd uintptr) bool {
		n, err := syscall.EpollWait(int(epfd), events, 0)
		if n <= 0 || err != nil {
			return false // wait until the epoll descriptor is readable
		}
		for _, ev := range events[:n] {
			if ev.Fd == wakeIndex {
				stopped = true
				continue
			}
			if c := e.conns[ev.Fd].Load(); c != nil && !c.dead {
				e.read(c)
			}
		}
		return true
	}
	for !stopped {
		if err := rc.Read(poll); err != nil {
			fmt.Fprintln(os.Stderr, "hubbench: epoll:", err)
			return
		}
		e.flush(p)
	}
}

// flush adds what p counted since the last flush to the run's counts.
func (e *epollReaders) flush(p *epollPoller) {
	d := p.local.delivered.Load()
	if d == p.flushed {
		return
	}
	e.shared.delivered.Add(d - p.flushed)
	p.flushed = d
	last := p.local.lastRecv.Load()
	for {
		cur := e.shared.lastRecv.Load()
		if last <= cur || e.shared.lastRecv.CompareAndSwap(cur, last) {
			return
		}
	}
}

// read takes what one connection has and parses it.
func (e *epollReaders) read(c *epollConn) {
	n, err := syscall.Read(c.fd, c.p.buf)
	if err == syscall.EAGAIN || err == syscall.EINTR {
		return
	}
	if n <= 0 || err != nil {
		e.end(c)
		return
	}
	if err := c.ws.feed(c.p.buf[:n], c); err != nil {
		e.end(c)
	}
}

// end drops a connection the server or the network ended.
func (e *epollReaders) end(c *epollConn) {
	c.dead = true
	syscall.EpollCtl(c.p.epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
	syscall.Close(c.fd)
	e.dropped.Add(1)
}

// text handles one Engine.IO packet as Client.readLoop does.
func (c *epollConn) text(f []byte) error {
	switch {
	case len(f) == 0:
	case f[0] == eioPing:
		return c.write(wsText, []byte{eioPong})
	case f[0] == eioClose, sioType(f) == sioDisconnect:
		return errors.New("closed by server")
	case f[0] == eioMessage:
		c.rv.handle(f)
	}
	return nil
}

// ping answers a WebSocket ping.
func (c *epollConn) ping(payload []byte) error { return c.write(wsPong, payload) }

// write sends one control-sized frame. The socket is non-blocking; a frame
// this small fits in any send buffer that is not full, and a full one means
// the server stopped reading, which ends the connection.
func (c *epollConn) write(op byte, payload []byte) error {
	var b [2 + 4 + 125]byte
	out := appendMaskedFrame(b[:0], op, payload)
	n, err := syscall.Write(c.fd, out)
	if err != nil {
		return err
	}
	if n != len(out) {
		return errors.New("short write")
	}
	return nil
}

// stop ends the pollers, closes every connection they hold and returns how
// many had ended before, plus those that could not be adopted.
func (e *epollReaders) stop() (dropped int) {
	for _, p := range e.pollers {
		syscall.Write(p.wake[1], []byte{0})
	}
	e.wg.Wait()
	for _, p := range e.pollers {
		e.flush(p)
		e.shared.hist.Merge(&p.local.hist)
	}
	for i := range e.conns {
		if c := e.conns[i].Load(); c != nil && !c.dead {
			syscall.Close(c.fd)
		}
	}
	for _, p := range e.pollers {
		p.close()
	}
	return int(e.dropped.Load() + e.failed.Load())
}
