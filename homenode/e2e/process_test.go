package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/thingpost/thingpost/internal/testutil"
)

// binaryOnce builds cmd/homenode once per test binary run.
type binaryOnce struct {
	once sync.Once
	path string
	err  error
	dir  string
}

var homenodeBinary binaryOnce

func (b *binaryOnce) get(t *testing.T) string {
	t.Helper()
	b.once.Do(func() {
		b.dir, b.err = os.MkdirTemp("", "homenode-e2e-bin-")
		if b.err != nil {
			return
		}
		b.path = filepath.Join(b.dir, "homenode")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "go", "build", "-o", b.path, "github.com/thingpost/thingpost/cmd/homenode").CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go build cmd/homenode: %v\n%s", err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if homenodeBinary.dir != "" {
		os.RemoveAll(homenodeBinary.dir)
	}
	os.Exit(code)
}

// proc is the homenode binary run as a child process.
type proc struct {
	t    *testing.T
	bin  string
	dir  string
	cmd  *exec.Cmd
	log  *testutil.SyncBuffer
	done chan struct{}
	err  error
}

// homenodeCmd runs a short homenode command and returns stdout+stderr and the
// exit code.
func homenodeCmd(t *testing.T, stdin string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, homenodeBinary.get(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	return runCode(t, cmd)
}

func mustHomenode(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, code := homenodeCmd(t, stdin, args...)
	if code != 0 {
		t.Fatalf("homenode %s: exit %d:\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// startProc runs "homenode run" and waits until addr accepts connections.
func startProc(t *testing.T, dir, waitAddr string, extra ...string) *proc {
	t.Helper()
	p := &proc{t: t, bin: homenodeBinary.get(t), dir: dir, log: &testutil.SyncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(p.bin, append([]string{"run", "--data", dir}, extra...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("log of homenode run (pid %d):\n%s", p.cmd.Process.Pid, p.log)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", waitAddr, time.Second)
		if err == nil {
			c.Close()
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("homenode run exited early: %v\n%s", p.err, p.log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("homenode run: %s not accepting after 20s: %v\n%s", waitAddr, err, p.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("homenode run did not exit within %s\n%s", timeout, p.log)
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return -int(ws.Signal())
		}
		return ee.ExitCode()
	}
	if p.err != nil {
		p.t.Fatal(p.err)
	}
	return 0
}

func (p *proc) signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
}

// procNode is a data directory initialised by the real binary with plain
// loopback listeners on fixed free ports.
type procNode struct {
	dir                    string
	smtp, submission, imap string
	pass                   map[string]string
}

func initProcNode(t *testing.T, domain string, users ...string) *procNode {
	t.Helper()
	n := &procNode{dir: filepath.Join(t.TempDir(), "data"), smtp: freePort(t), submission: freePort(t), imap: freePort(t), pass: map[string]string{}}
	out := mustHomenode(t, "", "init", "--data", n.dir, "--domain", domain, "--plain",
		"--smtp", n.smtp, "--submission", n.submission, "--imap", n.imap)
	if !strings.Contains(out, "TLS certificate SHA-256") || !strings.Contains(out, "._domainkey."+domain+".") {
		t.Fatalf("init output lacks the fingerprint or the DKIM record:\n%s", out)
	}
	for _, u := range users {
		addr := u + "@" + domain
		pw := "pw-" + u + "-secret"
		mustHomenode(t, pw+"\n", "user", "add", addr, "--password-stdin", "--data", n.dir)
		n.pass[addr] = pw
	}
	return n
}

func bytesContainAll(b []byte, subs ...string) bool {
	for _, s := range subs {
		if !bytes.Contains(b, []byte(s)) {
			return false
		}
	}
	return true
}
