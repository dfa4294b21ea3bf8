package main

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sort"
	"sync"
	"syscall"
)

// stageError records which step of a client's life failed.
type stageError struct {
	stage string // "dial", "open", "connect", "join", "write", "read"
	err   error
}

func (e *stageError) Error() string { return e.stage + ": " + e.err.Error() }
func (e *stageError) Unwrap() error { return e.err }

// inStage wraps err (which must not be nil) with the step that failed.
func inStage(stage string, err error) error { return &stageError{stage, err} }

// errorTally counts errors by stage and class, so that thousands of
// failures print as a few lines rather than thousands. Classes are coarse
// (timeout, refused, reset, ...) because raw messages embed port numbers.
type errorTally struct {
	mu     sync.Mutex
	counts map[string]int
}

// Add counts err under its stage and class.
func (t *errorTally) Add(err error) {
	stage := "other"
	var se *stageError
	if errors.As(err, &se) {
		stage = se.stage
	}
	key := stage + ": " + errorClass(err)
	t.mu.Lock()
	if t.counts == nil {
		t.counts = make(map[string]int)
	}
	t.counts[key]++
	t.mu.Unlock()
}

// Total returns the number of errors counted.
func (t *errorTally) Total() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, c := range t.counts {
		n += c
	}
	return n
}

// Snapshot returns a copy of the counts, or nil when there were none.
func (t *errorTally) Snapshot() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.counts) == 0 {
		return nil
	}
	m := make(map[string]int, len(t.counts))
	for k, v := range t.counts {
		m[k] = v
	}
	return m
}

// sortedKeys returns the keys of m in order, for stable text output.
func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// errorClass reduces an error to a short, port-free description.
func errorClass(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EPIPE):
		return "broken pipe"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no free local port"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "too many open files"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "closed by peer"
	}
	return unwrapAll(err).Error()
}

// unwrapAll returns the innermost wrapped error.
func unwrapAll(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}
