//go:build unix

package driver

import (
	"os/exec"
	"syscall"
)

// killProcessGroup puts the program into its own process group and makes a
// timeout kill the whole group, so that what the program started dies
// with it.
func killProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
