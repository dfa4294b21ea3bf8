// Package logtest holds the log destination tests read while the code they
// test writes to it from other goroutines.
package logtest

import (
	"bytes"
	"sync"
)

// Buffer collects what is written to it; Write and String may be called
// from any goroutine. The zero value is ready to use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
