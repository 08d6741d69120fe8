package envelope

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-message/mail"

	"github.com/thingpost/thingpost/keystore"
)

// maxSeed bounds a fuzz seed: the fuzzer mutates, runs and minimizes whole
// inputs, so a 100 KiB seed slows every exec derived from it.
const maxSeed = 8 << 10

// FuzzOpen feeds Open arbitrary messages, seeded with real ones (Delta Chat,
// Thunderbird, our own). Open must never panic, and whenever it returns a
// Message the message must be authenticated: a signer, bound to From.
func FuzzOpen(f *testing.F) {
	alice, bob := dcKeys(f)
	files, err := filepath.Glob("testdata/deltachat/*.eml")
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		// Small seeds keep every exec cheap; TestOpenDeltaChat opens the
		// long ones.
		if m := dcMessage(f, strings.TrimSuffix(filepath.Base(file), ".eml")); len(m) <= maxSeed {
			f.Add(m)
		}
	}
	f.Add(seal(f, &Draft{From: alice, To: []*keystore.PublicKey{bob.Public()}, Subject: "cmd", Text: "on",
		Parts: []Part{{ContentType: "application/json", Body: []byte(`{"on":true}`)}}, Gossip: []*keystore.PublicKey{bob.Public()}}).Raw)
	f.Add([]byte("Content-Type: multipart/encrypted; boundary=x\r\n\r\n--x\r\nContent-Type: application/octet-stream\r\n\r\n-----BEGIN PGP MESSAGE-----\r\n\r\nwcBMA\r\n-----END PGP MESSAGE-----\r\n--x--\r\n"))
	opts := OpenOptions{Self: bob, Trusted: trust(alice.Public(), bob.Public()), MaxSize: 256 << 10}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := Open(context.Background(), raw, opts)
		if (m == nil) == (err == nil) {
			t.Fatalf("message %v with error %v", m != nil, err)
		}
		if m != nil && (m.Signer == nil || m.Signer.Addr() != m.From || m.SignerSource != SignerTrusted) {
			t.Fatalf("unauthenticated message returned: signer %v from %s source %v", m.Signer, m.From, m.SignerSource)
		}
		if m != nil && len(m.SignedID) != 64 {
			t.Fatalf("message without a SignedID: %q", m.SignedID)
		}
	})
}

// FuzzOpenSymmetric does the same for the passphrase path.
func FuzzOpenSymmetric(f *testing.F) {
	alice, _ := dcKeys(f)
	f.Add(dcMessage(f, "text_symmetrically_encrypted"))
	f.Add(dcMessage(f, "text_from_alice_encrypted"))
	opts := SymmetricOptions{Passphrases: [][]byte{[]byte("secret")}, Signer: alice.Public(), MaxSize: 256 << 10}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := OpenSymmetric(context.Background(), raw, opts)
		if (m == nil) == (err == nil) {
			t.Fatalf("message %v with error %v", m != nil, err)
		}
		if m != nil && (m.Signer == nil || m.Signer.Fingerprint() != alice.Fingerprint()) {
			t.Fatalf("unverified message returned")
		}
	})
}

// FuzzParseContent fuzzes the parser of the decrypted entity, which runs
// before the signature is checked (it has to find From).
func FuzzParseContent(f *testing.F) {
	var tk testKeys
	alice, bob := tk.id(f, "alice@home.example"), tk.id(f, "bob@home.example")
	s := seal(f, &Draft{From: alice, To: []*keystore.PublicKey{bob.Public()}, Text: "on", Gossip: []*keystore.PublicKey{bob.Public()},
		Parts: []Part{{ContentType: "image/png", Filename: "a.png", Body: []byte{1, 2, 3}}}})
	f.Add(openAs(f, s.Raw, bob).data)
	f.Add([]byte("Content-Type: text/plain; hp-legacy-display=\"1\"\r\nFrom: <a@b.c>\r\n\r\nSubject: x\r\n\r\ntext"))
	outer := mail.Header{}
	outer.Set("From", "<alice@home.example>")
	f.Fuzz(func(t *testing.T, plain []byte) {
		c, err := parseContent(plain, outer, nil)
		if err == nil && c.From == "" {
			t.Fatal("content without From")
		}
	})
}
