package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/thingpost/thingpost/homenode"
	"github.com/thingpost/thingpost/thing"
)

const (
	testAddr = "lamp@home.test"
	testPass = "lamp-secret"
)

// node is a real homenode on loopback with TLS (implicit and STARTTLS
// listeners) and the account testAddr.
type node struct {
	imaps, submissions string // implicit TLS
	imap, submission   string // STARTTLS
	pin                string
}

func startNode(t *testing.T) node {
	t.Helper()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "node")
	free := "127.0.0.1:0"
	res, err := homenode.Init(homenode.InitOptions{Dir: dir, Domain: "home.test",
		SMTP: free, Submission: free, Submissions: free, IMAP: free, IMAPS: free})
	if err != nil {
		t.Fatal(err)
	}
	adm, err := homenode.OpenAdmin(ctx, res.Config)
	if err != nil {
		t.Fatal(err)
	}
	err = adm.AddUser(ctx, testAddr, testPass)
	adm.Close()
	if err != nil {
		t.Fatal(err)
	}
	n, err := homenode.Start(ctx, res.Config, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown(context.Background()) })
	return node{imaps: n.Addr("imaps").String(), submissions: n.Addr("submissions").String(),
		imap: n.Addr("imap").String(), submission: n.Addr("submission").String(), pin: res.CertFingerprint}
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// countingListener accepts connections on loopback and counts them.
func countingListener(t *testing.T) (string, *atomic.Int32) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	return ln.Addr().String(), &n
}

// TestInitChecksAccount: "thingd init" logs in over IMAP and SMTP with the
// given security and pin before it writes anything, and a failure is one
// line naming the server, its port and the mode.
func TestInitChecksAccount(t *testing.T) {
	n := startNode(t)
	refused := closedPort(t)
	tests := []struct {
		name      string
		imap      string
		smtp      string
		security  string
		pin       string
		password  string
		wantError []string // substrings of the one stderr line; nil: success
	}{
		{"right account", n.imaps, n.submissions, "tls", n.pin, testPass, nil},
		{"right account, STARTTLS", n.imap, n.submission, "starttls", n.pin, testPass, nil},
		{"wrong password", n.imaps, n.submissions, "tls", n.pin, "wrong",
			[]string{"account check", "imap " + n.imaps + " (tls): login: login refused", "smtp " + n.submissions + " (tls): auth: login refused"}},
		{"unreachable server", refused, n.submissions, "tls", n.pin, testPass,
			[]string{"imap " + refused + " (tls): connect: connection refused"}},
		{"wrong security mode", n.imap, n.submission, "tls", n.pin, testPass,
			[]string{"imap " + n.imap + " (tls): tls: TLS failure", "smtp " + n.submission + " (tls): tls: TLS failure"}},
		{"wrong pin", n.imaps, n.submissions, "tls", strings.Repeat("ab", 32), testPass,
			[]string{"imap " + n.imaps + " (tls)", "does not match the pinned fingerprint"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "lamp")
			code, stdout, stderr := thingd(t, tt.password+"\n", "init", "--data", data, "--addr", testAddr,
				"--name", "Lamp", "--kind", "light", "--imap", tt.imap, "--smtp", tt.smtp,
				"--security", tt.security, "--pin", tt.pin, "--password-stdin")
			if tt.wantError == nil {
				if code != 0 {
					t.Fatalf("exit %d, stderr %q", code, stderr)
				}
				if !strings.HasPrefix(stdout, "https://i.delta.chat/#") {
					t.Errorf("stdout %q, want the invite link", stdout)
				}
				if _, err := thing.LoadConfig(data); err != nil {
					t.Errorf("the configuration written does not load: %v", err)
				}
				return
			}
			t.Logf("stderr: %s", stderr)
			if code != 1 || stdout != "" {
				t.Errorf("exit %d, stdout %q; want exit 1 and nothing on stdout", code, stdout)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "thingd init: account check") {
				t.Errorf("stderr is not one line \"thingd init: account check...\": %q", stderr)
			}
			for _, w := range tt.wantError {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not say %q", stderr, w)
				}
			}
			if _, err := os.Stat(data); !os.IsNotExist(err) {
				t.Errorf("the failed init left %s behind (%v)", data, err)
			}
		})
	}
}

// TestInitNoCheck: --no-check writes the configuration without connecting.
func TestInitNoCheck(t *testing.T) {
	imap, imapConns := countingListener(t)
	smtp, smtpConns := countingListener(t)
	data := filepath.Join(t.TempDir(), "lamp")
	code, stdout, stderr := thingd(t, testPass+"\n", "init", "--no-check", "--data", data, "--addr", testAddr,
		"--name", "Lamp", "--kind", "light", "--imap", imap, "--smtp", smtp, "--security", "plain", "--password-stdin")
	if code != 0 || !strings.HasPrefix(stdout, "https://i.delta.chat/#") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	cfg, err := thing.LoadConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Account.IMAP.HostPort != imap || cfg.Account.Password != testPass {
		t.Errorf("config has IMAP %s, password %q", cfg.Account.IMAP.HostPort, cfg.Account.Password)
	}
	// A check would have been counted before init saw the listener hang
	// up, so before it returned.
	if n := imapConns.Load() + smtpConns.Load(); n != 0 {
		t.Errorf("--no-check made %d connection(s)", n)
	}
}

func thingd(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	code = run(ctx, args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}
