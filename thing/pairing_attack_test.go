package thing_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/thingpost/thingpost/keystore"
	"github.com/thingpost/thingpost/securejoin"
)

// claim is the address-claim attack of issue 15: mallory runs the first
// Securejoin step of a guest invite from his own mailbox, then sends the
// final step through the node's MX with From: victim and a fresh key for
// the victim's address. extra goes in front of the final step's header.
func claim(t *testing.T, h *home, mallory *person, url, victim string, extra string) {
	t.Helper()
	ctx := context.Background()
	inv, err := securejoin.ParseInvite(url)
	if err != nil {
		t.Fatal(err)
	}
	own := securejoin.NewJoiner(mallory.id, inv, nil)
	out, err := own.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mallory.send(out.Raw, out.To)
	pubkey := mallory.next("vc-pubkey")

	forged, err := keystore.New(victim, "")
	if err != nil {
		t.Fatal(err)
	}
	j := securejoin.NewJoiner(forged, inv, nil)
	if _, err := j.Start(ctx); err != nil {
		t.Fatal(err)
	}
	step3, err := j.Handle(ctx, pubkey)
	if err != nil || step3 == nil {
		t.Fatalf("forged vc-request-with-auth: %v", err)
	}
	inject(t, h, append([]byte(extra), step3.Raw...), step3.To)
}

// TestPairingAddressClaim: a guest invite does not let its holder bind an
// address he has not shown he sends from. The thing lists no guest for the
// claimed address, obeys nothing "from" it, and the real owner of the
// address pairs normally afterwards, through her own mailbox.
func TestPairingAddressClaim(t *testing.T) {
	t.Parallel()
	h := startHome(t, "light")
	rec := h.recordLogs("light")
	owner := newPerson(t, h, "alice")
	inv, _ := h.agent.FactoryInvite()
	owner.pair(inv.URL())
	if _, r := owner.do("on"); !r.OK {
		t.Fatalf("on: %+v", r)
	}
	mallory := newPerson(t, h, "mallory")
	carolAcct, err := h.node.AddAccount(h.ctx, "carol")
	if err != nil {
		t.Fatal(err)
	}
	daveAcct, err := h.node.AddAccount(h.ctx, "dave")
	if err != nil {
		t.Fatal(err)
	}
	hostname := h.node.Domain

	cases := []struct {
		name, victim, extra string
	}{
		{"plain", carolAcct.Address, ""},
		// A result in the node's name, forged by the sender: the MX strips it.
		{"forged Authentication-Results", daveAcct.Address,
			"Authentication-Results: " + hostname + "; auth=pass smtp.auth=" + daveAcct.Address + "\r\n" +
				"Authentication-Results: " + strings.ToUpper(hostname) + ";\r\n dkim=pass header.d=" + h.node.Domain + "\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, r := owner.do("invite guest 2h")
			if !r.OK || r.Invite == nil {
				t.Fatalf("invite: %+v", r)
			}
			claim(t, h, mallory, r.Invite.URL, tc.victim, tc.extra)
			deadline := time.Now().Add(10 * time.Second)
			for time.Now().Before(deadline) {
				people, err := h.agent.Store().People()
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range people {
					if p.Addr == tc.victim {
						t.Fatalf("the thing lists %s as %s after a forged join", p.Addr, p.Role)
					}
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
	_ = rec
}

// TestPairingOwnAddress: a joiner cannot bind the thing's own address to
// his key.
func TestPairingOwnAddress(t *testing.T) {
	t.Parallel()
	h := startHome(t, "light")
	owner := newPerson(t, h, "alice")
	inv, _ := h.agent.FactoryInvite()
	owner.pair(inv.URL())
	mallory := newPerson(t, h, "mallory")
	_, r := owner.do("invite guest 2h")
	claim(t, h, mallory, r.Invite.URL, h.acct.Address, "")
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		people, err := h.agent.Store().People()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range people {
			if p.Addr == h.acct.Address {
				t.Fatalf("the thing lists its own address as %s", p.Role)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
}
