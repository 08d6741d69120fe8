package smtpd

import (
	"strconv"
	"strings"
	"testing"

	"github.com/thingpost/thingpost/internal/testutil"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

func TestMX(t *testing.T) {
	st := testutil.OpenStore(t)
	addUser(t, st, "alice@home.test", "pw-alice")
	addUser(t, st, "bob@home.test", "pw-bob")
	var logs testutil.SyncBuffer
	srv := NewMX(st, MXOptions{Hostname: "mx.home.test", Domains: []string{"home.test"}, MaxSize: 8 << 10, Logger: testLogger(&logs)})
	addr := testutil.Serve(t, srv, nil)

	c := dial(t, addr)
	if err := c.Hello("sender.example"); err != nil {
		t.Fatal(err)
	}
	if size, ok := c.MaxMessageSize(); !ok || size != 8<<10 {
		t.Errorf("SIZE = %d, %v; want %d advertised", size, ok, 8<<10)
	}
	if ok, _ := c.Extension("AUTH"); ok {
		t.Error("MX advertises AUTH")
	}

	t.Run("local delivery", func(t *testing.T) {
		msg := message("carol@sender.example", "alice@home.test", "hello", "Hi Alice and Bob.")
		if err := send(c, "carol@sender.example", []string{"Alice@HOME.test", "bob@home.test", "alice@home.test"}, msg); err != nil {
			t.Fatalf("send: %v", err)
		}
		for _, who := range []string{"alice@home.test", "bob@home.test"} {
			got := testutil.Inbox(t, st, who)
			if len(got) != 1 {
				t.Fatalf("%s has %d messages, want 1", who, len(got))
			}
			if !contains(got[0], "Return-Path: <carol@sender.example>\r\n", "Received: from sender.example ([127.0.0.1])", "by mx.home.test", "with ESMTP id", "Hi Alice and Bob.") {
				t.Errorf("%s got:\n%s", who, got[0])
			}
			if !strings.HasPrefix(string(got[0]), "Return-Path:") {
				t.Errorf("Return-Path is not the first field:\n%s", got[0])
			}
		}
	})

	t.Run("null sender", func(t *testing.T) {
		if err := send(c, "", []string{"bob@home.test"}, message("mailer-daemon@sender.example", "bob@home.test", "bounce", "x")); err != nil {
			t.Fatalf("bounce to a local user: %v", err)
		}
		if got := testutil.Inbox(t, st, "bob@home.test"); len(got) != 2 || !contains(got[1], "Return-Path: <>") {
			t.Fatalf("bob's INBOX after a bounce: %d messages", len(got))
		}
	})

	for _, tc := range []struct {
		name, rcpt, code string
	}{
		{"unknown user", "nobody@home.test", "550 5.1.1"},
		{"other domain", "alice@elsewhere.example", "550 5.7.1"},
		{"subdomain", "alice@sub.home.test", "550 5.7.1"},
		{"address literal", "alice@[127.0.0.1]", "501 5.1.3"},
		{"no domain", "someone", "501 5.5.2"}, // go-smtp refuses a path without "@" itself
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.Mail("carol@sender.example", nil); err != nil {
				t.Fatal(err)
			}
			err := c.Rcpt(tc.rcpt, nil)
			if got := strings.TrimSpace(strconv.Itoa(code(err)) + " " + enhanced(err)); got != tc.code {
				t.Fatalf("RCPT %s: %v (%s), want %s", tc.rcpt, err, got, tc.code)
			}
			if err := c.Reset(); err != nil {
				t.Fatal(err)
			}
		})
	}

	t.Run("too large", func(t *testing.T) {
		big := message("carol@sender.example", "alice@home.test", "big", strings.Repeat("0123456789abcdef\r\n", 1000))
		err := send(c, "carol@sender.example", []string{"alice@home.test"}, big)
		if code(err) != 552 {
			t.Fatalf("oversized DATA: %v, want 552", err)
		}
		if got := testutil.Inbox(t, st, "alice@home.test"); len(got) != 1 {
			t.Fatalf("alice has %d messages after a refused oversized one, want 1", len(got))
		}
		// The declared size is refused before any data.
		c2 := dial(t, addr)
		err = c2.Mail("carol@sender.example", &smtp.MailOptions{Size: 9 << 10})
		if code(err) != 552 {
			t.Fatalf("MAIL SIZE=9216: %v, want 552", err)
		}
	})

	t.Run("no AUTH", func(t *testing.T) {
		c2 := dial(t, addr)
		if err := c2.Auth(sasl.NewPlainClient("", "alice@home.test", "pw-alice")); err == nil {
			t.Fatal("AUTH accepted on the MX")
		}
	})

	for _, want := range []string{`msg=delivered`, `msg="recipient refused"`, `reason="no such user"`, `reason="relaying denied"`, `msg="message refused"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs.String())
		}
	}
}
