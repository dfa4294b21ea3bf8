// Package waitfor holds the bounded waits the plugin runtimes' tests share:
// a test waits for an event, and fails with a clear message, rather than
// hanging, when the event never comes.
package waitfor

import (
	"testing"
	"time"
)

// Bound is how long a wait lasts before the test fails: long enough that
// only a hang reaches it, however loaded the machine.
const Bound = 30 * time.Second

// Return waits up to Bound for f to return and gives its error; what names
// f in the failure.
func Return(t testing.TB, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(Bound):
		t.Fatalf("%s did not return within %v", what, Bound)
		return nil
	}
}
