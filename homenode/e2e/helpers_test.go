package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/thingpost/thingpost/internal/testutil"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/thingpost/thingpost/homenode"
)

// needTool finds an external program or skips; under CI (env CI set) a
// missing peer is a failure, because CI installs them.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required under CI (apt-get install %s): %v", name, name, err)
		}
		t.Skipf("%s not installed (apt-get install %s): %v", name, name, err)
	}
	return p
}

// freePort reserves a loopback port number for a config file that a child
// process binds. The port is free when this returns; nothing else on the
// machine races us for it in practice.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// home is one in-process node with its own data directory and accounts.
type home struct {
	t      testing.TB
	Domain string
	Dir    string
	Cfg    *homenode.Config
	Node   *homenode.Node
	Log    *testutil.SyncBuffer
	Pass   map[string]string // address -> password
}

// newHome initialises a plain loopback node on ephemeral ports (edit may add
// listeners or a static MX map) without starting it.
func newHome(t testing.TB, domain string, edit func(*homenode.Config)) *home {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	_, err := homenode.Init(homenode.InitOptions{
		Dir: dir, Domain: domain, Plain: true,
		SMTP: "127.0.0.1:0", Submission: "127.0.0.1:0", IMAP: "127.0.0.1:0",
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := homenode.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(cfg)
	}
	h := &home{t: t, Domain: domain, Dir: dir, Cfg: cfg, Log: &testutil.SyncBuffer{}, Pass: map[string]string{}}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log of node %s:\n%s", domain, h.Log)
		}
	})
	return h
}

// newHomePair makes two homes (not started) whose static MX maps point at
// each other's SMTP listener.
func newHomePair(t *testing.T, domainA, domainB string) (a, b *home) {
	t.Helper()
	mxA, mxB := freePort(t), freePort(t)
	a = newHome(t, domainA, func(c *homenode.Config) {
		c.Listen.SMTP = homenode.Addr(mxA)
		c.MX = map[string]homenode.Addr{domainB: homenode.Addr(mxB)}
	})
	b = newHome(t, domainB, func(c *homenode.Config) {
		c.Listen.SMTP = homenode.Addr(mxB)
		c.MX = map[string]homenode.Addr{domainA: homenode.Addr(mxA)}
	})
	return a, b
}

// runCode runs cmd and returns its stdout+stderr and exit code (0 =
// success); a command that cannot run at all fails the test.
func runCode(t *testing.T, cmd *exec.Cmd) (string, int) {
	t.Helper()
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	}
	t.Fatalf("%s: %v", strings.Join(cmd.Args, " "), err)
	return "", -1
}

// addUser adds local@domain with a known password (through the control
// socket when the node runs, else the store).
func (h *home) addUser(local string) string {
	h.t.Helper()
	addr := local + "@" + h.Domain
	pw := "pw-" + local + "-secret"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := homenode.OpenAdmin(ctx, h.Cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	defer a.Close()
	if err := a.AddUser(ctx, addr, pw); err != nil {
		h.t.Fatal(err)
	}
	h.Pass[addr] = pw
	return addr
}

func (h *home) start() {
	h.t.Helper()
	log := slog.New(slog.NewTextHandler(h.Log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	n, err := homenode.Start(context.Background(), h.Cfg, log)
	if err != nil {
		h.t.Fatal(err)
	}
	h.Node = n
	h.t.Cleanup(func() { h.stop() })
}

func (h *home) stop() {
	if h.Node == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.Node.Shutdown(ctx); err != nil {
		h.t.Errorf("shutdown %s: %v", h.Domain, err)
	}
	h.Node = nil
}

// addr is the bound address of a listener, e.g. "plain_submission".
func (h *home) addr(listener string) string {
	h.t.Helper()
	a := h.Node.Addr(listener)
	if a == nil {
		h.t.Fatalf("listener %s not configured", listener)
	}
	return a.String()
}

// message builds a small RFC 5322 message carrying token in its body and
// Message-ID.
func message(from, to, token string) []byte {
	return []byte(fmt.Sprintf("From: <%s>\r\nTo: <%s>\r\nSubject: test %s\r\nDate: %s\r\nMessage-ID: <%s@e2e.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbody token %s\r\n",
		from, to, token, time.Now().Format(time.RFC1123Z), token, token))
}

// submit sends one message over plain-text submission with AUTH PLAIN.
func submit(addr, user, pass string, to []string, raw []byte) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", user, pass)); err != nil {
		return err
	}
	if err := c.SendMail(user, to, bytes.NewReader(raw)); err != nil {
		return err
	}
	return c.Quit()
}

// inbox fetches every message of a user's INBOX over plain IMAP.
func inbox(addr, user, pass string) ([][]byte, error) {
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.Login(user, pass).Wait(); err != nil {
		return nil, fmt.Errorf("login %s: %w", user, err)
	}
	mb, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return nil, err
	}
	if mb.NumMessages == 0 {
		return nil, c.Logout().Wait()
	}
	var all imap.SeqSet
	all.AddRange(1, 0)
	section := &imap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(all, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		return nil, err
	}
	out := make([][]byte, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, m.FindBodySection(section))
	}
	return out, c.Logout().Wait()
}

// waitInbox polls until pred holds for the INBOX or the timeout passes.
func waitInbox(t *testing.T, addr, user, pass string, timeout time.Duration, pred func([][]byte) bool) [][]byte {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last [][]byte
	var lastErr error
	for time.Now().Before(deadline) {
		last, lastErr = inbox(addr, user, pass)
		if lastErr == nil && pred(last) {
			return last
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("INBOX of %s: condition not met within %s; %d message(s), last error %v", user, timeout, len(last), lastErr)
	return nil
}

func containsToken(msgs [][]byte, token string) int {
	n := 0
	for _, m := range msgs {
		if bytes.Contains(m, []byte("body token "+token+"\r\n")) {
			n++
		}
	}
	return n
}

func lines(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") }
