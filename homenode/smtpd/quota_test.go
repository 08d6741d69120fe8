package smtpd

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/thingpost/thingpost/homenode/accounts"
	"github.com/thingpost/thingpost/homenode/mailstore"
	"github.com/thingpost/thingpost/internal/testutil"
)

// TestQuotaReplies: a full account is refused with 452 4.2.2 at RCPT when
// the size is known, else at DATA, where nothing is stored for any
// recipient (the sender retries the whole message); a message that can
// never fit gets 552.
func TestQuotaReplies(t *testing.T) {
	st := testutil.OpenStore(t)
	addUser(t, st, "alice@home.test", "pw-alice")
	addUser(t, st, "bob@home.test", "pw-bob")
	addUser(t, st, "lamp@home.test", "pw-lamp")
	st.SetLimits(mailstore.Limits{
		Default:  mailstore.Quota{Bytes: 4 << 10},
		Accounts: map[string]mailstore.Quota{"lamp@home.test": {Bytes: 64 << 10, MaxMessageSize: 1 << 10}},
	})
	var logs testutil.SyncBuffer
	mx := testutil.Serve(t, NewMX(st, MXOptions{Hostname: "mx.home.test", Domains: []string{"home.test"}, Logger: testLogger(&logs)}), nil)
	sub := testutil.Serve(t, NewSubmission(st, accounts.NewAuthenticator(st, slog.New(slog.DiscardHandler)), SubmissionOptions{Hostname: "mx.home.test", Domains: []string{"home.test"}, AllowInsecureAuth: true, Logger: testLogger(&logs)}), nil)
	body := lines(3 << 10)
	msg := message("carol@sender.example", "alice@home.test", "fill", body)

	c := dial(t, mx)
	if err := send(c, "carol@sender.example", []string{"alice@home.test"}, msg); err != nil {
		t.Fatalf("first 3 KiB: %v", err)
	}
	// Size unknown: RCPT passes (1 KiB is left), DATA does not fit alice,
	// and bob, next to her, gets nothing either.
	err := send(c, "carol@sender.example", []string{"bob@home.test", "alice@home.test"}, msg)
	if code(err) != 452 || enhanced(err) != "4.2.2" {
		t.Fatalf("DATA over alice's quota: %v, want 452 4.2.2", err)
	}
	if n := len(testutil.Inbox(t, st, "bob@home.test")); n != 0 {
		t.Fatalf("bob got %d messages from a refused DATA", n)
	}
	// Size announced: alice is refused at RCPT, bob gets it.
	if err := c.Mail("carol@sender.example", &smtp.MailOptions{Size: int64(len(msg))}); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("alice@home.test", nil); code(err) != 452 || enhanced(err) != "4.2.2" {
		t.Fatalf("RCPT with SIZE over alice's quota: %v, want 452 4.2.2", err)
	}
	if err := c.Rcpt("bob@home.test", nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(msg))
	if err := w.Close(); err != nil {
		t.Fatalf("DATA for bob: %v", err)
	}
	if n := len(testutil.Inbox(t, st, "bob@home.test")); n != 1 {
		t.Fatalf("bob has %d messages, want 1", n)
	}
	for _, tc := range []struct {
		name, rcpt string
		size       int
		want       string
	}{
		{"over the whole quota", "bob@home.test", 5 << 10, "552 5.2.2"},
		{"over the account's message size", "lamp@home.test", 2 << 10, "552 5.2.3"},
	} {
		big := message("carol@sender.example", tc.rcpt, "big", lines(tc.size))
		err := send(c, "carol@sender.example", []string{tc.rcpt}, big)
		if got := smtpReply(err); got != tc.want {
			t.Errorf("%s at DATA: %v, want %s", tc.name, err, tc.want)
		}
		if err := c.Reset(); err != nil {
			t.Fatal(err)
		}
		if err := c.Mail("carol@sender.example", &smtp.MailOptions{Size: int64(len(big))}); err != nil {
			t.Fatal(err)
		}
		if got := smtpReply(c.Rcpt(tc.rcpt, nil)); got != tc.want {
			t.Errorf("%s at RCPT: %s, want %s", tc.name, got, tc.want)
		}
		if err := c.Reset(); err != nil {
			t.Fatal(err)
		}
	}

	// Submission to a full local account: 452 too, not 451.
	s := dial(t, sub)
	if err := s.Auth(sasl.NewPlainClient("", "bob@home.test", "pw-bob")); err != nil {
		t.Fatal(err)
	}
	err = send(s, "bob@home.test", []string{"alice@home.test"}, message("bob@home.test", "alice@home.test", "sub", body))
	if code(err) != 452 || enhanced(err) != "4.2.2" {
		t.Errorf("submission to the full alice: %v, want 452 4.2.2", err)
	}
}

// lines is about n bytes of text in 64-byte lines.
func lines(n int) string {
	return strings.Repeat(strings.Repeat("x", 62)+"\r\n", n/64)
}

func smtpReply(err error) string {
	return fmt.Sprintf("%d %s", code(err), enhanced(err))
}
