package imapd

import (
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/thingpost/thingpost/homenode/mailstore"
	"github.com/thingpost/thingpost/homenode/spool"
	"github.com/thingpost/thingpost/internal/testutil"
)

// TestQuotaResponses: APPEND and COPY that do not fit get NO [OVERQUOTA];
// a message over the account's size limit NO [TOOBIG].
func TestQuotaResponses(t *testing.T) {
	e := newEnv(t, Options{AllowInsecureAuth: true})
	e.store.SetLimits(mailstore.Limits{
		Default:  mailstore.Quota{Bytes: 1000},
		Accounts: map[string]mailstore.Quota{bob: {Bytes: 1 << 20, MaxMessageSize: 100}},
	})
	c := e.login(alice, nil)
	msg := []byte("Subject: x\r\n\r\n" + strings.Repeat("x", 586) + "\r\n")
	if err := testutil.IMAPAppend(c, "INBOX", msg); err != nil {
		t.Fatal(err)
	}
	if err := testutil.IMAPAppend(c, "INBOX", msg); testutil.IMAPCode(err) != imap.ResponseCodeOverQuota {
		t.Errorf("APPEND over quota: %v, want NO [OVERQUOTA]", err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Create("Keep", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	var all imap.SeqSet
	all.AddRange(1, 0)
	if _, err := c.Copy(all, "Keep").Wait(); testutil.IMAPCode(err) != imap.ResponseCodeOverQuota {
		t.Errorf("COPY over quota: %v, want NO [OVERQUOTA]", err)
	}
	if err := testutil.IMAPAppend(e.login(bob, nil), "INBOX", msg); testutil.IMAPCode(err) != imap.ResponseCodeTooBig {
		t.Errorf("APPEND over bob's message size: %v, want NO [TOOBIG]", err)
	}
}

// TestAppendOverQuotaTakesNoSpool: an APPEND that cannot fit the account is
// refused before its literal takes spool room, so it says OVERQUOTA even
// when the spool could not hold it either, and leaves the spool empty.
func TestAppendOverQuotaTakesNoSpool(t *testing.T) {
	sp := newSpool(t, spool.Limits{Disk: 64 << 10, Memory: 1 << 20})
	e := newEnv(t, Options{AllowInsecureAuth: true, Spool: sp})
	e.store.SetLimits(mailstore.Limits{Default: mailstore.Quota{Bytes: 100 << 10}})
	c := e.login(alice, nil)
	msg := []byte("Subject: x\r\n\r\n" + strings.Repeat("x", 200<<10) + "\r\n")
	if err := testutil.IMAPAppend(c, "INBOX", msg); testutil.IMAPCode(err) != imap.ResponseCodeOverQuota {
		t.Fatalf("APPEND over quota and over the spool: %v, want NO [OVERQUOTA]", err)
	}
	if n := sp.OnDisk(); n != 0 {
		t.Errorf("the refused literal holds %d bytes of spool", n)
	}
	small := []byte("Subject: y\r\n\r\nhi\r\n")
	if err := testutil.IMAPAppend(c, "INBOX", small); err != nil {
		t.Fatalf("a message that fits: %v", err)
	}
}
