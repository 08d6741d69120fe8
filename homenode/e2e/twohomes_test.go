package e2e

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/thingpost/thingpost/homenode"
)

// dkimLookup answers DKIM key queries from the homes' own records, as DNS
// would after the operator published what init printed.
func dkimLookup(t *testing.T, homes ...*home) func(string) ([]string, error) {
	recs := map[string]string{}
	for _, h := range homes {
		key, err := homenode.LoadDKIMKey(h.Cfg.Path(h.Cfg.DKIM.Key))
		if err != nil {
			t.Fatal(err)
		}
		rr, err := homenode.DKIMRecords(key, h.Cfg.DKIM.Selector, h.Cfg.DomainNames())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rr {
			recs[strings.TrimSuffix(r.Name, ".")] = r.Value
		}
	}
	return func(name string) ([]string, error) {
		if v, ok := recs[name]; ok {
			return []string{v}, nil
		}
		return nil, fmt.Errorf("no TXT record %s", name)
	}
}

// TestTwoHomes: two nodes on loopback with two domains and a static MX map
// pointing at each other. A user of each home sends to a user of the other;
// the mail arrives in the other INBOX, DKIM-signed by the sender's domain with
// a signature that verifies against the published key.
func TestTwoHomes(t *testing.T) {
	a, b := newHomePair(t, "home-a.test", "home-b.test")
	alice := a.addUser("alice")
	bob := b.addUser("bob")
	a.start()
	b.start()
	lookup := dkimLookup(t, a, b)

	for _, dir := range []struct {
		from, to *home
		sender   string
		rcpt     string
		token    string
	}{
		{a, b, alice, bob, "a-to-b"},
		{b, a, bob, alice, "b-to-a"},
	} {
		t.Run(dir.token, func(t *testing.T) {
			start := time.Now()
			if err := submit(dir.from.addr("plain_submission"), dir.sender, dir.from.Pass[dir.sender], []string{dir.rcpt}, message(dir.sender, dir.rcpt, dir.token)); err != nil {
				t.Fatalf("submit: %v", err)
			}
			msgs := waitInbox(t, dir.to.addr("plain_imap"), dir.rcpt, dir.to.Pass[dir.rcpt], 30*time.Second,
				func(m [][]byte) bool { return containsToken(m, dir.token) == 1 })
			t.Logf("%s: submit -> in the other home's INBOX in %s", dir.token, time.Since(start).Round(time.Millisecond))
			var raw []byte
			for _, m := range msgs {
				if containsToken([][]byte{m}, dir.token) == 1 {
					raw = m
				}
			}
			verifs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{LookupTXT: lookup})
			if err != nil {
				t.Fatalf("DKIM verify: %v\n%s", err, raw)
			}
			senderDomain := dir.from.Domain
			ok := false
			for _, v := range verifs {
				if v.Err == nil && v.Domain == senderDomain {
					ok = true
				}
				t.Logf("DKIM signature d=%s err=%v", v.Domain, v.Err)
			}
			if !ok {
				t.Errorf("no valid DKIM signature by %s in:\n%s", senderDomain, raw)
			}
			// A changed body must not verify: the signature covers it.
			tampered := bytes.Replace(raw, []byte("body token "+dir.token), []byte("body token forged"), 1)
			verifs, _ = dkim.VerifyWithOptions(bytes.NewReader(tampered), &dkim.VerifyOptions{LookupTXT: lookup})
			for _, v := range verifs {
				if v.Err == nil {
					t.Errorf("tampered message still verifies for d=%s", v.Domain)
				}
			}
		})
	}

	// The queue is empty again on both sides. The sender removes its entry
	// after the other MX said 250, which may be after the recipient's IMAP
	// already shows the message: wait for it.
	for _, h := range []*home{a, b} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			st, err := h.Node.Status(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if st.QueueLength == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s: queue length %d 10 s after delivery", h.Domain, st.QueueLength)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
