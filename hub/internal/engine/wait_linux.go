package engine

import "syscall"

// canWaitReadable: a WebSocket reader can read its descriptor directly and
// wait for input without a buffer.
const canWaitReadable = true

// readNonblock reads from the non-blocking descriptor fd; EAGAIN means
// there is nothing to read yet.
func readNonblock(fd uintptr, p []byte) (int, error) {
	for {
		n, err := syscall.Read(int(fd), p)
		if err != syscall.EINTR {
			return n, err
		}
	}
}
