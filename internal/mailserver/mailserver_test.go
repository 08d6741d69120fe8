package mailserver_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/thingpost/thingpost/internal/mailserver"
	"github.com/thingpost/thingpost/transport"
)

// TestDelivery: mail submitted by a logged-in user (each security mode)
// and mail from anyone through the MX reach the recipient's IMAP inbox;
// a wrong password, a wrong pin and relaying elsewhere are refused.
func TestDelivery(t *testing.T) {
	s := mailserver.StartForTest(t, "std.test")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	alice, err := s.AddUser("alice")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := s.AddUser("bob")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddUser("bob"); err == nil {
		t.Fatal("a second bob was created")
	}
	// Users added one right after another's login can log in at once
	// (Dovecot rereads a changed passwd-file at most once a second).
	for i := range 5 {
		u, err := s.AddUser(fmt.Sprintf("user%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if err := transport.Check(ctx, s.Account(u, transport.SecurityPlain)); err != nil {
			t.Fatalf("new user %s: %v", u.Address, err)
		}
	}
	inbox := make(chan []byte, 10)
	go transport.Watch(ctx, s.Account(bob, transport.SecurityTLS), &transport.MemoryState{},
		func(_ context.Context, m transport.Msg) (transport.Disposition, error) {
			inbox <- m.Raw
			return transport.Delete(), nil
		}, transport.WatchOptions{MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second})

	expect := func(subject string) {
		t.Helper()
		select {
		case raw := <-inbox:
			if !bytes.Contains(raw, []byte("Subject: "+subject)) {
				t.Fatalf("got %.300s, want subject %s", raw, subject)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s not delivered within 20s", subject)
		}
	}
	mail := func(subject string) []byte {
		return []byte(fmt.Sprintf("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s.%d@std.test>\r\n\r\nhello\r\n",
			alice.Address, bob.Address, subject, time.Now().Format(time.RFC1123Z), subject, time.Now().UnixNano()))
	}
	for _, sec := range []transport.Security{transport.SecurityPlain, transport.SecuritySTARTTLS, transport.SecurityTLS} {
		if err := transport.Check(ctx, s.Account(alice, sec)); err != nil {
			t.Fatalf("%s: %v", sec, err)
		}
		if err := transport.Send(ctx, s.Account(alice, sec), alice.Address, []string{bob.Address}, mail("via-"+string(sec))); err != nil {
			t.Fatalf("%s: %v", sec, err)
		}
		expect("via-" + string(sec))
	}

	c, err := smtp.Dial(s.MX)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendMail("someone@elsewhere.test", []string{bob.Address}, bytes.NewReader(mail("via-mx"))); err != nil {
		t.Fatal(err)
	}
	expect("via-mx")
	if err := c.SendMail("someone@elsewhere.test", []string{"x@elsewhere.test"}, bytes.NewReader(mail("relay"))); err == nil {
		t.Fatal("the MX relays to other domains")
	}

	badPin := s.Account(alice, transport.SecurityTLS)
	badPin.PinSHA256 = strings.Repeat("00", 32)
	if err := transport.Check(ctx, badPin); !errors.Is(err, transport.ErrPinMismatch) {
		t.Fatalf("wrong pin: %v", err)
	}
	// A wrong password: refused by Postfix's SASL (through Dovecot's auth
	// socket) and by Dovecot's IMAP login.
	sc, err := smtp.Dial(s.Submission)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if err := sc.Auth(sasl.NewPlainClient("", alice.Address, "wrong")); err == nil {
		t.Fatal("SMTP AUTH with a wrong password")
	}
	// Dovecot delays logins after a failure from the same address: this
	// one comes from another loopback address.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	conn, err := d.DialContext(ctx, "tcp", s.IMAP)
	if err != nil {
		t.Fatal(err)
	}
	ic := imapclient.New(conn, nil)
	defer ic.Close()
	if err := ic.Login(alice.Address, "wrong").Wait(); err == nil {
		t.Fatal("IMAP login with a wrong password")
	}
}
