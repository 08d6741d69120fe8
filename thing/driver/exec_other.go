//go:build !unix

package driver

import "os/exec"

// killProcessGroup leaves the default: a timeout kills the program only.
func killProcessGroup(*exec.Cmd) {}
