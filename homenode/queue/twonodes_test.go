package queue

import (
	"crypto/ed25519"
	"crypto/rand"
	"log/slog"
	"strings"
	"testing"

	"github.com/thingpost/thingpost/internal/testutil"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/thingpost/thingpost/homenode/accounts"
	"github.com/thingpost/thingpost/homenode/mailstore"
	"github.com/thingpost/thingpost/homenode/smtpd"
)

// node is one home: store, MX, plain loopback submission and queue.
type node struct {
	domain, user string
	st           *mailstore.Store
	mx           string
	submission   string
}

func newNode(t *testing.T, domain, user string) *node {
	t.Helper()
	n := &node{domain: domain, user: user, st: newStore(t, user)}
	n.mx = testutil.Serve(t, smtpd.NewMX(n.st, smtpd.MXOptions{Hostname: "mail." + domain, Domains: []string{domain}, Logger: slog.New(slog.DiscardHandler)}), nil)
	return n
}

// start runs the node's queue and submission server.
func (n *node) start(t *testing.T, static map[string]string) {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	q := New(n.st, Options{Hostname: "mail." + n.domain, StaticMX: static, DKIM: &DKIM{Selector: "homenode", Signer: key}, Logger: log})
	run(t, q)
	n.submission = testutil.Serve(t, smtpd.NewSubmission(n.st, accounts.NewAuthenticator(n.st, log), smtpd.SubmissionOptions{
		Hostname: "mail." + n.domain, Domains: []string{n.domain}, AllowInsecureAuth: true, Queue: q, Logger: log,
	}), nil)
}

func (n *node) inbox(t *testing.T) [][]byte { return testutil.Inbox(t, n.st, n.user) }

func submit(t *testing.T, addr, user, to, subject string) {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", user, "pw-"+user)); err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail(user, []string{to}, strings.NewReader(string(msgText(user, to, subject)))); err != nil {
		t.Fatalf("submit: %v", err)
	}
}

// TestTwoNodes: two homes on loopback, each with its own domain, mail each
// other through submission, queue and MX, with StaticMX in place of DNS.
func TestTwoNodes(t *testing.T) {
	a := newNode(t, "home.test", "alice@home.test")
	b := newNode(t, "remote.test", "dave@remote.test")
	static := map[string]string{"home.test": a.mx, "remote.test": b.mx}
	a.start(t, static)
	b.start(t, static)

	submit(t, a.submission, "alice@home.test", "dave@remote.test", "ping")
	waitFor(t, "alice's mail at dave", func() bool { return len(b.inbox(t)) == 1 })
	submit(t, b.submission, "dave@remote.test", "alice@home.test", "pong")
	waitFor(t, "dave's reply at alice", func() bool { return len(a.inbox(t)) == 1 })
	if got := b.inbox(t)[0]; header(got, "Message-ID") != "<ping@home.test>" || !strings.Contains(header(got, "DKIM-Signature"), "d=home.test") {
		t.Errorf("dave got:\n%s", got)
	}
	if got := a.inbox(t)[0]; header(got, "Message-ID") != "<pong@home.test>" || !strings.Contains(header(got, "DKIM-Signature"), "d=remote.test") {
		t.Errorf("alice got:\n%s", got)
	}
}
