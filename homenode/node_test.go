package homenode

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/thingpost/thingpost/homenode/mailstore"
)

func testNode(t *testing.T) *Config {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := Init(InitOptions{Dir: dir, Domain: "node.test", Plain: true,
		SMTP: "127.0.0.1:0", Submission: "127.0.0.1:0", IMAP: "127.0.0.1:0", IMAPS: "127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestNodeAdminWhileRunning: the CLI's Admin reaches a running node through
// the control socket (the store is locked by the node), and the store
// directly once it has stopped.
func TestNodeAdminWhileRunning(t *testing.T) {
	cfg := testNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	n, err := Start(ctx, cfg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mailstore.Open(cfg.StoreFile()); !errors.Is(err, mailstore.ErrLocked) {
		t.Fatalf("second open of a running node's store: %v, want ErrLocked", err)
	}
	a, err := OpenAdmin(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := a.(*remoteAdmin); !ok {
		t.Fatalf("OpenAdmin on a running node gave %T, want the control socket", a)
	}
	if err := a.AddUser(ctx, "Alice@Node.Test", "pw-alice-secret"); err != nil {
		t.Fatal(err)
	}
	if err := a.AddUser(ctx, "alice@node.test", "pw-alice-secret"); !errors.Is(err, mailstore.ErrUserExists) {
		t.Errorf("duplicate over the socket: %v, want ErrUserExists", err)
	}
	if err := a.AddUser(ctx, "bob@elsewhere.test", "pw-bob-secret"); !errors.Is(err, ErrBadAddress) {
		t.Errorf("foreign domain: %v, want ErrBadAddress", err)
	}
	if err := a.AddUser(ctx, "Bob <bob@node.test>", "pw-bob-secret"); !errors.Is(err, ErrBadAddress) {
		t.Errorf("display name form: %v, want ErrBadAddress", err)
	}
	if err := a.AddUser(ctx, "bob@node.test", ""); err == nil {
		t.Error("empty password accepted")
	}
	if err := a.DeleteUser(ctx, "nobody@node.test"); !errors.Is(err, mailstore.ErrNoSuchUser) {
		t.Errorf("delete missing: %v, want ErrNoSuchUser", err)
	}
	if err := a.SetPassword(ctx, "alice@node.test", "pw-alice-secret-2"); err != nil {
		t.Error(err)
	}
	st, err := a.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Running || len(st.Accounts) != 1 || st.Accounts[0] != "alice@node.test" || st.QueueLength != 0 {
		t.Errorf("status = %+v", st)
	}
	if len(st.Listeners) != 4 {
		t.Errorf("listeners = %+v, want smtp, imaps, plain_submission, plain_imap", st.Listeners)
	}
	for _, l := range st.Listeners {
		if l.Bound == "" || strings.HasSuffix(l.Bound, ":0") || l.Bound != n.Addr(l.Name).String() {
			t.Errorf("listener %s bound %q, node says %v", l.Name, l.Bound, n.Addr(l.Name))
		}
	}
	if st.CertFingerprint == "" || len(st.DKIM) != 1 || len(st.Problems) != 0 {
		t.Errorf("status keys: fp %q dkim %v problems %v", st.CertFingerprint, st.DKIM, st.Problems)
	}
	if txt := st.Text(); !strings.Contains(txt, "running (pid") || !strings.Contains(txt, "alice@node.test") {
		t.Errorf("status text:\n%s", txt)
	}
	a.Close()

	if err := n.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	for name, addr := range map[string]net.Addr{"smtp": n.Addr("smtp"), "imaps": n.Addr("imaps")} {
		if c, err := net.DialTimeout("tcp", addr.String(), time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts after Shutdown", name)
		}
	}

	a, err = OpenAdmin(ctx, cfg)
	if err != nil {
		t.Fatalf("admin on the stopped node: %v", err)
	}
	defer a.Close()
	if _, ok := a.(*localAdmin); !ok {
		t.Fatalf("OpenAdmin on a stopped node gave %T, want the store", a)
	}
	st, err = a.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Running || len(st.Accounts) != 1 || st.Listeners[0].Bound != "" {
		t.Errorf("stopped status = %+v", st)
	}
}

// TestNodeStartFailures: a busy port names the listener and leaves nothing
// open; a stale control socket from a killed node does not stop a start.
func TestNodeStartFailures(t *testing.T) {
	cfg := testNode(t)
	ctx := context.Background()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg.Listen.PlainIMAP = LoopbackAddr(busy.Addr().String())
	if _, err := Start(ctx, cfg, quietLog()); err == nil || !strings.Contains(err.Error(), "listen.plain_imap") {
		t.Fatalf("start on a busy port: %v, want an error naming listen.plain_imap", err)
	}
	// Nothing stayed open: the store is free.
	st, err := mailstore.Open(cfg.StoreFile())
	if err != nil {
		t.Fatalf("store after a failed start: %v", err)
	}
	st.Close()

	cfg.Listen.PlainIMAP = "127.0.0.1:0"
	long := *cfg
	long.Dir = filepath.Join(cfg.Dir, strings.Repeat("d", 120))
	if _, err := listenControl(&long); err == nil || !strings.Contains(err.Error(), "use a shorter data directory") {
		t.Errorf("over-long socket path: %v", err)
	}
	// A socket file left by a killed node.
	l, err := net.Listen("unix", controlPath(cfg))
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if _, err := os.Stat(controlPath(cfg)); err != nil {
		t.Fatal(err)
	}
	n, err := Start(ctx, cfg, quietLog())
	if err != nil {
		t.Fatalf("start over a stale control socket: %v", err)
	}
	if err := n.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(controlPath(cfg)); !os.IsNotExist(err) {
		t.Errorf("control socket left after Shutdown: %v", err)
	}
}
