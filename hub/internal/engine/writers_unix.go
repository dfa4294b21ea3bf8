//go:build unix

package engine

import (
	"io"
	"net"
	"syscall"
)

const rawWriteSupported = true

// rawWrite writes b to the socket under nc with non-blocking write(2)
// calls until all is written or the socket buffer is full (errWouldBlock).
// nc is a *net.TCPConn or *net.UnixConn (see pooled).
func rawWrite(nc net.Conn, b []byte) (int, error) {
	rc, err := nc.(syscall.Conn).SyscallConn()
	if err != nil {
		return 0, err
	}
	n := 0
	var werr error
	err = rc.Write(func(fd uintptr) bool {
		for n < len(b) {
			m, e := syscall.Write(int(fd), b[n:])
			if m > 0 {
				n += m
			}
			switch e {
			case nil:
				if m == 0 {
					werr = io.ErrShortWrite
					return true
				}
			case syscall.EINTR:
			case syscall.EAGAIN:
				werr = errWouldBlock
				return true
			default:
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
