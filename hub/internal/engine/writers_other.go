//go:build !unix

package engine

import (
	"errors"
	"net"
)

// Without non-blocking writes, every session has goroutine writers (see
// pooled).
const rawWriteSupported = false

func rawWritev(net.Conn, *[][]byte) (int, error) {
	return 0, errors.New("engine: no raw writes on this system")
}
