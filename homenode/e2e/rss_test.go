package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// vmRSS reads a process's resident set size in KiB from /proc.
func vmRSS(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatal("no VmRSS in /proc status")
	return 0
}

// TestIdleRSS: the real binary with 20 accounts, idle, stays within 30 MB
// resident; after each account has logged in once (argon2id takes 7 MiB per
// check) it is measured again and reported. BenchmarkRouterSession
// (internal/rssbench) measures a whole session.
func TestIdleRSS(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds and runs the binary")
	}
	users := make([]string, 20)
	for i := range users {
		users[i] = fmt.Sprintf("user%02d", i)
	}
	n := initProcNode(t, "rss.test", users...)
	p := startProc(t, n.dir, n.imap)
	time.Sleep(2 * time.Second)
	idle := vmRSS(t, p.cmd.Process.Pid)
	t.Logf("idle RSS with 20 accounts: %.1f MiB", float64(idle)/1024)
	if idle > 30*1024 {
		t.Errorf("idle RSS %.1f MiB, want at most 30 MiB", float64(idle)/1024)
	}
	for addr, pw := range n.pass {
		if _, err := inbox(n.imap, addr, pw); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(2 * time.Second)
	t.Logf("RSS after 20 logins (argon2id, one at a time) and 2 s idle: %.1f MiB", float64(vmRSS(t, p.cmd.Process.Pid))/1024)
}
