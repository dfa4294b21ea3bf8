package main

import (
	"errors"
	"net"
	"sync"
	"syscall"
)

// pool is -writer pool: a few writer goroutines shared by all connections.
// A connection with bytes queued waits in a first-in first-out list; a
// worker takes the next one and writes everything queued with one
// non-blocking write(2). A connection that got more meanwhile goes to the
// back of the list, so in a big room each turn carries what several
// broadcasts queued. A connection whose socket buffer is full gets a
// goroutine of its own for the rest, so a slow reader never holds a worker.
type pool struct {
	mu    sync.Mutex
	cond  *sync.Cond
	ready []*conn
	head  int
}

func newPool(workers int) *pool {
	p := &pool{}
	p.cond = sync.NewCond(&p.mu)
	for range workers {
		go p.work()
	}
	return p
}

func (p *pool) push(c *conn) {
	p.mu.Lock()
	p.ready = append(p.ready, c)
	p.mu.Unlock()
	p.cond.Signal()
}

func (p *pool) pop() *conn {
	p.mu.Lock()
	for p.head == len(p.ready) {
		p.cond.Wait()
	}
	c := p.ready[p.head]
	p.ready[p.head] = nil
	p.head++
	if p.head == len(p.ready) {
		p.ready, p.head = p.ready[:0], 0
	} else if p.head > 1024 && p.head*2 > len(p.ready) {
		n := copy(p.ready, p.ready[p.head:])
		clear(p.ready[n:])
		p.ready, p.head = p.ready[:n], 0
	}
	p.mu.Unlock()
	return c
}

func (p *pool) work() {
	for {
		p.pop().turn(p)
	}
}

var errWouldBlock = errors.New("would block")

// turn writes what c has queued without blocking.
func (c *conn) turn(p *pool) {
	c.mu.Lock()
	if len(c.out) == 0 || c.closed {
		c.writing = false
		if c.closeAfter && !c.closed {
			c.closeLocked()
		}
		c.mu.Unlock()
		return
	}
	buf := c.out
	c.out, c.spare = c.spare, nil
	c.mu.Unlock()
	n, err := tryWrite(c.nc, buf)
	if errors.Is(err, errWouldBlock) {
		go func() { // the slow path: block in a goroutine of its own
			if _, err := c.nc.Write(buf[n:]); err != nil {
				c.close()
				return
			}
			c.mu.Lock()
			c.spare = buf[:0]
			c.mu.Unlock()
			c.drain(false)
		}()
		return
	}
	if err != nil {
		c.close()
		return
	}
	c.mu.Lock()
	c.spare = buf[:0]
	again := len(c.out) > 0 && !c.closed
	if !again {
		c.writing = false
		if c.closeAfter && !c.closed {
			c.closeLocked()
		}
	}
	c.mu.Unlock()
	if again {
		p.push(c)
	}
}

// tryWrite writes buf with non-blocking write(2) calls until it is all
// written or the socket buffer is full (errWouldBlock, with n written).
func tryWrite(nc net.Conn, buf []byte) (int, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		_, err := nc.Write(buf)
		return len(buf), err
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, err
	}
	n := 0
	var werr error
	err = rc.Write(func(fd uintptr) bool {
		for n < len(buf) {
			m, e := syscall.Write(int(fd), buf[n:])
			if m > 0 {
				n += m
			}
			if e == syscall.EINTR {
				continue
			}
			if e == syscall.EAGAIN {
				werr = errWouldBlock
				return true
			}
			if e != nil {
				werr = e
				return true
			}
		}
		return true
	})
	if err != nil {
		return n, err
	}
	return n, werr
}
