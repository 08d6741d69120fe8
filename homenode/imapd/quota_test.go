package imapd

import (
	"errors"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/thingpost/thingpost/homenode/mailstore"
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
	if err := appendRaw(c, "INBOX", msg); err != nil {
		t.Fatal(err)
	}
	if err := appendRaw(c, "INBOX", msg); responseCode(err) != imap.ResponseCodeOverQuota {
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
	if _, err := c.Copy(all, "Keep").Wait(); responseCode(err) != imap.ResponseCodeOverQuota {
		t.Errorf("COPY over quota: %v, want NO [OVERQUOTA]", err)
	}
	if err := appendRaw(e.login(bob, nil), "INBOX", msg); responseCode(err) != imap.ResponseCodeTooBig {
		t.Errorf("APPEND over bob's message size: %v, want NO [TOOBIG]", err)
	}
}

func appendRaw(c *imapclient.Client, mailbox string, raw []byte) error {
	cmd := c.Append(mailbox, int64(len(raw)), nil)
	if _, err := cmd.Write(raw); err != nil {
		return err
	}
	if err := cmd.Close(); err != nil {
		return err
	}
	_, err := cmd.Wait()
	return err
}

func responseCode(err error) imap.ResponseCode {
	var ie *imap.Error
	if errors.As(err, &ie) {
		return ie.Code
	}
	return ""
}
