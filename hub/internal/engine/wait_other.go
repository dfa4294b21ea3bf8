//go:build !linux

package engine

// canWaitReadable: elsewhere a WebSocket reader keeps its buffer.
const canWaitReadable = false

func wouldBlock(uintptr) bool { return false }
