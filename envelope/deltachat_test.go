package envelope

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"

	"github.com/thingpost/thingpost/keystore"
)

// dcKeys loads the Delta Chat test accounts' secret keys.
func dcKeys(t testing.TB) (alice, bob *keystore.Identity) {
	t.Helper()
	load := func(name string) *keystore.Identity {
		b, err := os.ReadFile("testdata/deltachat/" + name + "-secret.asc")
		if err != nil {
			t.Fatal(err)
		}
		id, err := keystore.ImportPrivate(b, nil)
		if err != nil {
			t.Fatalf("import %s: %v", name, err)
		}
		return id
	}
	return load("alice"), load("bob")
}

func dcMessage(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/deltachat/" + name + ".eml")
	if err != nil {
		t.Fatal(err)
	}
	// Thunderbird's fixtures are mbox exports: drop the "From - date" line.
	if bytes.HasPrefix(b, []byte("From ")) {
		b = b[bytes.IndexByte(b, '\n')+1:]
	}
	return b
}

// TestOpenDeltaChat opens messages Delta Chat (and Thunderbird) really sent.
func TestOpenDeltaChat(t *testing.T) {
	alice, bob := dcKeys(t)
	trusted := trust(alice.Public(), bob.Public())
	tests := []struct {
		file          string
		self          *keystore.Identity
		text, subject string
		acOuter       bool
		gossip        int
	}{
		// SEIPDv1, PKESKs with key IDs, Autocrypt in the outer header.
		{"text_from_alice_encrypted", bob, "hi", "Message from alice@example.org", true, 1},
		// No Autocrypt at all: the signer is found by its issuer fingerprint.
		{"encrypted-signed", bob, "Hello!\n", "Hi!", false, 0},
		// SEIPDv2, anonymous v6 PKESKs (one for an RSA key), an RFC 9788
		// legacy display element to strip.
		{"hp_legacy_display", bob, "Let's eat", "Dinner plans", false, 0},
		// Alice reads her own copy; the signature names no intended recipients.
		{"alice_to_bob_no_intended_recipient_fingerprint", alice, "Hi", "Message from alice@example.org", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			m, err := Open(context.Background(), dcMessage(t, tt.file), OpenOptions{Self: tt.self, Trusted: trusted})
			if err != nil {
				t.Fatal(err)
			}
			if m.From != "alice@example.org" || m.Signer.Fingerprint() != alice.Fingerprint() || m.SignerSource != SignerTrusted {
				t.Errorf("from %q signer %s %v", m.From, m.Signer.Fingerprint(), m.SignerSource)
			}
			if !m.Protected || m.Text != tt.text || m.Subject != tt.subject {
				t.Errorf("protected %v text %q subject %q", m.Protected, m.Text, m.Subject)
			}
			if tt.file != "encrypted-signed" && (m.Autocrypt == nil || m.AutocryptOuter != tt.acOuter || m.Autocrypt.Key.Fingerprint() != alice.Fingerprint()) {
				t.Errorf("autocrypt %+v outer %v", m.Autocrypt, m.AutocryptOuter)
			}
			if len(m.Gossip) != tt.gossip {
				t.Errorf("%d gossip headers", len(m.Gossip))
			}
		})
	}
}

// TestOpenDeltaChatAutocryptSigner: with no trusted key, only the opt-in
// accepts the key from the protected Autocrypt header, and says so.
func TestOpenDeltaChatAutocryptSigner(t *testing.T) {
	alice, bob := dcKeys(t)
	raw := dcMessage(t, "hp_legacy_display")
	if m, err := Open(context.Background(), raw, OpenOptions{Self: bob}); m != nil || !errors.Is(err, ErrUnknownSigner) {
		t.Errorf("without opt-in: %v %v", m != nil, err)
	}
	m, err := Open(context.Background(), raw, OpenOptions{Self: bob, AcceptAutocryptSigner: true})
	if err != nil {
		t.Fatal(err)
	}
	if m.SignerSource != SignerAutocrypt || m.Signer.Fingerprint() != alice.Fingerprint() {
		t.Errorf("source %v signer %s", m.SignerSource, m.Signer.Fingerprint())
	}
	// An Autocrypt header in the outer (unprotected) header never counts.
	raw = dcMessage(t, "text_from_alice_encrypted")
	if m, err := Open(context.Background(), raw, OpenOptions{Self: bob, AcceptAutocryptSigner: true}); m != nil || !errors.Is(err, ErrUnknownSigner) {
		t.Errorf("outer Autocrypt accepted as signer: %v %v", m != nil, err)
	}
	// A trusted key for From takes precedence: a different Autocrypt key
	// does not get in through the opt-in.
	carol, err := keystore.New("alice@example.org", "")
	if err != nil {
		t.Fatal(err)
	}
	raw = dcMessage(t, "hp_legacy_display")
	if m, err := Open(context.Background(), raw, OpenOptions{Self: bob, Trusted: trust(carol.Public()), AcceptAutocryptSigner: true}); m != nil || !errors.Is(err, ErrUnknownSigner) {
		t.Errorf("Autocrypt key accepted despite another trusted key: %v %v", m != nil, err)
	}
}

// TestOpenMangled: the structures mail servers make of PGP/MIME are read
// as far as the payload; these Thunderbird messages are unsigned (or signed
// the RFC 3156 §6.1 way, which envelope does not read), so they end in
// ErrUnsigned, never in a Message.
func TestOpenMangled(t *testing.T) {
	alice, bob := dcKeys(t)
	trusted := trust(alice.Public(), bob.Public())
	for _, tt := range []struct {
		file string
		want error
	}{
		{"mixed-up-long", ErrUnsigned},                // Exchange: multipart/mixed, empty text part first
		{"google-workspace-mixed-up", ErrUnsigned},    // footer part, then the multipart/encrypted
		{"protonmail-mixed-up", ErrMalformed},         // structure fine, payload replaced by a placeholder
		{"thunderbird_encrypted_signed", ErrUnsigned}, // multipart/signed inside the encryption
		{"thunderbird_with_autocrypt_unencrypted", ErrNotEncrypted},
	} {
		m, err := Open(context.Background(), dcMessage(t, tt.file), OpenOptions{Self: bob, Trusted: trusted})
		if m != nil || !errors.Is(err, tt.want) {
			t.Errorf("%s: message %v, error %v, want %v", tt.file, m != nil, err, tt.want)
		}
	}
}

func TestOpenSymmetricDeltaChat(t *testing.T) {
	alice, bob := dcKeys(t)
	raw := dcMessage(t, "text_symmetrically_encrypted")
	pws := [][]byte{[]byte("wrong"), []byte("also wrong"), []byte("secret")}
	m, err := OpenSymmetric(context.Background(), raw, SymmetricOptions{Passphrases: pws, Signer: alice.Public()})
	if err != nil {
		t.Fatal(err)
	}
	if m.Passphrase != 2 || m.Signer == nil || m.Signer.Fingerprint() != alice.Fingerprint() || m.Text != "Symmetrically encrypted message" {
		t.Errorf("passphrase %d signer %v text %q", m.Passphrase, m.Signer, m.Text)
	}
	for _, tt := range []struct {
		name string
		opts SymmetricOptions
		want error
	}{
		{"no passphrase fits", SymmetricOptions{Passphrases: pws[:2], Signer: alice.Public()}, ErrDecrypt},
		{"signed, but no signer expected", SymmetricOptions{Passphrases: pws}, ErrUnknownSigner},
		{"signed by another key than expected", SymmetricOptions{Passphrases: pws, Signer: bob.Public()}, ErrUnknownSigner},
	} {
		if m, err := OpenSymmetric(context.Background(), raw, tt.opts); m != nil || !errors.Is(err, tt.want) {
			t.Errorf("%s: message %v, error %v, want %v", tt.name, m != nil, err, tt.want)
		}
	}
}
