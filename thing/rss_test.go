package thing_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkIdleRSSThreeThings starts one thingd process serving a light, a
// thermostat and a lock on a real homenode, lets it settle into IDLE, and
// reports its resident memory (VmRSS) in MiB.
func BenchmarkIdleRSSThreeThings(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tmp := b.TempDir()
	bin := buildThingd(b, tmp)
	node := startNodeOnly(b, ctx, tmp)
	args := []string{"run"}
	for _, kind := range []string{"light", "thermostat", "lock"} {
		acct, err := node.AddAccount(ctx, kind)
		if err != nil {
			b.Fatal(err)
		}
		data := filepath.Join(tmp, kind)
		c := exec.Command(bin, "init", "--data", data, "--addr", acct.Address, "--name", kind, "--kind", kind,
			"--imap", acct.IMAP.HostPort, "--smtp", acct.SMTP.HostPort, "--security", "plain", "--password-stdin")
		c.Stdin = strings.NewReader(acct.Password + "\n")
		if out, err := c.CombinedOutput(); err != nil {
			b.Fatalf("init %s: %v\n%s", kind, err, out)
		}
		args = append(args, "--data", data)
	}
	run := exec.Command(bin, args...)
	stderr, err := run.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := run.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { run.Process.Kill(); run.Wait() }()
	// Wait until all three watchers have created their folders and idle.
	sc := bufio.NewScanner(stderr)
	running := 0
	for running < 3 && sc.Scan() {
		if strings.Contains(sc.Text(), "creating folder") && strings.Contains(sc.Text(), "Processed") {
			running++
		}
	}
	go func() {
		for sc.Scan() {
		}
	}()
	time.Sleep(3 * time.Second)
	// The setup takes seconds, so the framework stops at N=1; the time per
	// op says nothing here and is not reported.
	var rss float64
	for range b.N {
		rss = vmRSS(b, run.Process.Pid)
	}
	b.ReportMetric(rss, "idle-RSS-MiB")
	b.ReportMetric(0, "ns/op")
}

func vmRSS(t testing.TB, pid int) float64 {
	t.Helper()
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.Fields(v)[0])
			if err != nil {
				t.Fatal(err)
			}
			return float64(kb) / 1024
		}
	}
	t.Fatal("no VmRSS")
	return 0
}
