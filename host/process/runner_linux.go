package process

import (
	"os/exec"
	"syscall"
)

// setProcAttr makes the plugin die with hubd, even when hubd is killed.
// (Linux sends the signal when the thread that started the process ends;
// Go ends a thread only when a goroutine locked to it exits still locked,
// which hubd does not do.)
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
