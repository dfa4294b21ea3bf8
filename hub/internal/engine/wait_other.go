//go:build !linux

package engine

// canWaitReadable: elsewhere a WebSocket reader keeps its buffer and reads
// through the runtime's poller.
const canWaitReadable = false

func readNonblock(uintptr, []byte) (int, error) { panic("engine: readNonblock unsupported") }
