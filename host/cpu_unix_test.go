//go:build unix

package host

import (
	"syscall"
	"testing"
	"time"
)

// reportCPU makes b report the process's CPU time per operation
// (cpu-ns/op) from when it is called to when the returned function is:
// on a machine shared with other work, wall time per operation counts the
// time others took the CPU, CPU time does not.
func reportCPU(b *testing.B) func() {
	start := processCPU()
	return func() {
		b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
