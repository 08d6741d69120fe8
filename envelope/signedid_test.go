package envelope

import (
	"bytes"
	"context"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/thingpost/thingpost/keystore"
)

// TestSignedID: the id of what a signature covers stays when everything
// outside the signature changes (the outer From, To, Date, Message-ID an
// attacker rewrites) and differs for other signed content. GnuPG 2.2 names
// no intended recipient; Seal names them.
func TestSignedID(t *testing.T) {
	g, carol, alice := gpgCarol(t)
	open := func(raw []byte) *Message {
		t.Helper()
		m, err := Open(context.Background(), raw, OpenOptions{Self: alice, Trusted: trust(carol, alice.Public())})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	legacy := gpgMessage(t, g, "Content-Type: text/plain\r\n\r\non\r\n")
	m := open(legacy)
	if len(m.SignedID) != 64 || m.IntendedRecipient || m.Protected {
		t.Fatalf("gpg: SignedID %q, intended recipient %v, protected %v", m.SignedID, m.IntendedRecipient, m.Protected)
	}
	moved := bytes.Replace(legacy, []byte("Message-ID: <gpg-1@home.example>"), []byte("Message-ID: <fresh@evil.example>"), 1)
	moved = bytes.Replace(moved, []byte("To: <alice@home.example>"), []byte("To: <lamp@home.example>"), 1)
	if r := open(moved); r.SignedID != m.SignedID || r.MessageID == m.MessageID || r.To[0] != "lamp@home.example" {
		t.Errorf("new outer headers: SignedID %s, was %s (Message-ID %s, To %v)", r.SignedID, m.SignedID, r.MessageID, r.To)
	}
	if o := open(gpgMessage(t, g, "Content-Type: text/plain\r\n\r\noff\r\n")); o.SignedID == m.SignedID {
		t.Error("other signed content, same SignedID")
	}
	s := open(seal(t, &Draft{From: alice, To: []*keystore.PublicKey{alice.Public()}, Text: "on"}).Raw)
	if !s.IntendedRecipient || s.SignedID == m.SignedID || len(s.SignedID) != 64 {
		t.Errorf("Seal: intended recipient %v, SignedID %q", s.IntendedRecipient, s.SignedID)
	}
}

// TestSignedIDText: a text signature covers the text with CRLF line ends
// whatever the literal data holds, so its id must not depend on them; a
// binary signature covers the bytes as they are.
func TestSignedIDText(t *testing.T) {
	var tk testKeys
	alice := tk.id(t, "alice@home.example").Public()
	suffix := []byte{4, 1, 22, 8, 0, 6}
	for _, tt := range []struct {
		typ  packet.SignatureType
		same bool
	}{{packet.SigTypeText, true}, {packet.SigTypeBinary, false}} {
		sig := &packet.Signature{SigType: tt.typ, HashSuffix: suffix}
		lf, crlf := signedID(alice, sig, []byte("on\nnow\n")), signedID(alice, sig, []byte("on\r\nnow\r\n"))
		if (lf == crlf) != tt.same {
			t.Errorf("signature type %d: LF and CRLF ids equal %v, want %v", tt.typ, lf == crlf, tt.same)
		}
	}
}
