//go:build !linux

package process

import "os/exec"

// setProcAttr does nothing: only Linux can tie a child's life to its
// parent's.
func setProcAttr(*exec.Cmd) {}
