package thing_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/thingpost/thingpost/envelope"
	"github.com/thingpost/thingpost/keystore"
	"github.com/thingpost/thingpost/securejoin"
	"github.com/thingpost/thingpost/thing"
	"github.com/thingpost/thingpost/wire"
)

// claim is the address-claim attack of issue 15: mallory runs the first
// Securejoin step of a guest invite from his own mailbox, then hands the
// final step, with From: victim and a fresh key for the victim's address,
// to deliver (inject or injectMX). extra goes in front of its header.
func claim(t *testing.T, h *home, mallory *person, url, victim, extra string, deliver func(testing.TB, *home, []byte, string)) {
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
	deliver(t, h, append([]byte(extra), step3.Raw...), step3.To)
}

// noPerson fails when the thing lists addr among its people.
func noPerson(t testing.TB, h *home, addr string) {
	t.Helper()
	people, err := h.agent.Store().People()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range people {
		if p.Addr == addr {
			t.Fatalf("the thing lists %s as %s after a forged join", p.Addr, p.Role)
		}
	}
}

// mailIn returns the messages in one of the thing's folders on the node.
func mailIn(t testing.TB, h *home, folder string) [][]byte {
	t.Helper()
	st := h.node.Node().Store()
	boxes, err := st.Mailboxes(h.ctx, h.acct.Address)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, b := range boxes {
		if b.Name != folder {
			continue
		}
		msgs, err := st.Messages(h.ctx, h.acct.Address, b.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			raw, err := st.MessageRaw(h.ctx, h.acct.Address, b.ID, m.UID)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, raw)
		}
	}
	return out
}

// ownedLight runs a light that alice owns; its log goes to the recorder.
func ownedLight(t *testing.T, configure func(*home)) (*home, *recorder, *person) {
	t.Helper()
	h := startHome(t, "light")
	if configure != nil {
		configure(h) // recordLogs restarts the thing with it
	}
	rec := h.recordLogs("light")
	owner := newPerson(t, h, "alice")
	inv, _ := h.agent.FactoryInvite()
	owner.pair(inv.URL())
	if owner.role != wire.RoleOwner {
		t.Fatalf("the factory code made alice %q", owner.role)
	}
	return h, rec, owner
}

// userList is "role addr" (with " pending") for each entry of users.
func userList(users []wire.User) string {
	var s []string
	for _, u := range users {
		e := string(u.Role) + " " + u.Addr
		if u.Pending {
			e += " pending"
		}
		s = append(s, e)
	}
	return strings.Join(s, ", ")
}

// TestPairingAddressClaim: a guest invite does not let its holder bind an
// address he has not shown he sends from. The thing lists no guest for the
// claimed address, obeys nothing "from" it, asks the owner instead, and the
// real owner of the address pairs at once afterwards, through her own
// mailbox (authenticated submission).
func TestPairingAddressClaim(t *testing.T) {
	t.Parallel()
	h, rec, owner := ownedLight(t, nil)
	if _, r := owner.do("on"); !r.OK {
		t.Fatalf("on: %+v", r)
	}
	mallory := newPerson(t, h, "mallory")
	carolAcct, err := h.node.AddAccount(h.ctx, "carol")
	if err != nil {
		t.Fatal(err)
	}
	// dave is at another domain: the node's MX refuses mail from outside
	// that claims one of its own addresses, such as carol's.
	dave := "dave@far.test"
	hostname := h.node.Hostname()

	cases := []struct {
		name, victim, extra string
		deliver             func(testing.TB, *home, []byte, string)
	}{
		{"plain", carolAcct.Address, "", inject},
		// Results forged in the node's name: the MX removes them.
		{"forged Authentication-Results", dave,
			"Authentication-Results: " + hostname + "; auth=pass smtp.auth=" + dave + "\r\n" +
				"Authentication-Results: " + strings.ToUpper(hostname) + ";\r\n dkim=pass header.d=far.test\r\n",
			injectMX},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, r := owner.do("invite guest 2h")
			if !r.OK || r.Invite == nil {
				t.Fatalf("invite: %+v", r)
			}
			claim(t, h, mallory, r.Invite.URL, tc.victim, tc.extra, tc.deliver)
			// The owner is asked; the claimed address gets no rights.
			ev := owner.event(thing.EventJoinRequest)
			if addr, _ := ev.Values["addr"].AsString(); addr != tc.victim || !strings.Contains(ev.Text, "confirm "+tc.victim) {
				t.Fatalf("join-request %+v, want one for %s", ev, tc.victim)
			}
			rec.waitLog(t, "pairing waits for the owner", tc.victim)
			noPerson(t, h, tc.victim)
			if _, r := owner.do("users"); !strings.HasSuffix(userList(r.Users), "guest "+tc.victim+" pending") {
				t.Fatalf("users after a forged join: %s", userList(r.Users))
			}
		})
	}
	// The thing's copy of the forged step carries the node's own result only.
	for _, raw := range mailIn(t, h, thing.DefaultProcessed) {
		if bytes.Contains(raw, []byte("smtp.auth="+dave)) || bytes.Contains(bytes.ToLower(raw), []byte("dkim=pass")) {
			t.Fatalf("a forged Authentication-Results reached the thing:\n%.600s", raw)
		}
	}

	// The real carol pairs through her own mailbox and gets her rights at once;
	// mallory's claim to her address is gone.
	carol := newPersonAt(t, h.ctx, carolAcct, "carol")
	// The forged join's confirm and note went to her address, sealed to
	// mallory's key for it.
	for _, what := range []string{"forged vc-contact-confirm", "forged welcome"} {
		if _, err := envelope.Open(h.ctx, carol.next(what), envelope.OpenOptions{Self: carol.id, Trusted: func(string) []*keystore.PublicKey { return nil }}); !errors.Is(err, envelope.ErrDecrypt) {
			t.Fatalf("%s: %v", what, err)
		}
	}
	_, r := owner.do("invite guest 2h")
	carol.pair(r.Invite.URL)
	if carol.role != wire.RoleGuest {
		t.Fatalf("carol is %q", carol.role)
	}
	if _, r := carol.do("off"); !r.OK || power(t, h.agent) {
		t.Fatalf("the real carol's command: %+v", r)
	}
	want := "guest " + carolAcct.Address + ", owner " + owner.id.Addr() + ", guest " + dave + " pending"
	if _, r := owner.do("users"); userList(r.Users) != want {
		t.Fatalf("users %q, want %q", userList(r.Users), want)
	}
	mallory.expectNothing(time.Second)
}

// TestPairingOwnAddress: a joiner cannot bind the thing's own address, nor
// the paired owner's, to his key, and nobody is asked about it.
func TestPairingOwnAddress(t *testing.T) {
	t.Parallel()
	h, rec, owner := ownedLight(t, nil)
	mallory := newPerson(t, h, "mallory")
	_, r := owner.do("invite guest 2h")
	claim(t, h, mallory, r.Invite.URL, h.acct.Address, "", inject)
	rec.waitLog(t, "quarantined", "securejoin refused", "own address")
	noPerson(t, h, h.acct.Address)
	// The owner's address with a new key, while the owner is paired: the
	// step does not even authenticate (the address has a key already).
	_, r = owner.do("invite guest 2h")
	claim(t, h, mallory, r.Invite.URL, owner.id.Addr(), "", inject)
	rec.waitLog(t, "quarantined", "cannot be authenticated", owner.id.Addr())
	if _, r := owner.do("users"); userList(r.Users) != "owner "+owner.id.Addr() || r.Users[0].Fingerprint != owner.id.Fingerprint().String() {
		t.Fatalf("users: %s", userList(r.Users))
	}
	owner.expectNothing(time.Second)
}

// TestPairingOwnerConfirms: on a mail server whose results the thing does
// not trust, a joiner through an invite waits without rights until the
// owner confirms him; one the owner refuses gets nothing.
func TestPairingOwnerConfirms(t *testing.T) {
	t.Parallel()
	h, rec, owner := ownedLight(t, func(h *home) { h.authservID = "" })

	var joiners []*person
	for _, local := range []string{"bob", "carol"} {
		_, r := owner.do("invite guest 2h")
		p := newPerson(t, h, local)
		p.pair(r.Invite.URL)
		if ev := owner.event(thing.EventJoinRequest); !strings.Contains(ev.Text, p.id.Addr()) {
			t.Fatalf("join-request %+v", ev)
		}
		joiners = append(joiners, p)
	}
	bob, carol := joiners[0], joiners[1]
	// Waiting: a command is quarantined as from an unknown signer.
	for _, p := range joiners {
		before := quarantined(t, h)
		s := p.command("on", false)
		p.send(s.Raw, p.thing.Addr())
		waitQuarantined(t, h, before+1)
		rec.waitLog(t, "quarantined", "unknown signer")
	}
	if power(t, h.agent) {
		t.Fatal("a waiting joiner switched the light on")
	}

	_, r := owner.do("confirm " + bob.id.Addr())
	if !r.OK || len(r.Users) != 1 || r.Users[0].Pending || r.Users[0].Expires.IsZero() {
		t.Fatalf("confirm: %+v", r)
	}
	w := bob.open(bob.next("welcome after confirm"))
	if !strings.Contains(w.Text, "You are my guest") {
		t.Fatalf("welcome %q", w.Text)
	}
	if _, r := bob.do("on"); !r.OK || !power(t, h.agent) {
		t.Fatalf("confirmed guest: %+v", r)
	}
	if _, r := owner.do("revoke " + carol.id.Addr()); !r.OK {
		t.Fatalf("refuse: %+v", r)
	}
	before := quarantined(t, h)
	s := carol.command("off", false)
	carol.send(s.Raw, carol.thing.Addr())
	waitQuarantined(t, h, before+1)
	if !power(t, h.agent) {
		t.Fatal("a refused joiner switched the light off")
	}
	if _, r := owner.do("confirm " + carol.id.Addr()); r.OK || r.Code != wire.CodeBadValue {
		t.Fatalf("confirm after refusing: %+v", r)
	}
	carol.expectNothing(time.Second)
	_, r = owner.do("users")
	if got := userList(r.Users); got != "guest "+bob.id.Addr()+", owner "+owner.id.Addr() || !slices.ContainsFunc(r.Users, func(u wire.User) bool { return !u.Expires.IsZero() }) {
		t.Fatalf("users: %s", got)
	}
}
