package envelope

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/ProtonMail/go-crypto/openpgp/s2k"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/thingpost/thingpost/keystore"
)

func TestSymmetricRoundTrip(t *testing.T) {
	var tk testKeys
	alice, bob := tk.id(t, "alice@home.example"), tk.id(t, "bob@home.example")
	secret := []byte("securejoin/" + alice.Fingerprint().String() + "/AUTHTOKEN123")
	tokens := [][]byte{[]byte("securejoin/x/old1"), []byte("securejoin/x/old2"), secret}
	ctx := context.Background()

	// vc-request-pubkey: bob to alice, unsigned, no Autocrypt header.
	req, err := SealSymmetric(ctx, &Draft{From: bob, ToAddrs: []string{alice.Addr()}, NoAutocrypt: true,
		Headers: []Field{{"Secure-Join", "vc-request-pubkey"}, {"Secure-Join-Auth", "AUTHTOKEN123"}}, Text: "Secure-Join: vc-request-pubkey"}, secret, false)
	if err != nil {
		t.Fatal(err)
	}
	m, err := OpenSymmetric(ctx, req.Raw, SymmetricOptions{Passphrases: tokens})
	if err != nil {
		t.Fatal(err)
	}
	if m.Passphrase != 2 || m.Signer != nil || m.From != bob.Addr() || m.Autocrypt != nil || !m.Protected ||
		m.Header.Get("Secure-Join") != "vc-request-pubkey" || m.Header.Get("Secure-Join-Auth") != "AUTHTOKEN123" || m.MessageID != req.MessageID {
		t.Errorf("vc-request-pubkey: %+v", m)
	}

	// vc-pubkey: alice to bob, signed, with her Autocrypt header. Bob knows
	// her fingerprint from the QR code, or (later) her key.
	resp, err := SealSymmetric(ctx, &Draft{From: alice, ToAddrs: []string{bob.Addr()},
		Headers: []Field{{"Secure-Join", "vc-pubkey"}, {"Secure-Join-Auth", "AUTHTOKEN123"}}, Text: "Secure-Join: vc-pubkey"}, secret, true)
	if err != nil {
		t.Fatal(err)
	}
	for name, opts := range map[string]SymmetricOptions{
		"by key":                    {Passphrases: [][]byte{secret}, Signer: alice.Public()},
		"by Autocrypt, fingerprint": {Passphrases: [][]byte{secret}, AutocryptSigner: alice.Fingerprint()},
	} {
		m, err := OpenSymmetric(ctx, resp.Raw, opts)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if m.Signer == nil || m.Signer.Fingerprint() != alice.Fingerprint() || m.Autocrypt == nil || m.Header.Get("Secure-Join") != "vc-pubkey" {
			t.Errorf("%s: %+v", name, m)
		}
	}

	for _, tt := range []struct {
		name string
		raw  []byte
		opts SymmetricOptions
		want error
	}{
		{"no token fits", req.Raw, SymmetricOptions{Passphrases: tokens[:2]}, ErrDecrypt},
		{"no tokens", req.Raw, SymmetricOptions{}, ErrDecrypt},
		{"unsigned where a signature is required", req.Raw, SymmetricOptions{Passphrases: tokens, Signer: bob.Public()}, ErrUnsigned},
		{"signed, nothing to check it with", resp.Raw, SymmetricOptions{Passphrases: tokens}, ErrUnknownSigner},
		{"signed by another key than expected", resp.Raw, SymmetricOptions{Passphrases: tokens, Signer: bob.Public()}, ErrUnknownSigner},
		{"Autocrypt key with another fingerprint", resp.Raw, SymmetricOptions{Passphrases: tokens, AutocryptSigner: bob.Fingerprint()}, ErrUnknownSigner},
		{"too large", resp.Raw, SymmetricOptions{Passphrases: tokens, Signer: alice.Public(), MaxSize: 500}, ErrTooLarge},
		{"public-key message", seal(t, &Draft{From: alice, To: []*keystore.PublicKey{bob.Public()}, Text: "x"}).Raw, SymmetricOptions{Passphrases: tokens}, ErrDecrypt},
	} {
		m, err := OpenSymmetric(ctx, tt.raw, tt.opts)
		if m != nil || !errors.Is(err, tt.want) {
			t.Errorf("%s: message %v, error %v, want %v", tt.name, m != nil, err, tt.want)
		}
	}
}

// TestOpenSymmetricRefusesOtherShapes: only one v6 SKESK with a Salted S2K
// is tried; an iterated or Argon2 S2K costs too much per token tried.
func TestOpenSymmetricRefusesOtherShapes(t *testing.T) {
	var tk testKeys
	alice := tk.id(t, "alice@home.example")
	pass := []byte("pw")
	good := seal(t, &Draft{From: alice, To: []*keystore.PublicKey{alice.Public()}, Text: "x"}).Raw
	encrypt := func(cfg *packet.Config, extra ...[]byte) []byte {
		var b bytes.Buffer
		w, err := openpgp.SymmetricallyEncryptWithParams(pass, &b, &openpgp.EncryptParams{Config: cfg, Passwords: extra})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("Content-Type: text/plain\r\nFrom: <alice@home.example>\r\n\r\nx"))
		w.Close()
		return rewrap(t, good, b.Bytes())
	}
	salted := &s2k.Config{S2KMode: s2k.SaltedS2K, PassphraseIsHighEntropy: true}
	aead := &packet.AEADConfig{DefaultMode: packet.AEADModeOCB}
	for _, tt := range []struct {
		name string
		cfg  *packet.Config
		more [][]byte
	}{
		{"iterated S2K", &packet.Config{AEADConfig: aead, S2KConfig: &s2k.Config{S2KMode: s2k.IteratedSaltedS2K}}, nil},
		{"Argon2 S2K", &packet.Config{AEADConfig: aead, S2KConfig: &s2k.Config{S2KMode: s2k.Argon2S2K}}, nil},
		{"v4 SKESK, SEIPDv1", &packet.Config{S2KConfig: salted}, nil},
		{"two SKESKs", &packet.Config{AEADConfig: aead, S2KConfig: salted}, [][]byte{[]byte("other")}},
	} {
		m, err := OpenSymmetric(context.Background(), encrypt(tt.cfg, tt.more...), SymmetricOptions{Passphrases: [][]byte{pass}})
		if m != nil || !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: message %v, error %v", tt.name, m != nil, err)
		}
	}
	// The same construction with the right shape opens: the refusals above
	// are about the shape.
	m, err := OpenSymmetric(context.Background(), encrypt(&packet.Config{AEADConfig: aead, S2KConfig: salted}), SymmetricOptions{Passphrases: [][]byte{pass}})
	if err != nil || m.Text != "x" {
		t.Errorf("right shape refused: %v", err)
	}
}

// BenchmarkOpenSymmetricTokens measures the inviter trying 100 AUTH tokens,
// the right one last.
func BenchmarkOpenSymmetricTokens(b *testing.B) {
	var tk testKeys
	alice := tk.id(b, "alice@home.example")
	var tokens [][]byte
	for i := range 100 {
		tokens = append(tokens, []byte(fmt.Sprintf("securejoin/%s/token%03d", alice.Fingerprint(), i)))
	}
	s, err := SealSymmetric(context.Background(), &Draft{From: alice, ToAddrs: []string{"bob@home.example"}, Text: "x", Date: time.Now()}, tokens[99], false)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := OpenSymmetric(context.Background(), s.Raw, SymmetricOptions{Passphrases: tokens}); err != nil {
			b.Fatal(err)
		}
	}
}
