package smtpd

import (
	"context"
	"encoding/base64"
	"errors"
	"net"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/thingpost/thingpost/internal/testutil"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/thingpost/thingpost/homenode/accounts"
	"github.com/thingpost/thingpost/homenode/mailstore"
)

type submissionEnv struct {
	st   *mailstore.Store
	logs *testutil.SyncBuffer
	srv  *Server
	addr string
}

// implicitTLS serves with ServeTLS (testutil.Serve calls Serve).
type implicitTLS struct{ *Server }

func (s implicitTLS) Serve(l net.Listener) error { return s.ServeTLS(l) }

// newSubmission serves a submission server with opts, with implicit TLS
// when implicit is set.
func newSubmission(t testing.TB, opts SubmissionOptions, implicit bool) *submissionEnv {
	t.Helper()
	st := testutil.OpenStore(t)
	addUser(t, st, "alice@home.test", "pw-alice")
	addUser(t, st, "bob@home.test", "pw-bob")
	logs := &testutil.SyncBuffer{}
	opts.Hostname = "mail.home.test"
	opts.Domains = []string{"home.test"}
	if opts.Logger == nil {
		opts.Logger = testLogger(logs)
	}
	opts.Queue = st
	srv := NewSubmission(st, accounts.NewAuthenticator(st, opts.Logger), opts)
	var served testutil.Server = srv
	if implicit {
		served = implicitTLS{srv}
	}
	return &submissionEnv{st: st, logs: logs, srv: srv, addr: testutil.Serve(t, served, nil)}
}

func (e *submissionEnv) login(t testing.TB, user, pass string) *smtp.Client {
	t.Helper()
	c := dial(t, e.addr)
	if err := c.Auth(sasl.NewPlainClient("", user, pass)); err != nil {
		t.Fatalf("AUTH PLAIN %s: %v", user, err)
	}
	return c
}

func TestSubmissionAuth(t *testing.T) {
	e := newSubmission(t, SubmissionOptions{AllowInsecureAuth: true}, false)
	msg := message("alice@home.test", "bob@home.test", "a", "x")

	c := dial(t, e.addr)
	if ok, mechs := c.Extension("AUTH"); !ok || !strings.Contains(mechs, "PLAIN") || !strings.Contains(mechs, "LOGIN") {
		t.Fatalf("AUTH advertised %v %q, want PLAIN and LOGIN", ok, mechs)
	}
	if err := send(c, "alice@home.test", []string{"bob@home.test"}, msg); code(err) != 530 {
		t.Fatalf("MAIL before AUTH: %v, want 530", err)
	}
	if err := c.Auth(sasl.NewPlainClient("", "alice@home.test", "wrong")); code(err) != 535 {
		t.Fatalf("AUTH PLAIN wrong password: %v, want 535", err)
	}
	if err := c.Auth(sasl.NewPlainClient("bob@home.test", "alice@home.test", "pw-alice")); code(err) != 535 {
		t.Fatalf("AUTH PLAIN with another authorization identity: %v, want 535", err)
	}
	if err := c.Auth(sasl.NewPlainClient("", "alice@home.test", "pw-alice")); err != nil {
		t.Fatalf("AUTH PLAIN: %v", err)
	}
	if err := send(c, "alice@home.test", []string{"bob@home.test"}, msg); err != nil {
		t.Fatalf("send after AUTH PLAIN: %v", err)
	}

	c2 := dial(t, e.addr)
	if err := c2.Auth(sasl.NewLoginClient("bob@home.test", "pw-bob")); err != nil {
		t.Fatalf("AUTH LOGIN with initial response: %v", err)
	}
	if err := send(c2, "bob@home.test", []string{"alice@home.test"}, message("bob@home.test", "alice@home.test", "b", "y")); err != nil {
		t.Fatalf("send after AUTH LOGIN: %v", err)
	}

	// AUTH LOGIN the way curl and Thunderbird do it: no initial response.
	conn, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tp := textproto.NewConn(conn)
	b64 := base64.StdEncoding.EncodeToString
	for _, step := range []struct {
		send string
		code int
		want string
	}{
		{"", 220, ""},
		{"EHLO client", 250, ""},
		{"AUTH LOGIN", 334, b64([]byte("Username:"))},
		{b64([]byte("alice@home.test")), 334, b64([]byte("Password:"))},
		{b64([]byte("pw-alice")), 235, ""},
	} {
		if step.send != "" {
			if err := tp.PrintfLine("%s", step.send); err != nil {
				t.Fatal(err)
			}
		}
		_, msg, err := tp.ReadResponse(step.code)
		if err != nil || !strings.Contains(msg, step.want) {
			t.Fatalf("after %q: %q, %v; want %d %s", step.send, msg, err, step.code, step.want)
		}
	}
	if !strings.Contains(e.logs.String(), `msg="login refused"`) {
		t.Errorf("refused login not logged:\n%s", e.logs.String())
	}
}

func TestSubmissionRateLimit(t *testing.T) {
	e := newSubmission(t, SubmissionOptions{AllowInsecureAuth: true}, false)
	for i := range 5 {
		c := dial(t, e.addr)
		if err := c.Auth(sasl.NewPlainClient("", "alice@home.test", "guess")); code(err) != 535 {
			t.Fatalf("guess %d: %v, want 535", i+1, err)
		}
	}
	c := dial(t, e.addr)
	err := c.Auth(sasl.NewPlainClient("", "alice@home.test", "pw-alice"))
	if code(err) != 454 || !strings.Contains(err.Error(), "Too many failed logins") {
		t.Fatalf("login after 5 failures: %v, want 454 too many failed logins", err)
	}
}

func TestSubmissionSender(t *testing.T) {
	e := newSubmission(t, SubmissionOptions{AllowInsecureAuth: true}, false)
	c := e.login(t, "alice@home.test", "pw-alice")
	for _, tc := range []struct {
		name, envFrom, msg string
		code               int
		text               string
	}{
		{"envelope from another account", "bob@home.test", message("alice@home.test", "bob@home.test", "s1", "x"), 553, "not yours"},
		{"envelope from another domain", "alice@evil.example", message("alice@home.test", "bob@home.test", "s2", "x"), 553, "not yours"},
		{"header from another account", "alice@home.test", message("bob@home.test", "bob@home.test", "s3", "x"), 550, "<bob@home.test> is not yours"},
		{"header from with a display name", "alice@home.test", message(`"Alice" <bob@home.test>`, "bob@home.test", "s4", "x"), 550, "not yours"},
		{"two addresses in From", "alice@home.test", message("alice@home.test, bob@home.test", "bob@home.test", "s5", "x"), 550, "not yours"},
		{"two From fields", "alice@home.test", "From: alice@home.test\r\n" + message("bob@home.test", "bob@home.test", "s6", "x"), 550, "more than one From"},
		{"no From", "alice@home.test", "To: bob@home.test\r\nSubject: s7\r\n\r\nx\r\n", 550, "no From"},
		{"bare CR smuggling", "alice@home.test", "From: alice@home.test\r\nX-A: 1\rFrom: bob@home.test\r\n\r\nx\r\n", 550, "bare CR"},
		{"null sender, own From", "", message("Alice <ALICE@home.test>", "bob@home.test", "s9", "x"), 0, ""},
		{"own address, upper case", "Alice@Home.Test", message("alice@home.test", "bob@home.test", "s10", "x"), 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := send(c, tc.envFrom, []string{"bob@home.test"}, tc.msg)
			if code(err) != tc.code || tc.text != "" && !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("got %v, want %d %q", err, tc.code, tc.text)
			}
			if err != nil {
				c.Reset()
			}
		})
	}
	if n := len(testutil.Inbox(t, e.st, "bob@home.test")); n != 2 {
		t.Fatalf("bob has %d messages, want the 2 allowed ones", n)
	}
}

func TestSubmissionDelivery(t *testing.T) {
	e := newSubmission(t, SubmissionOptions{AllowInsecureAuth: true}, false)
	ctx := context.Background()
	c := e.login(t, "alice@home.test", "pw-alice")

	// No Date or Message-ID: the server adds them.
	msg := "From: Alice <alice@home.test>\r\nTo: bob@home.test, dave@remote.example\r\nSubject: hi\r\n\r\nHello.\r\n"
	if err := send(c, "alice@home.test", []string{"bob@home.test", "Dave@Remote.Example", "erin@other.example"}, msg); err != nil {
		t.Fatalf("send: %v", err)
	}
	// Right after the 250, the local copy is in the INBOX and the remote
	// recipients are in the queue.
	got := testutil.Inbox(t, e.st, "bob@home.test")
	if len(got) != 1 || !contains(got[0], "Return-Path: <alice@home.test>\r\n", "with ESMTPA id", "Message-ID: <", "Date: ", "Hello.") {
		t.Fatalf("bob's INBOX: %q", got)
	}
	if contains(got[0], "127.0.0.1") {
		t.Errorf("submission Received header leaks the client address:\n%s", got[0])
	}
	items, err := e.st.QueueDue(ctx, time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 {
		t.Fatalf("queue has %d items, want 1", len(items))
	}
	it := items[0]
	if it.From != "alice@home.test" || strings.Join(it.Rcpts, ",") != "Dave@remote.example,erin@other.example" {
		t.Errorf("queued from %q to %q", it.From, it.Rcpts)
	}
	if contains(it.Raw, "Return-Path:") || !contains(it.Raw, "Message-ID: <", "Hello.") {
		t.Errorf("queued message:\n%s", it.Raw)
	}

	// Unknown local recipient is refused at RCPT, before any data.
	if err := c.Mail("alice@home.test", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("nobody@home.test", nil); code(err) != 550 || enhanced(err) != "5.1.1" {
		t.Fatalf("RCPT unknown local: %v, want 550 5.1.1", err)
	}
	c.Reset()

	if !strings.Contains(e.logs.String(), "msg=submitted") || !strings.Contains(e.logs.String(), "queued=") {
		t.Errorf("submission not logged:\n%s", e.logs.String())
	}
}

func TestSubmissionNoQueue(t *testing.T) {
	st := testutil.OpenStore(t)
	addUser(t, st, "alice@home.test", "pw-alice")
	srv := NewSubmission(st, accounts.NewAuthenticator(st, nil), SubmissionOptions{Domains: []string{"home.test"}, AllowInsecureAuth: true})
	c := dial(t, testutil.Serve(t, srv, nil))
	if err := c.Auth(sasl.NewPlainClient("", "alice@home.test", "pw-alice")); err != nil {
		t.Fatal(err)
	}
	c.Mail("alice@home.test", nil)
	if err := c.Rcpt("x@remote.example", nil); code(err) != 550 {
		t.Fatalf("remote recipient without a queue: %v, want 550", err)
	}
}

func TestSubmissionTLS(t *testing.T) {
	cfg := testutil.SelfSignedTLS(t, "mx.home.test").ServerConfig()

	t.Run("STARTTLS", func(t *testing.T) {
		e := newSubmission(t, SubmissionOptions{TLSConfig: cfg}, false)
		plain := dial(t, e.addr)
		if ok, _ := plain.Extension("AUTH"); ok {
			t.Fatal("AUTH advertised before TLS")
		}
		if err := plain.Auth(sasl.NewPlainClient("", "alice@home.test", "pw-alice")); err == nil {
			t.Fatal("AUTH accepted without TLS")
		}
		c, err := smtp.DialStartTLS(e.addr, clientTLS())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Auth(sasl.NewPlainClient("", "alice@home.test", "pw-alice")); err != nil {
			t.Fatalf("AUTH after STARTTLS: %v", err)
		}
		if err := send(c, "alice@home.test", []string{"bob@home.test"}, message("alice@home.test", "bob@home.test", "tls", "x")); err != nil {
			t.Fatal(err)
		}
		if got := testutil.Inbox(t, e.st, "bob@home.test"); len(got) != 1 || !contains(got[0], "with ESMTPSA") {
			t.Fatalf("bob's INBOX: %q", got)
		}
	})

	t.Run("implicit TLS", func(t *testing.T) {
		e := newSubmission(t, SubmissionOptions{TLSConfig: cfg}, true)
		c, err := smtp.DialTLS(e.addr, clientTLS())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if ok, _ := c.Extension("STARTTLS"); ok {
			t.Error("STARTTLS offered inside TLS")
		}
		if err := c.Auth(sasl.NewLoginClient("alice@home.test", "pw-alice")); err != nil {
			t.Fatalf("AUTH LOGIN over TLS: %v", err)
		}
		if err := send(c, "alice@home.test", []string{"bob@home.test"}, message("alice@home.test", "bob@home.test", "tls", "x")); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("insecure auth only on loopback", func(t *testing.T) {
		st := testutil.OpenStore(t)
		srv := NewSubmission(st, accounts.NewAuthenticator(st, nil), SubmissionOptions{AllowInsecureAuth: true})
		l, err := net.Listen("tcp", "0.0.0.0:0")
		if err != nil {
			t.Skipf("cannot listen on a non-loopback address here: %v", err)
		}
		if err := srv.Serve(l); err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Fatalf("Serve on 0.0.0.0 with AllowInsecureAuth: %v, want a refusal", err)
		}
	})
}

func TestShutdown(t *testing.T) {
	st := testutil.OpenStore(t)
	addUser(t, st, "alice@home.test", "pw-alice")
	var logs testutil.SyncBuffer
	srv := NewMX(st, MXOptions{Domains: []string{"home.test"}, Logger: testLogger(&logs)})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()

	// A: in the middle of DATA. B: idle after EHLO.
	a := dial(t, addr)
	if err := a.Mail("carol@sender.example", nil); err != nil {
		t.Fatal(err)
	}
	if err := a.Rcpt("alice@home.test", nil); err != nil {
		t.Fatal(err)
	}
	w, err := a.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("From: carol@sender.example\r\nSubject: in flight\r\n\r\nfirst half\r\n"))
	b := dial(t, addr)
	if err := b.Hello("idle.example"); err != nil {
		t.Fatal(err)
	}

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()
	// Shutdown waits for A; new connections are no longer accepted and B
	// cannot start a transaction.
	waitFor(t, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	if err := b.Mail("carol@sender.example", nil); code(err) != 421 {
		t.Fatalf("MAIL during shutdown: %v, want 421", err)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v while a transaction was in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	w.Write([]byte("second half\r\n"))
	if err := w.Close(); err != nil {
		t.Fatalf("in-flight transaction: %v, want 250", err)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
	if got := testutil.Inbox(t, st, "alice@home.test"); len(got) != 1 || !contains(got[0], "first half\r\nsecond half") {
		t.Fatalf("in-flight message not stored whole: %q", got)
	}
	// B was closed.
	if err := b.Noop(); err == nil {
		t.Fatal("idle connection still open after Shutdown")
	}
}

func TestShutdownDeadline(t *testing.T) {
	st := testutil.OpenStore(t)
	addUser(t, st, "alice@home.test", "pw-alice")
	srv := NewMX(st, MXOptions{Domains: []string{"home.test"}, Logger: testLogger(&testutil.SyncBuffer{})})
	addr := testutil.Serve(t, srv, nil)
	// A client that opens a transaction and then stalls.
	a := dial(t, addr)
	if err := a.Mail("carol@sender.example", nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown with a stalled client: %v, want DeadlineExceeded", err)
	}
	if err := a.Rcpt("alice@home.test", nil); err == nil {
		t.Fatal("stalled connection still served after the deadline")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
