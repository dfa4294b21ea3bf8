// Package tcpproxy is a TCP proxy for tests. It listens on a free loopback
// port and forwards each connection it accepts to its target, which the
// test can switch, as a load balancer moves clients to another node; Cut
// resets every connection through it and refuses new ones, as a network
// outage does, until Restore. When either side of a connection ends, the
// proxy ends the other, as a client sees a server that died.
package tcpproxy

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy is a running proxy.
type Proxy struct {
	ln net.Listener
	wg sync.WaitGroup

	mu     sync.Mutex
	target string
	cut    bool
	conns  map[net.Conn]net.Conn // every proxied connection: client side → target side
}

// Start listens on a free loopback port and forwards to target
// (host:port) until the test ends.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, conns: make(map[net.Conn]net.Conn)}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		_ = ln.Close()
		p.Cut()
		p.wg.Wait()
	})
	return p
}

// Addr is the proxy's host:port, where clients connect.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Point sends the connections accepted from now on to target (host:port);
// those open stay where they are.
func (p *Proxy) Point(target string) {
	p.mu.Lock()
	p.target = target
	p.mu.Unlock()
}

// Cut resets every connection through the proxy and refuses new ones
// (reset as soon as they are accepted) until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.cut = true
	conns := make([]net.Conn, 0, 2*len(p.conns))
	for c, up := range p.conns {
		conns = append(conns, c, up) // the client's side first, or it might see an orderly close
	}
	p.mu.Unlock()
	for _, c := range conns {
		reset(c)
	}
}

// Restore lets connections through again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// serve forwards c to the target, unless the proxy is cut.
func (p *Proxy) serve(c net.Conn) {
	defer p.wg.Done()
	p.mu.Lock()
	target, cut := p.target, p.cut
	p.mu.Unlock()
	if cut {
		reset(c)
		return
	}
	up, err := net.Dial("tcp", target)
	if err != nil {
		reset(c)
		return
	}
	p.mu.Lock()
	if p.cut { // cut while dialing
		p.mu.Unlock()
		reset(c)
		reset(up)
		return
	}
	p.conns[c] = up
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done // one way ended: end both
	_ = c.Close()
	_ = up.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// reset closes c with a TCP reset, as a peer that vanished, rather than
// an orderly close.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
