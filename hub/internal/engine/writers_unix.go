//go:build unix

package engine

import (
	"io"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

const rawWriteSupported = true

// maxIOV is how many pieces one writev(2) takes (IOV_MAX on Linux).
const maxIOV = 1024

// rawWritev writes iov to the socket under nc with non-blocking write(2)
// or writev(2) calls until all is written or the socket buffer is full
// (errWouldBlock), and returns the bytes written. nc is a *net.TCPConn or
// *net.UnixConn (see pooled). What is left unwritten stays in *rest.
func rawWritev(nc net.Conn, rest *[][]byte) (int, error) {
	rc, err := nc.(syscall.Conn).SyscallConn()
	if err != nil {
		return 0, err
	}
	iov := *rest
	defer func() { *rest = iov }()
	n := 0
	var werr error
	err = rc.Write(func(fd uintptr) bool {
		for len(iov) > 0 {
			if len(iov[0]) == 0 {
				iov = iov[1:]
				continue
			}
			var m int
			var e error
			if len(iov) == 1 {
				m, e = unix.Write(int(fd), iov[0])
			} else {
				m, e = unix.Writev(int(fd), iov[:min(len(iov), maxIOV)])
			}
			switch {
			case e == unix.EINTR:
				continue
			case e == unix.EAGAIN:
				werr = errWouldBlock
				return true
			case e != nil:
				werr = e
				return true
			case m <= 0:
				werr = io.ErrShortWrite
				return true
			}
			n += m
			for m > 0 {
				if m < len(iov[0]) {
					iov[0] = iov[0][m:]
					break
				}
				m -= len(iov[0])
				iov = iov[1:]
			}
		}
		return true
	})
	if err != nil {
		return n, err
	}
	return n, werr
}
