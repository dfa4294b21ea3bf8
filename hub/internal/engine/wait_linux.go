package engine

import "syscall"

// canWaitReadable: a WebSocket reader can wait for input without a buffer.
const canWaitReadable = true

// peekBuf receives the byte wouldBlock peeks at; the byte is never used.
var peekBuf [1]byte

// wouldBlock reports whether reading fd would block: nothing to read, no
// end of stream and no error pending. It consumes nothing.
func wouldBlock(fd uintptr) bool {
	_, _, err := syscall.Recvfrom(int(fd), peekBuf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err == syscall.EAGAIN
}
