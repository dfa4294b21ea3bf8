package main

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// capListener caps the connections open at once from one client address
// (http.max_conns_per_ip). A connection over the cap is closed as soon as
// it is accepted, before a byte of it is read, and counted; the others are
// counted until closed, hijacked ones (WebSocket) included.
//
// Clients are told apart by the TCP peer's address, IPv6 ones by their
// /64. X-Forwarded-For is not read: any client can send it.
type capListener struct {
	net.Listener
	max    int
	logger *slog.Logger

	mu      sync.Mutex
	open    map[netip.Prefix]int // only addresses with a connection open
	lastLog time.Time

	refused atomic.Uint64
}

// refusedLogEvery bounds the warnings about refused connections: one at
// the first, then at most one in this time, with the count.
const refusedLogEvery = time.Minute

func newCapListener(ln net.Listener, max int, logger *slog.Logger) *capListener {
	return &capListener{Listener: ln, max: max, logger: logger, open: make(map[netip.Prefix]int)}
}

// Accept returns the next connection under the cap; those over it are
// closed here and never returned.
func (l *capListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key := clientKey(c.RemoteAddr())
		l.mu.Lock()
		if l.open[key] >= l.max {
			n := l.refused.Add(1)
			now := time.Now()
			log := now.Sub(l.lastLog) >= refusedLogEvery
			if log {
				l.lastLog = now
			}
			l.mu.Unlock()
			_ = c.Close()
			if log {
				l.logger.Warn("connection refused: too many from one address; see http.max_conns_per_ip",
					"client", key.String(), "max_conns_per_ip", l.max, "refused_total", n)
			}
			continue
		}
		l.open[key]++
		l.mu.Unlock()
		return &cappedConn{Conn: c, l: l, key: key}, nil
	}
}

// Refused is the number of connections refused since the start.
func (l *capListener) Refused() uint64 { return l.refused.Load() }

func (l *capListener) release(key netip.Prefix) {
	l.mu.Lock()
	if l.open[key] <= 1 {
		delete(l.open, key)
	} else {
		l.open[key]--
	}
	l.mu.Unlock()
}

// clientKey is what the cap counts a connection under: its peer's IPv4
// address, or the /64 of its IPv6 one. An address of another kind is
// counted under the zero prefix, all together.
func clientKey(a net.Addr) netip.Prefix {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.Prefix{}
	}
	ip, ok := netip.AddrFromSlice(tcp.IP)
	if !ok {
		return netip.Prefix{}
	}
	ip = ip.Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
}

// cappedConn gives its place back when closed, once.
type cappedConn struct {
	net.Conn
	l    *capListener
	key  netip.Prefix
	once sync.Once
}

func (c *cappedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.key) })
	return err
}
