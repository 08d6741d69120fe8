package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"
)

func testMessage(n int, body string) []byte {
	return []byte(fmt.Sprintf("From: <lamp@home.test>\r\nTo: <lamp@home.test>\r\nSubject: test %d\r\nMessage-ID: <m%d.%d@home.test>\r\n\r\n%s\r\n",
		n, n, time.Now().UnixNano(), body))
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// inboxBodies reads INBOX with an independent client.
func inboxBodies(t testing.TB, a Account) [][]byte {
	t.Helper()
	c, _, err := connectIMAP(ctxT(t, 10*time.Second), &a, &imapclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{
		BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil && !strings.Contains(err.Error(), "No messages") {
		t.Fatal(err)
	}
	var out [][]byte
	for _, m := range msgs {
		out = append(out, m.FindBodySection(&imap.FetchItemBodySection{Peek: true}))
	}
	return out
}

func TestSendEverySecurity(t *testing.T) {
	forEachHomeIn(t, []Security{SecurityTLS, SecuritySTARTTLS, SecurityPlain}, func(t *testing.T, h testHome) {
		a := h.account()
		msg := testMessage(1, "on")
		if err := Send(ctxT(t, 10*time.Second), a, a.Address, []string{a.Address}, msg); err != nil {
			t.Fatalf("Send: %v", err)
		}
		got := inboxBodies(t, a)
		// The home node adds Return-Path and Received at the top.
		if len(got) != 1 || !bytes.HasSuffix(got[0], msg) {
			t.Fatalf("INBOX has %d messages: %q", len(got), got)
		}
	})
}

func TestSendAuthLoginFallback(t *testing.T) {
	h := newMemHome(t, memOpts{sec: SecurityTLS, loginOnly: true})
	if err := Send(ctxT(t, 10*time.Second), h.account(), h.addr, []string{h.addr}, testMessage(1, "x")); err != nil {
		t.Fatalf("Send with AUTH LOGIN only: %v", err)
	}
	a := h.account()
	a.Password = "wrong"
	err := Send(ctxT(t, 10*time.Second), a, h.addr, []string{h.addr}, testMessage(2, "x"))
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("wrong password over LOGIN: %v", err)
	}
}

func TestSendClassifiesRejections(t *testing.T) {
	h := newMemHome(t, memOpts{sec: SecurityPlain})
	h.rejectRcpt["gone@home.test"] = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	h.rejectRcpt["busy@home.test"] = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
	msg := testMessage(1, "x")

	err := Send(ctxT(t, 10*time.Second), h.account(), h.addr, []string{h.addr, "gone@home.test"}, msg)
	if !errors.Is(err, ErrPermanent) || Retryable(err) || !strings.Contains(err.Error(), "gone@home.test") {
		t.Errorf("550 recipient: %v (retryable %v)", err, Retryable(err))
	}
	err = Send(ctxT(t, 10*time.Second), h.account(), h.addr, []string{"busy@home.test"}, msg)
	if !errors.Is(err, ErrTemporary) || !Retryable(err) {
		t.Errorf("451 recipient: %v (retryable %v)", err, Retryable(err))
	}
	if n := len(inboxBodies(t, h.account())); n != 0 {
		t.Errorf("a refused send delivered %d messages", n)
	}

	a := h.account()
	a.Password = "wrong"
	err = Send(ctxT(t, 10*time.Second), a, h.addr, []string{h.addr}, msg)
	if !errors.Is(err, ErrAuth) || !Retryable(err) {
		t.Errorf("bad password: %v", err)
	}
	for _, tt := range []struct {
		from  string
		rcpts []string
		raw   []byte
	}{
		{"", []string{h.addr}, msg},
		{h.addr, nil, msg},
		{h.addr, []string{"a@b\r\nRCPT TO:<evil@x>"}, msg},
		{h.addr, []string{h.addr}, nil},
	} {
		err := Send(ctxT(t, 10*time.Second), h.account(), tt.from, tt.rcpts, tt.raw)
		if !errors.Is(err, ErrPermanent) {
			t.Errorf("Send(%q, %q, %d bytes) = %v, want ErrPermanent", tt.from, tt.rcpts, len(tt.raw), err)
		}
	}
}

// The home node refuses mail to unknown local users and with a forged From.
func TestSendHomenodeRefusals(t *testing.T) {
	h := newNodeHome(t, SecurityTLS)
	a := h.account()
	err := Send(ctxT(t, 10*time.Second), a, a.Address, []string{"nobody@home.test"}, testMessage(1, "x"))
	if !errors.Is(err, ErrPermanent) || !strings.Contains(err.Error(), "RCPT TO nobody@home.test") {
		t.Errorf("unknown recipient: %v", err)
	}
	forged := bytes.Replace(testMessage(2, "x"), []byte("From: <lamp@home.test>"), []byte("From: <owner@home.test>"), 1)
	err = Send(ctxT(t, 10*time.Second), a, a.Address, []string{a.Address}, forged)
	if !errors.Is(err, ErrPermanent) || !strings.Contains(err.Error(), "end of DATA") {
		t.Errorf("forged From: %v", err)
	}
	err = Send(ctxT(t, 10*time.Second), a, "owner@home.test", []string{a.Address}, testMessage(3, "x"))
	if !errors.Is(err, ErrPermanent) || !strings.Contains(err.Error(), "MAIL FROM") {
		t.Errorf("foreign envelope sender: %v", err)
	}
	if n := len(inboxBodies(t, a)); n != 0 {
		t.Errorf("%d refused messages delivered", n)
	}
}

func TestSendPinMismatch(t *testing.T) {
	forEachHomeIn(t, []Security{SecurityTLS, SecuritySTARTTLS}, func(t *testing.T, h testHome) {
		a := h.account()
		a.PinSHA256 = strings.Repeat("00", 32)
		err := Send(ctxT(t, 10*time.Second), a, a.Address, []string{a.Address}, testMessage(1, "x"))
		if !errors.Is(err, ErrPinMismatch) {
			t.Fatalf("Send with a wrong pin: %v", err)
		}
		// Without a pin the self-signed certificate fails normal
		// verification.
		a.PinSHA256 = ""
		err = Send(ctxT(t, 10*time.Second), a, a.Address, []string{a.Address}, testMessage(1, "x"))
		if !errors.Is(err, ErrTLS) {
			t.Fatalf("Send without a pin to a self-signed server: %v", err)
		}
		if n := len(inboxBodies(t, h.account())); n != 0 {
			t.Errorf("%d messages delivered over an unverified connection", n)
		}
	})
}

func TestSendPlainRefusedToNonLoopback(t *testing.T) {
	a := Account{Address: "lamp@home.test", Password: "pw",
		IMAP: Server{HostPort: "192.0.2.1:143", Security: SecurityPlain},
		SMTP: Server{HostPort: "192.0.2.1:25", Security: SecurityPlain}}
	start := time.Now()
	err := Send(ctxT(t, 10*time.Second), a, a.Address, []string{a.Address}, testMessage(1, "x"))
	if !errors.Is(err, ErrPlainNotLoopback) || Retryable(err) {
		t.Fatalf("Send plain to 192.0.2.1: %v", err)
	}
	if time.Since(start) > time.Second {
		t.Errorf("refusal took %v: it must not even dial", time.Since(start))
	}
}

// A Sender logs in once and reuses the connection; it reconnects when the
// server went away in between.
func TestSenderReusesConnection(t *testing.T) {
	h := newMemHome(t, memOpts{sec: SecurityTLS})
	a := h.account()
	s, err := NewSender(a)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				if err := s.Send(ctxT(t, 10*time.Second), a.Address, []string{a.Address}, testMessage(g*10+i, "x")); err != nil {
					t.Errorf("Send: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	h.mu.Lock()
	logins := h.smtpLogins
	h.mu.Unlock()
	if logins != 1 {
		t.Errorf("%d logins for 20 messages, want 1", logins)
	}
	// A rejected recipient does not spoil the next send.
	h.rejectRcpt["gone@home.test"] = &smtp.SMTPError{Code: 550, Message: "no"}
	if err := s.Send(ctxT(t, 10*time.Second), a.Address, []string{"gone@home.test"}, testMessage(98, "x")); !errors.Is(err, ErrPermanent) {
		t.Errorf("rejected send: %v", err)
	}
	if err := s.Send(ctxT(t, 10*time.Second), a.Address, []string{a.Address}, testMessage(99, "x")); err != nil {
		t.Errorf("send after a rejection: %v", err)
	}

	h.restart(0)
	if err := s.Send(ctxT(t, 10*time.Second), a.Address, []string{a.Address}, testMessage(100, "after restart")); err != nil {
		t.Fatalf("Send after a server restart: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := s.Send(ctxT(t, 10*time.Second), a.Address, []string{a.Address}, testMessage(101, "after close")); err != nil {
		t.Fatalf("Send after Close: %v", err)
	}
	if n := len(inboxBodies(t, a)); n != 23 {
		t.Errorf("INBOX has %d messages, want 23", n)
	}
}
