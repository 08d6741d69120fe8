package queue

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/thingpost/thingpost/internal/testutil"

	"github.com/emersion/go-message"
	"github.com/emersion/go-msgauth/dkim"
)

// dkimTXT is the DNS TXT record value publishing pub.
func dkimTXT(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	switch k := pub.(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(k)
	}
	t.Fatalf("no DKIM record for %T", pub)
	return ""
}

func verifyDKIM(raw []byte, name, txt string) ([]*dkim.Verification, error) {
	return dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{
		LookupTXT: func(domain string) ([]string, error) {
			if domain == name {
				return []string{txt}, nil
			}
			return nil, &net.DNSError{Err: "no such host", Name: domain, IsNotFound: true}
		},
	})
}

func TestDeliverToMX(t *testing.T) {
	tlsCfg := testutil.SelfSignedTLS(t).ServerConfig()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		key  crypto.Signer
	}{{"rsa", rsaKey}, {"ed25519", edKey}} {
		t.Run(tc.name, func(t *testing.T) {
			home := newStore(t, "alice@home.test")
			// Two remote nodes: one offers STARTTLS, one is plain text.
			remote, remoteAddr := remoteMX(t, "remote.test", tlsCfg, "dave@remote.test")
			other, otherAddr := remoteMX(t, "other.test", nil, "erin@other.test")
			var logs testutil.SyncBuffer
			q := New(home, Options{
				Hostname: "mail.home.test",
				DKIM:     &DKIM{Selector: "homenode", Signer: tc.key, Domains: []string{"home.test"}},
				StaticMX: map[string]string{"remote.test": remoteAddr, "Other.Test": otherAddr},
				Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
			})
			run(t, q)
			if _, err := q.Enqueue(context.Background(), "alice@home.test", []string{"dave@remote.test", "erin@other.test"}, msgText("Alice <alice@home.test>", "dave@remote.test, erin@other.test", "deliver-"+tc.name)); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "delivery to both nodes", func() bool {
				return len(testutil.Inbox(t, remote, "dave@remote.test")) == 1 && len(testutil.Inbox(t, other, "erin@other.test")) == 1 && queueLen(t, home) == 0
			})
			txt := dkimTXT(t, tc.key.Public())
			for _, got := range [][]byte{testutil.Inbox(t, remote, "dave@remote.test")[0], testutil.Inbox(t, other, "erin@other.test")[0]} {
				if header(got, "DKIM-Signature") == "" {
					t.Fatalf("no DKIM-Signature:\n%s", got)
				}
				verifs, err := verifyDKIM(got, "homenode._domainkey.home.test", txt)
				if err != nil || len(verifs) != 1 || verifs[0].Err != nil || verifs[0].Domain != "home.test" {
					t.Fatalf("DKIM verification: %v %+v", err, verifs)
				}
				// A changed body must not verify: the check above can fail.
				tampered := bytes.Replace(got, []byte("Hello from the queue."), []byte("Hello from mallory.."), 1)
				if verifs, _ := verifyDKIM(tampered, "homenode._domainkey.home.test", txt); len(verifs) != 1 || verifs[0].Err == nil {
					t.Fatal("tampered message verified")
				}
			}
			if rcv := header(testutil.Inbox(t, remote, "dave@remote.test")[0], "Received"); !strings.Contains(rcv, "ESMTPS") || !strings.Contains(rcv, "from mail.home.test") {
				t.Errorf("delivery to the STARTTLS node not over TLS or EHLO name wrong: Received: %s", rcv)
			}
			if rcv := header(testutil.Inbox(t, other, "erin@other.test")[0], "Received"); !strings.Contains(rcv, "with ESMTP ") {
				t.Errorf("Received on the plain node: %s", rcv)
			}
			if n := strings.Count(logs.String(), "msg=delivered"); n != 2 {
				t.Errorf("%d delivered log lines, want 2:\n%s", n, logs.String())
			}
		})
	}
}

func TestRetryTemporaryFailure(t *testing.T) {
	home := newStore(t, "alice@home.test")
	remote, remoteAddr := remoteMX(t, "remote.test", nil, "dave@remote.test")
	flaky, conns := flakyMX(t, remoteAddr)
	q, clk := firstAttempt(t, home, flaky, "retry")
	it := queued(t, home)
	if !strings.Contains(it.LastError, "451 4.3.0") {
		t.Errorf("LastError %q, want the 451 reply", it.LastError)
	}
	if d := it.NextAttempt.Sub(clk.Now()); d < 59*time.Second || d > 61*time.Second {
		t.Errorf("next attempt in %s, want 1 minute", d)
	}
	// Not due yet: a kick does nothing.
	q.Kick()
	time.Sleep(100 * time.Millisecond)
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections before the retry time, want 1", n)
	}
	clk.Add(61 * time.Second)
	q.Kick()
	waitFor(t, "the retry", func() bool { return len(testutil.Inbox(t, remote, "dave@remote.test")) == 1 && queueLen(t, home) == 0 })
	if got := testutil.Inbox(t, home, "alice@home.test"); len(got) != 0 {
		t.Fatalf("a temporary failure bounced: %q", got)
	}
}

// dsnParts reads a bounce: the status part and the returned headers.
func dsnParts(t *testing.T, raw []byte) (status, headers string) {
	t.Helper()
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	ct, params, err := e.Header.ContentType()
	if err != nil || ct != "multipart/report" || params["report-type"] != "delivery-status" {
		t.Fatalf("bounce Content-Type %q %v %v", ct, params, err)
	}
	mr := e.MultipartReader()
	var types []string
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		pt, _, _ := p.Header.ContentType()
		types = append(types, pt)
		b, _ := io.ReadAll(p.Body)
		switch pt {
		case "message/delivery-status":
			status = string(b)
		case "text/rfc822-headers":
			headers = string(b)
		}
	}
	if strings.Join(types, ",") != "text/plain,message/delivery-status,text/rfc822-headers" {
		t.Fatalf("bounce parts %v", types)
	}
	return status, headers
}

func TestPermanentFailureBounces(t *testing.T) {
	home := newStore(t, "alice@home.test")
	remote, remoteAddr := remoteMX(t, "remote.test", nil, "dave@remote.test")
	q := New(home, Options{Hostname: "mail.home.test", StaticMX: map[string]string{"remote.test": remoteAddr}, Logger: slog.New(slog.DiscardHandler)})
	run(t, q)
	msg := msgText("alice@home.test", "dave@remote.test, nobody@remote.test", "perm")
	if _, err := q.Enqueue(context.Background(), "alice@home.test", []string{"dave@remote.test", "nobody@remote.test"}, msg); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery and bounce", func() bool {
		return len(testutil.Inbox(t, remote, "dave@remote.test")) == 1 && len(testutil.Inbox(t, home, "alice@home.test")) == 1 && queueLen(t, home) == 0
	})
	dsn := testutil.Inbox(t, home, "alice@home.test")[0]
	for field, want := range map[string]string{
		"From": "MAILER-DAEMON@mail.home.test", "To": "<alice@home.test>", "Auto-Submitted": "auto-replied", "Return-Path": "<>",
	} {
		if got := header(dsn, field); !strings.Contains(got, want) {
			t.Errorf("bounce %s: %q, want %q", field, got, want)
		}
	}
	status, headers := dsnParts(t, dsn)
	for _, want := range []string{"Reporting-MTA: dns; mail.home.test", "Final-Recipient: rfc822; nobody@remote.test", "Action: failed", "Status: 5.1.1", "Diagnostic-Code: smtp; 550 5.1.1", "Remote-MTA: dns; 127.0.0.1"} {
		if !strings.Contains(status, want) {
			t.Errorf("delivery-status lacks %q:\n%s", want, status)
		}
	}
	if strings.Contains(status, "dave@remote.test") {
		t.Errorf("the delivered recipient is in the bounce:\n%s", status)
	}
	if !strings.Contains(headers, "Message-ID: <perm@home.test>") || strings.Contains(headers, "Hello from the queue") {
		t.Errorf("returned headers:\n%s", headers)
	}
}

func TestNoBounceForNullSender(t *testing.T) {
	home := newStore(t, "alice@home.test")
	_, remoteAddr := remoteMX(t, "remote.test", nil, "dave@remote.test")
	var logs testutil.SyncBuffer
	q := New(home, Options{StaticMX: map[string]string{"remote.test": remoteAddr}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	run(t, q)
	if _, err := q.Enqueue(context.Background(), "", []string{"nobody@remote.test"}, msgText("alice@home.test", "nobody@remote.test", "null")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the item to go", func() bool { return queueLen(t, home) == 0 })
	if got := testutil.Inbox(t, home, "alice@home.test"); len(got) != 0 {
		t.Fatalf("a null-sender message was bounced: %q", got)
	}
	if !strings.Contains(logs.String(), "bounce suppressed") {
		t.Errorf("suppressed bounce not logged:\n%s", logs.String())
	}
}

func TestExpiry(t *testing.T) {
	home := newStore(t, "alice@home.test")
	// A port where nobody listens: every attempt fails temporarily.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	q, clk := firstAttempt(t, home, dead, "expiry")
	if got := testutil.Inbox(t, home, "alice@home.test"); len(got) != 0 {
		t.Fatal("bounced before the 5 days")
	}
	clk.Add(5*24*time.Hour + time.Minute)
	q.Kick()
	waitFor(t, "the expiry bounce", func() bool { return len(testutil.Inbox(t, home, "alice@home.test")) == 1 && queueLen(t, home) == 0 })
	dsn := testutil.Inbox(t, home, "alice@home.test")[0]
	if !bytes.Contains(dsn, []byte("gave up after 5 days")) || !bytes.Contains(dsn, []byte("connect to "+dead)) {
		t.Errorf("expiry bounce does not say why:\n%s", dsn)
	}
	status, _ := dsnParts(t, dsn)
	if !strings.Contains(status, "Final-Recipient: rfc822; dave@remote.test") || !strings.Contains(status, "Status: 4.4.1") {
		t.Errorf("expiry delivery-status:\n%s", status)
	}
}

func TestNextAttempt(t *testing.T) {
	q := New(nil, Options{})
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := created.Add(time.Hour)
	for _, tc := range []struct {
		attempts int
		want     time.Duration
	}{{1, time.Minute}, {2, 2 * time.Minute}, {3, 4 * time.Minute}, {6, 32 * time.Minute}, {7, time.Hour}, {50, time.Hour}, {200, time.Hour}} {
		got := q.nextAttempt(mailstoreItem(created, tc.attempts), now).Sub(now)
		if got != tc.want {
			t.Errorf("after %d attempts: wait %s, want %s", tc.attempts, got, tc.want)
		}
	}
	// Never past the expiry.
	late := created.Add(DefaultMaxAge - 10*time.Minute)
	if got := q.nextAttempt(mailstoreItem(created, 20), late); !got.Equal(created.Add(DefaultMaxAge)) {
		t.Errorf("next attempt near expiry = %s, want the expiry %s", got, created.Add(DefaultMaxAge))
	}
}
