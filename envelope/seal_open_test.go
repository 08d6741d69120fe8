package envelope

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/thingpost/thingpost/keystore"
)

func TestSealOpenRoundTrip(t *testing.T) {
	var tk testKeys
	bob, carol := tk.id(t, "bob@home.example"), tk.id(t, "carol@home.example")
	alice, err := keystore.New("alice@home.example", "Alice Ärger, \"the\" owner")
	if err != nil {
		t.Fatal(err)
	}
	date := time.Now().Truncate(time.Second)
	d := &Draft{
		From:          alice,
		To:            []*keystore.PublicKey{bob.Public()},
		Subject:       "Grüße, a subject long enough to be folded into more than one line of header text",
		Date:          date,
		InReplyTo:     "prev@localhost",
		References:    []string{"first@localhost", "prev@localhost"},
		AutoSubmitted: true,
		Headers: []Field{
			{"Secure-Join", "vc-contact-confirm"},
			{"Thingpost-Wire", `{"cmd":"on"}`},
		},
		Gossip: []*keystore.PublicKey{bob.Public(), carol.Public()},
		Text:   "on\nset brightness 40 — with a long line that must be encoded as quoted-printable because it is far longer than seventy-six characters",
		Parts: []Part{
			{ContentType: "application/json", Body: []byte(`{"state":"on"}`)},
			{ContentType: "image/png", Filename: "snap.png", Body: bytes.Repeat([]byte{0x89, 'P', 'N', 'G', 0}, 100)},
		},
	}
	s := seal(t, d)
	if !s.SEIPDv2 {
		t.Error("SEIPDv1 chosen although every key advertises SEIPDv2")
	}
	m, err := Open(context.Background(), s.Raw, OpenOptions{Self: bob, Trusted: trust(alice.Public())})
	if err != nil {
		t.Fatalf("Open: %v\n%s", err, s.Raw)
	}
	if m.From != "alice@home.example" || m.FromName != alice.Name() || m.Signer.Fingerprint() != alice.Fingerprint() || m.SignerSource != SignerTrusted {
		t.Errorf("From %q %q signer %v source %v", m.From, m.FromName, m.Signer.Fingerprint(), m.SignerSource)
	}
	if !m.Protected || m.Subject != d.Subject || !m.Date.Equal(date) || m.MessageID != s.MessageID {
		t.Errorf("protected %v subject %q date %v id %q", m.Protected, m.Subject, m.Date, m.MessageID)
	}
	if m.InReplyTo != "prev@localhost" || strings.Join(m.References, " ") != "first@localhost prev@localhost" {
		t.Errorf("threading %q %q", m.InReplyTo, m.References)
	}
	if len(m.To) != 1 || m.To[0] != "bob@home.example" {
		t.Errorf("To %q", m.To)
	}
	if m.Header.Get("Secure-Join") != "vc-contact-confirm" || m.Header.Get("Thingpost-Wire") != `{"cmd":"on"}` ||
		m.Header.Get("Auto-Submitted") != "auto-generated" || m.Header.Get("Chat-Version") != "1.0" {
		t.Errorf("headers: %v", m.Header)
	}
	if m.Text != d.Text {
		t.Errorf("text %q", m.Text)
	}
	if len(m.Parts) != 3 || m.Parts[1].ContentType != "application/json" || string(m.Parts[1].Body) != `{"state":"on"}` ||
		m.Parts[2].Filename != "snap.png" || !bytes.Equal(m.Parts[2].Body, d.Parts[1].Body) {
		t.Errorf("parts %+v", m.Parts)
	}
	if m.Autocrypt == nil || m.AutocryptOuter || m.Autocrypt.Key.Fingerprint() != alice.Fingerprint() || !m.Autocrypt.PreferEncrypt {
		t.Errorf("autocrypt %+v", m.Autocrypt)
	}
	if len(m.Gossip) != 2 || m.Gossip[0].Key.Fingerprint() != bob.Fingerprint() || m.Gossip[1].Addr != "carol@home.example" || m.Gossip[0].PreferEncrypt {
		t.Errorf("gossip %+v", m.Gossip)
	}
	// Encrypted to self as well.
	if _, err := Open(context.Background(), s.Raw, OpenOptions{Self: alice, Trusted: trust(alice.Public())}); err != nil {
		t.Errorf("sender cannot open her own copy: %v", err)
	}
}

func TestOpenClockSkew(t *testing.T) {
	var tk testKeys
	alice, bob := tk.id(t, "alice@home.example"), tk.id(t, "bob@home.example")
	now := time.Now()
	// The keys exist from now on; Open looks from a minute earlier, so the
	// sender's clock runs a minute ahead of ours.
	s := seal(t, &Draft{From: alice, To: []*keystore.PublicKey{bob.Public()}, Text: "on", Date: now})
	for _, tt := range []struct {
		skew time.Duration
		ok   bool
	}{{0, true}, {2 * time.Minute, true}, {30 * time.Second, false}} {
		m, err := Open(context.Background(), s.Raw, OpenOptions{Self: bob, Trusted: trust(alice.Public()), Now: now.Add(-time.Minute), ClockSkew: tt.skew})
		if (err == nil) != tt.ok || (m != nil) != tt.ok {
			t.Errorf("skew %v: message %v, error %v", tt.skew, m != nil, err)
		}
	}
}

// TestConcurrent opens and seals from several goroutines with shared keys,
// as a thing handling mail for several people does (run with -race).
func TestConcurrent(t *testing.T) {
	var tk testKeys
	alice, bob := tk.id(t, "alice@home.example"), tk.id(t, "bob@home.example")
	raw := seal(t, &Draft{From: alice, To: []*keystore.PublicKey{bob.Public()}, Text: "on"}).Raw
	// Keys fresh from import, as a keyring hands them out: nothing about
	// them has been verified (and cached by go-crypto) yet.
	fresh := func(k *keystore.PublicKey) *keystore.PublicKey {
		f, err := keystore.ImportPublic(k.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	aliceKey, bobKey := fresh(alice.Public()), fresh(bob.Public())
	opts := OpenOptions{Self: bob, Trusted: trust(aliceKey)}
	errs := make(chan error, 16)
	for i := range 8 {
		go func() {
			_, err := Open(context.Background(), raw, opts)
			errs <- err
		}()
		go func() {
			_, err := Seal(context.Background(), &Draft{From: alice, To: []*keystore.PublicKey{bobKey}, Text: fmt.Sprint(i)})
			errs <- err
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
