package e2e

import (
	"fmt"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// spoolBytes sums the sizes of the files the process holds open in dir's
// spool directory (unlinked bodies in transfer).
func spoolBytes(t *testing.T, pid int, dir string) int64 {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	var n int64
	for _, fd := range fds {
		p := fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())
		if target, err := os.Readlink(p); err == nil && strings.HasPrefix(target, filepath.Join(dir, "spool")+"/") {
			if fi, err := os.Stat(p); err == nil {
				n += fi.Size()
			}
		}
	}
	return n
}

// Item 7 of issue 15 against the real binary: 12 clients, each from its own
// address (the per-client cap does not help here), send 8 MiB of DATA to
// the MX and stall before the end of data. The node's resident memory
// grows by its buffers per connection, not by the bodies: those are in
// the spool on disk.
func TestStalledTransfersRSS(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds and runs the binary")
	}
	n := initProcNode(t, "stall.test", "alice")
	p := startProc(t, n.dir, n.smtp)
	pid := p.cmd.Process.Pid
	time.Sleep(time.Second)
	idle := vmRSS(t, pid)

	const clients, size = 12, 8 << 20
	line := strings.Repeat("0123456789", 7) + "\r\n"
	body := []byte("From: carol@sender.example\r\nSubject: stall\r\n\r\n" + strings.Repeat(line, size/len(line)))
	bound := clients*256 + 16<<10 // KiB
	for i := range clients {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(i+1))}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", n.smtp)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		tp := textproto.NewConn(c)
		for _, step := range []struct {
			cmd  string
			code int
		}{{"", 220}, {"EHLO stall.example", 250}, {"MAIL FROM:<carol@sender.example>", 250}, {"RCPT TO:<alice@stall.test>", 250}, {"DATA", 354}} {
			if step.cmd != "" {
				tp.PrintfLine("%s", step.cmd)
			}
			if _, msg, err := tp.ReadResponse(step.code); err != nil {
				t.Fatalf("client %d, %q: %v %s", i, step.cmd, err, msg)
			}
		}
		go c.Write(body) // and never the end of data
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		rss, spooled := vmRSS(t, pid), spoolBytes(t, pid, n.dir)
		if rss-idle > bound {
			t.Fatalf("RSS grew from %d to %d KiB with %d stalled %d MiB transfers (%d KiB spooled), bound +%d KiB", idle, rss, clients, size>>20, spooled>>10, bound)
		}
		if spooled >= clients*(int64(len(body))-64<<10) {
			t.Logf("RSS %d -> %d KiB with %d stalled %d MiB transfers, %d KiB spooled on disk (bound +%d KiB)", idle, rss, clients, size>>20, spooled>>10, bound)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("bodies not received in 60 s: %d KiB spooled, RSS %d -> %d KiB", spooled>>10, idle, rss)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
