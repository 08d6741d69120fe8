package thing_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/thingpost/thingpost/internal/testutil"

	"github.com/thingpost/thingpost/wire"
)

// appendEnv makes the test binary, run as an exec thing's program, append
// its argument to a file: the record of how often each command ran.
const appendEnv = "THINGPOST_TEST_APPEND"

func TestMain(m *testing.M) {
	if path := os.Getenv(appendEnv); path != "" {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err == nil {
			_, err = fmt.Fprintln(f, os.Args[len(os.Args)-1])
			if err == nil {
				err = f.Sync()
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// buildThingd compiles cmd/thingd into dir.
func buildThingd(t testing.TB, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "thingd")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/thingpost/thingpost/cmd/thingd").CombinedOutput()
	if err != nil {
		t.Fatalf("build thingd: %v\n%s", err, out)
	}
	return bin
}

// TestCrashExactlyOnce kills thingd with SIGKILL again and again while
// commands arrive, restarting it each time: every command runs exactly once
// and is answered.
func TestCrashExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("crash loop takes about a minute; run without -short")
	}
	const commands = 60
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	bin := buildThingd(t, tmp)
	node := startNodeOnly(t, ctx, tmp)
	acct, err := node.AddAccount(ctx, "runner")
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(tmp, "runner")
	initCmd := exec.Command(bin, "init", "--data", data, "--addr", acct.Address, "--name", "Runner", "--kind", "exec",
		"--imap", acct.IMAP.HostPort, "--smtp", acct.SMTP.HostPort, "--security", "plain", "--password-stdin")
	initCmd.Stdin = strings.NewReader(acct.Password + "\n")
	if out, err := initCmd.CombinedOutput(); err != nil {
		t.Fatalf("thingd init: %v\n%s", err, out)
	}
	ledger := filepath.Join(tmp, "ledger")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	conf, err := os.OpenFile(filepath.Join(data, "thing.toml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conf, "\n[[device.exec.command]]\nname = \"count\"\nprogram = %q\n"+
		"args = [{ name = \"token\", type = \"string\", pattern = \"^t[0-9]+$\" }]\nargv = [\"{token}\"]\nenv = [%q]\n",
		self, appendEnv+"="+ledger)
	conf.Close()

	qr, err := exec.Command(bin, "qr", "--data", data).Output()
	if err != nil {
		t.Fatalf("thingd qr: %v", err)
	}

	var mu sync.Mutex
	var proc *exec.Cmd
	var logs testutil.SyncBuffer
	start := func() {
		c := exec.Command(bin, "run", "--data", data)
		c.Stderr = &logs
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		proc = c
		mu.Unlock()
	}
	start()
	defer func() {
		mu.Lock()
		proc.Process.Kill()
		proc.Wait()
		mu.Unlock()
		if t.Failed() {
			t.Logf("thingd log:\n%s", logs.String())
		}
	}()

	alice := newPersonOn(t, ctx, node, "alice")
	alice.pair(strings.TrimSpace(string(qr)))

	// For each command: wait until the program has run, then SIGKILL
	// thingd at once, before it has answered (or while it answers), and
	// start it again. The restarted thingd must answer without running
	// the command again.
	kills := 0
	for i := range commands {
		token := fmt.Sprintf("t%d", i)
		s := alice.command("count "+token, false)
		alice.send(s.Raw, alice.thing.Addr())
		waitLedger(t, ledger, token)
		mu.Lock()
		proc.Process.Signal(syscall.SIGKILL)
		proc.Wait()
		mu.Unlock()
		kills++
		start()
		for answered := false; !answered; {
			m := alice.open(alice.next("reply to " + token))
			wm, err := wire.Decode(m.Header.Get(wire.HeaderName))
			if err != nil || wm.Reply == nil || !wm.Reply.OK {
				t.Fatalf("reply to %s: %+v, %v", token, wm.Reply, err)
			}
			// A reply queued just before the kill may come twice.
			answered = m.InReplyTo == s.MessageID
		}
	}

	f, err := os.Open(ledger)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	runs := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		runs[sc.Text()]++
	}
	for i := range commands {
		if n := runs[fmt.Sprintf("t%d", i)]; n != 1 {
			t.Errorf("command t%d ran %d times", i, n)
		}
	}
	t.Logf("%d commands, %d kills of thingd, each command ran exactly once", commands, kills)
}

// waitLedger waits until the program has recorded token.
func waitLedger(t testing.TB, path, token string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(path)
		for _, l := range strings.Split(string(b), "\n") {
			if l == token {
				return
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("%s never ran", token)
}
