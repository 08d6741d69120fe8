package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"

	"github.com/thingpost/thingpost/homenode"
	"github.com/thingpost/thingpost/internal/testutil"
)

// quotaHome is a started node whose accounts may keep quotaBytes of mail.
func quotaHome(t *testing.T, domain string) *home {
	t.Helper()
	h := newHome(t, domain, func(c *homenode.Config) {
		c.Quota.Bytes = quotaBytes
	})
	h.start()
	return h
}

const quotaBytes = 256 << 10

// filler is a message of about size bytes carrying token.
func filler(from, to, token string, size int) []byte {
	m := message(from, to, token)
	return append(m, bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n"), size/65)...)
}

// mxSend sends one message through the MX without login and returns the
// first error (nil after 250).
func mxSend(addr, from string, to []string, raw []byte, size bool) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	var opts *smtp.MailOptions
	if size {
		opts = &smtp.MailOptions{Size: int64(len(raw))}
	}
	if err := c.Mail(from, opts); err != nil {
		return err
	}
	var rcptErr error
	accepted := 0
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			rcptErr = err
			continue
		}
		accepted++
	}
	if accepted == 0 {
		return rcptErr
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(raw); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := c.Quit(); err != nil {
		return err
	}
	return rcptErr
}

func smtpCode(err error) string {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return fmt.Sprintf("%d %d.%d.%d", se.Code, se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
	}
	return ""
}

// TestAttackQuotaFlood is issue 15 items 4 and 11: an unauthenticated flood
// through the MX filled the disk. Now it stops at the account's quota with
// 452 4.2.2, every message that got 250 is in the mailbox, and another
// recipient of the same message still gets it.
func TestAttackQuotaFlood(t *testing.T) {
	h := quotaHome(t, "flood.test")
	alice, bob := h.addUser("alice"), h.addUser("bob")
	mx, imapAddr := h.addr("smtp"), h.addr("plain_imap")

	var mu sync.Mutex
	var accepted []string
	refused := map[string]int{}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				token := fmt.Sprintf("flood-%d-%d", g, i)
				err := mxSend(mx, "flooder@evil.test", []string{alice}, filler("flooder@evil.test", alice, token, 20<<10), i%2 == 0)
				mu.Lock()
				if err == nil {
					accepted = append(accepted, token)
				} else {
					refused[smtpCode(err)]++
					if smtpCode(err) == "" {
						t.Errorf("%s: %v", token, err)
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	t.Logf("flood of 40 x 20 KiB at a %d KiB quota: %d accepted, refused %v", quotaBytes>>10, len(accepted), refused)
	if refused["452 4.2.2"] == 0 || len(refused) != 1 {
		t.Fatalf("flood of 40 x 20 KiB at a %d KiB quota: refused %v, want only 452 4.2.2", quotaBytes>>10, refused)
	}
	msgs, err := inbox(imapAddr, alice, h.Pass[alice])
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, m := range msgs {
		total += len(m)
	}
	if total > quotaBytes || len(msgs) != len(accepted) {
		t.Errorf("INBOX holds %d messages, %d bytes; %d were accepted, quota %d", len(msgs), total, len(accepted), quotaBytes)
	}
	for _, token := range accepted {
		if containsToken(msgs, token) != 1 {
			t.Errorf("message %s got 250 but is not in the INBOX", token)
		}
	}

	// One more such message to the full alice and to bob: alice is refused
	// at RCPT, bob gets it.
	err = mxSend(mx, "friend@else.test", []string{alice, bob}, filler("friend@else.test", bob, "both", 20<<10), true)
	if smtpCode(err) != "452 4.2.2" {
		t.Errorf("RCPT of the full account next to another: %v, want 452 4.2.2", err)
	}
	if msgs, err := inbox(imapAddr, bob, h.Pass[bob]); err != nil || containsToken(msgs, "both") != 1 {
		t.Errorf("bob's copy of the message that alice could not take: %d, %v", containsToken(msgs, "both"), err)
	}
	// A message larger than the whole quota can never fit: 552 5.2.2.
	big := filler("friend@else.test", bob, "big", quotaBytes+1024)
	for _, withSize := range []bool{true, false} {
		if err := mxSend(mx, "friend@else.test", []string{bob}, big, withSize); smtpCode(err) != "552 5.2.2" {
			t.Errorf("message over the whole quota (SIZE announced: %v): %v, want 552 5.2.2", withSize, err)
		}
	}
}

// imapLogin logs in to the node's plain IMAP listener.
func imapLogin(t *testing.T, h *home, user string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(h.addr("plain_imap"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(user, h.Pass[user]).Wait(); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestAttackAppendOverQuota is issue 15 items 4 and 11 over IMAP: APPEND
// and COPY past the quota get NO [OVERQUOTA] (RFC 9208), and expunging
// frees the quota again for IMAP and for the MX.
func TestAttackAppendOverQuota(t *testing.T) {
	h := quotaHome(t, "append.test")
	alice := h.addUser("alice")
	c := imapLogin(t, h, alice)
	if err := c.Create("Archive", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	n := 0
	var err error
	for n = 0; n < 40; n++ {
		if err = testutil.IMAPAppend(c, "INBOX", filler(alice, alice, fmt.Sprintf("a%d", n), 20<<10)); err != nil {
			break
		}
	}
	if testutil.IMAPCode(err) != imap.ResponseCodeOverQuota {
		t.Fatalf("40 APPENDs of 20 KiB at a %d KiB quota: %d stored, then %v; want NO [OVERQUOTA]", quotaBytes>>10, n, err)
	}
	if n < 10 {
		t.Fatalf("only %d APPENDs of 20 KiB fit a %d KiB quota", n, quotaBytes>>10)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	var all imap.SeqSet
	all.AddRange(1, 0)
	if _, err := c.Copy(all, "Archive").Wait(); testutil.IMAPCode(err) != imap.ResponseCodeOverQuota {
		t.Errorf("COPY of the whole INBOX over quota: %v, want NO [OVERQUOTA]", err)
	}
	// MOVE takes no more room: it works at the limit.
	var first imap.SeqSet
	first.AddNum(1)
	if _, err := c.Move(first, "Archive").Wait(); err != nil {
		t.Errorf("MOVE at the limit: %v", err)
	}
	mx := h.addr("smtp")
	if err := mxSend(mx, "x@else.test", []string{alice}, filler("x@else.test", alice, "before-expunge", 20<<10), false); smtpCode(err) != "452 4.2.2" {
		t.Errorf("MX delivery to the full account: %v, want 452 4.2.2", err)
	}

	// Expunge frees the quota.
	if err := c.Store(all, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	if err := testutil.IMAPAppend(c, "INBOX", filler(alice, alice, "after-expunge", 20<<10)); err != nil {
		t.Errorf("APPEND after EXPUNGE: %v", err)
	}
	if err := mxSend(mx, "x@else.test", []string{alice}, filler("x@else.test", alice, "mx-after-expunge", 20<<10), true); err != nil {
		t.Errorf("MX delivery after EXPUNGE: %v", err)
	}
}
