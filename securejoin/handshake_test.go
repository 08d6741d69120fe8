package securejoin

import (
	"context"
	"errors"
	"testing"

	"github.com/thingpost/thingpost/envelope"
	"github.com/thingpost/thingpost/keystore"
)

func newIdentity(t testing.TB, addr string) *keystore.Identity {
	t.Helper()
	id, err := keystore.New(addr, "")
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// inviterFixture is a thing (Alice) with one open invite.
type inviterFixture struct {
	alice  *keystore.Identity
	inv    *Inviter
	token  Token
	invite *Invite
}

func newInviter(t testing.TB, v3 bool) *inviterFixture {
	alice := newIdentity(t, "lamp@home.example")
	tok := Token{InviteNumber: NewToken(), Auth: NewToken()}
	f := &inviterFixture{alice: alice, token: tok}
	f.inv = &Inviter{Self: alice, Tokens: func() ([]Token, error) { return []Token{{NewToken(), NewToken()}, tok}, nil }}
	f.invite = &Invite{Fingerprint: alice.Fingerprint(), Addr: alice.Addr(), Name: "Lamp", InviteNumber: tok.InviteNumber, Auth: tok.Auth, V3: v3}
	return f
}

// openAtAlice is what the thing's gate does with an asymmetric message from a
// key it does not know yet.
func openAtAlice(t testing.TB, f *inviterFixture, raw []byte) *envelope.Message {
	t.Helper()
	m, err := envelope.Open(context.Background(), raw, envelope.OpenOptions{Self: f.alice, AcceptAutocryptSigner: true})
	if err != nil {
		t.Fatalf("alice opens: %v", err)
	}
	return m
}

func TestHandshake(t *testing.T) {
	for _, v3 := range []bool{true, false} {
		name := map[bool]string{true: "v3", false: "legacy"}[v3]
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			f := newInviter(t, v3)
			bob := newIdentity(t, "bob@people.example")
			// Through the code's text, as a scanner would get it.
			inv, err := ParseInvite(f.invite.URL())
			if err != nil {
				t.Fatal(err)
			}
			j := NewJoiner(bob, inv, nil)
			first, err := j.Start(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if first.To != f.alice.Addr() {
				t.Fatalf("first message to %s", first.To)
			}
			var second *Outgoing
			if v3 {
				second, err = f.inv.HandleRequestPubkey(ctx, first.Raw)
			} else {
				second, err = f.inv.HandleRequest(ctx, first.Raw)
			}
			if err != nil {
				t.Fatalf("alice step 1: %v", err)
			}
			third, err := j.Handle(ctx, second.Raw)
			if err != nil {
				t.Fatalf("bob step 2: %v", err)
			}
			if j.Peer() == nil || j.Peer().Fingerprint() != f.alice.Fingerprint() {
				t.Fatal("bob has not got alice's key")
			}
			joined, confirm, err := f.inv.HandleRequestWithAuth(ctx, openAtAlice(t, f, third.Raw))
			if err != nil {
				t.Fatalf("alice step 3: %v", err)
			}
			if joined.Key.Fingerprint() != bob.Fingerprint() || joined.Token != f.token {
				t.Fatalf("joined %v with token %v", joined.Key.Fingerprint(), joined.Token)
			}
			last, err := j.Handle(ctx, confirm.Raw)
			if err != nil || last != nil || !j.Done() {
				t.Fatalf("bob step 4: %v, %v, done %v", last, err, j.Done())
			}
			if _, err := j.Handle(ctx, confirm.Raw); !errors.Is(err, ErrState) {
				t.Fatalf("handle after done: %v", err)
			}
		})
	}
}

func TestHandshakeRefusals(t *testing.T) {
	ctx := context.Background()
	bob := newIdentity(t, "bob@people.example")
	mallory := newIdentity(t, "lamp@home.example") // same address, other key

	t.Run("v3 wrong auth token", func(t *testing.T) {
		f := newInviter(t, true)
		inv := *f.invite
		inv.Auth = NewToken()
		first, err := NewJoiner(bob, &inv, nil).Start(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.inv.HandleRequestPubkey(ctx, first.Raw); !errors.Is(err, envelope.ErrDecrypt) {
			t.Fatalf("got %v, want ErrDecrypt", err)
		}
	})
	t.Run("legacy wrong invite number", func(t *testing.T) {
		f := newInviter(t, false)
		inv := *f.invite
		inv.InviteNumber = NewToken()
		first, _ := NewJoiner(bob, &inv, nil).Start(ctx)
		if _, err := f.inv.HandleRequest(ctx, first.Raw); !errors.Is(err, ErrBadToken) {
			t.Fatalf("got %v, want ErrBadToken", err)
		}
	})
	for _, v3 := range []bool{true, false} {
		t.Run(map[bool]string{true: "v3", false: "legacy"}[v3]+" impostor inviter", func(t *testing.T) {
			// Mallory answers in place of the lamp; the code's fingerprint
			// is the lamp's, so Bob must refuse her key.
			f := newInviter(t, v3)
			j := NewJoiner(bob, f.invite, nil)
			first, _ := j.Start(ctx)
			evil := &Inviter{Self: mallory, Tokens: f.inv.Tokens}
			var second *Outgoing
			var err error
			if v3 {
				// Mallory cannot decrypt (the secret names the lamp's
				// fingerprint), so she forges vc-pubkey with the auth she saw.
				d := &envelope.Draft{From: mallory, ToAddrs: []string{bob.Addr()}, Text: "Secure-Join",
					Headers: []envelope.Field{{Name: HeaderStep, Value: StepPubkey}, {Name: HeaderAuth, Value: f.invite.Auth}}}
				s, serr := envelope.SealSymmetric(ctx, d, sharedSecret(f.alice.Fingerprint(), f.invite.Auth), true)
				if serr != nil {
					t.Fatal(serr)
				}
				second = &Outgoing{Raw: s.Raw}
			} else {
				second, err = evil.HandleRequest(ctx, first.Raw)
				if err != nil {
					t.Fatal(err)
				}
			}
			if _, err = j.Handle(ctx, second.Raw); err == nil {
				t.Fatal("bob accepted an impostor's key")
			}
			if j.Peer() != nil {
				t.Fatal("impostor key recorded")
			}
		})
	}
	t.Run("request-with-auth with a wrong token", func(t *testing.T) {
		f := newInviter(t, false)
		j := NewJoiner(bob, f.invite, nil)
		first, _ := j.Start(ctx)
		second, _ := f.inv.HandleRequest(ctx, first.Raw)
		third, err := j.Handle(ctx, second.Raw)
		if err != nil {
			t.Fatal(err)
		}
		f.inv.Tokens = func() ([]Token, error) { return []Token{{NewToken(), NewToken()}}, nil } // invite used up meanwhile
		if _, _, err := f.inv.HandleRequestWithAuth(ctx, openAtAlice(t, f, third.Raw)); !errors.Is(err, ErrBadToken) {
			t.Fatalf("got %v, want ErrBadToken", err)
		}
	})
	t.Run("request-with-auth naming another fingerprint", func(t *testing.T) {
		f := newInviter(t, false)
		other := newIdentity(t, "bob@people.example")
		out, err := sealStep(ctx, bob, f.inv.now(), StepRequestWithAuth, f.alice.Public(), []envelope.Field{
			{Name: HeaderAuth, Value: f.token.Auth}, {Name: HeaderFingerprint, Value: other.Fingerprint().String()}})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.inv.HandleRequestWithAuth(ctx, openAtAlice(t, f, out.Raw)); !errors.Is(err, ErrWrongKey) {
			t.Fatalf("got %v, want ErrWrongKey", err)
		}
	})
	t.Run("request-with-auth binding our own address", func(t *testing.T) {
		f := newInviter(t, true)
		mallory := newIdentity(t, "Lamp@home.example")
		j := NewJoiner(mallory, f.invite, nil)
		first, _ := j.Start(ctx)
		second, err := f.inv.HandleRequestPubkey(ctx, first.Raw)
		if err != nil {
			t.Fatal(err)
		}
		third, err := j.Handle(ctx, second.Raw)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.inv.HandleRequestWithAuth(ctx, openAtAlice(t, f, third.Raw)); !errors.Is(err, ErrWrongKey) {
			t.Fatalf("got %v, want ErrWrongKey", err)
		}
	})
	t.Run("request-with-auth without self-gossip", func(t *testing.T) {
		f := newInviter(t, false)
		d := &envelope.Draft{From: bob, To: []*keystore.PublicKey{f.alice.Public()}, Text: "Secure-Join: " + StepRequestWithAuth,
			Headers: []envelope.Field{{Name: HeaderStep, Value: StepRequestWithAuth}, {Name: HeaderAuth, Value: f.token.Auth},
				{Name: HeaderFingerprint, Value: bob.Fingerprint().String()}}}
		s, err := envelope.Seal(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.inv.HandleRequestWithAuth(ctx, openAtAlice(t, f, s.Raw)); !errors.Is(err, ErrWrongKey) {
			t.Fatalf("got %v, want ErrWrongKey", err)
		}
	})
	t.Run("step mix-up", func(t *testing.T) {
		f := newInviter(t, false)
		j := NewJoiner(bob, f.invite, nil)
		first, _ := j.Start(ctx)
		// A vc-request fed to the v3 handler and vice versa.
		if _, err := f.inv.HandleRequestPubkey(ctx, first.Raw); err == nil {
			t.Fatal("plaintext request accepted as vc-request-pubkey")
		}
		if _, err := j.Handle(ctx, first.Raw); err == nil {
			t.Fatal("joiner accepted its own request")
		}
	})
}
