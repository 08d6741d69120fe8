package envelope

import (
	"bytes"
	"compress/zlib"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/thingpost/thingpost/keystore"
)

// shape is what the OpenPGP packets of a sealed message look like.
type shape struct {
	pkesk [][]byte // contents of each PKESK
	skesk [][]byte // contents of each SKESK
	seipd []byte   // header octets of the SEIPD packet (version, cipher, mode, chunk size)
	inner []uint8  // tags inside the encryption (inside compression, if any)
	zlib  bool     // inner packets were in a ZLIB compressed packet
	sig   *packet.Signature
}

func packets(t *testing.T, bin []byte) []*packet.OpaquePacket {
	t.Helper()
	var out []*packet.OpaquePacket
	r := packet.NewOpaqueReader(bytes.NewReader(bin))
	for {
		op, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, op)
	}
}

// inspect takes a binary OpenPGP message apart with the session key that
// sessionKey derives from the PKESK or SKESK packets.
func inspect(t *testing.T, bin []byte, sessionKey func(p packet.Packet) ([]byte, packet.CipherFunction, bool)) *shape {
	t.Helper()
	s := &shape{}
	var key []byte
	var cipher packet.CipherFunction
	for _, op := range packets(t, bin) {
		switch op.Tag {
		case tagPKESK, tagSKESK:
			if op.Tag == tagPKESK {
				s.pkesk = append(s.pkesk, op.Contents)
			} else {
				s.skesk = append(s.skesk, op.Contents)
			}
			p, err := op.Parse()
			if err != nil {
				t.Fatal(err)
			}
			if k, c, ok := sessionKey(p); ok {
				key, cipher = k, c
			}
		case tagSEIPD:
			s.seipd = op.Contents[:min(4, len(op.Contents))]
			p, err := op.Parse()
			if err != nil {
				t.Fatal(err)
			}
			rc, err := p.(*packet.SymmetricallyEncrypted).Decrypt(cipher, key)
			if err != nil {
				t.Fatal(err)
			}
			plain, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			if err := rc.Close(); err != nil {
				t.Fatal(err)
			}
			inner := packets(t, plain)
			if len(inner) == 1 && inner[0].Tag == 8 {
				if inner[0].Contents[0] != 2 {
					t.Fatalf("compression algorithm %d, want ZLIB (2)", inner[0].Contents[0])
				}
				zr, err := zlib.NewReader(bytes.NewReader(inner[0].Contents[1:]))
				if err != nil {
					t.Fatal(err)
				}
				if plain, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
				s.zlib = true
				inner = packets(t, plain)
			}
			for _, ip := range inner {
				s.inner = append(s.inner, ip.Tag)
				if ip.Tag == 2 {
					p, err := ip.Parse()
					if err != nil {
						t.Fatal(err)
					}
					s.sig = p.(*packet.Signature)
				}
			}
		default:
			t.Fatalf("unexpected packet %d", op.Tag)
		}
	}
	return s
}

// withKey decrypts PKESKs with self's encryption subkey.
func withKey(self *keystore.Identity) func(packet.Packet) ([]byte, packet.CipherFunction, bool) {
	return func(p packet.Packet) ([]byte, packet.CipherFunction, bool) {
		ek := p.(*packet.EncryptedKey)
		for _, sk := range self.Entity().Subkeys {
			if sk.PrivateKey != nil && ek.Decrypt(sk.PrivateKey, nil) == nil {
				return ek.Key, ek.CipherFunc, true
			}
		}
		return nil, 0, false
	}
}

// noSEIPDv2Key makes a key that does not advertise SEIPDv2, as older
// clients' keys do.
func noSEIPDv2Key(t *testing.T, addr string) *keystore.PublicKey {
	t.Helper()
	cfg := keystore.Config(nil)
	cfg.AEADConfig = nil
	e, err := openpgp.NewEntity("", "", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := e.Serialize(&b); err != nil {
		t.Fatal(err)
	}
	k, err := keystore.ImportPublic(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealPacketShape(t *testing.T) {
	var tk testKeys
	alice, bob := tk.id(t, "alice@home.example"), tk.id(t, "bob@home.example")
	old := noSEIPDv2Key(t, "old@home.example")
	fpr := func(k *keystore.PublicKey) []byte { f := k.Fingerprint(); return f[:] }

	for _, tt := range []struct {
		name     string
		to       []*keystore.PublicKey
		compress bool
		v2       bool
	}{
		{"SEIPDv2 when every key advertises it", []*keystore.PublicKey{bob.Public()}, true, true},
		{"SEIPDv1 when one key does not", []*keystore.PublicKey{bob.Public(), old}, true, false},
		{"no compression when asked", []*keystore.PublicKey{bob.Public()}, false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := seal(t, &Draft{From: alice, To: tt.to, Text: strings.Repeat("set brightness 40\n", 10), NoCompression: !tt.compress})
			if s.SEIPDv2 != tt.v2 {
				t.Errorf("Sealed.SEIPDv2 %v", s.SEIPDv2)
			}
			sh := inspect(t, payload(t, s.Raw), withKey(bob))
			if len(sh.pkesk) != 1+len(tt.to) || len(sh.skesk) != 0 {
				t.Errorf("%d PKESKs, %d SKESKs", len(sh.pkesk), len(sh.skesk))
			}
			for _, c := range sh.pkesk {
				// Anonymous recipients: v6 with an empty key field, v3 with
				// key ID 0.
				if tt.v2 && (c[0] != 6 || c[1] != 0) || !tt.v2 && (c[0] != 3 || !bytes.Equal(c[1:9], make([]byte, 8))) {
					t.Errorf("PKESK not anonymous: % x", c[:10])
				}
			}
			if tt.v2 && !bytes.Equal(sh.seipd, []byte{2, byte(packet.CipherAES128), byte(packet.AEADModeOCB), 7}) {
				t.Errorf("SEIPD header % x, want v2 AES-128 OCB 8 KiB chunks", sh.seipd)
			}
			if !tt.v2 && sh.seipd[0] != 1 {
				t.Errorf("SEIPD version %d, want 1", sh.seipd[0])
			}
			if sh.zlib != tt.compress || !bytes.Equal(sh.inner, []byte{4, 11, 2}) {
				t.Errorf("zlib %v, inner packets %v, want OPS, literal, signature", sh.zlib, sh.inner)
			}
			sig := sh.sig
			if sig.SigType != packet.SigTypeBinary || !bytes.Equal(sig.IssuerFingerprint, fpr(alice.Public())) || sig.CreationTime.IsZero() {
				t.Errorf("signature type %v issuer %x created %v", sig.SigType, sig.IssuerFingerprint, sig.CreationTime)
			}
			want := append([]*keystore.PublicKey{alice.Public()}, tt.to...)
			if len(sig.IntendedRecipients) != len(want) {
				t.Fatalf("%d intended recipients, want %d", len(sig.IntendedRecipients), len(want))
			}
			for i, k := range want {
				if !bytes.Equal(sig.IntendedRecipients[i].Fingerprint, fpr(k)) {
					t.Errorf("intended recipient %d is %x, want %s", i, sig.IntendedRecipients[i].Fingerprint, k.Fingerprint())
				}
			}
		})
	}
}

func TestSealSymmetricPacketShape(t *testing.T) {
	var tk testKeys
	bob := tk.id(t, "bob@home.example")
	pass := []byte("securejoin/0123456789ABCDEF0123456789ABCDEF01234567/auth-token")
	for _, sign := range []bool{false, true} {
		s, err := SealSymmetric(context.Background(), &Draft{From: bob, ToAddrs: []string{"alice@home.example"}, Text: strings.Repeat("secure join ", 50)}, pass, sign)
		if err != nil {
			t.Fatal(err)
		}
		sh := inspect(t, payload(t, s.Raw), func(p packet.Packet) ([]byte, packet.CipherFunction, bool) {
			k, c, err := p.(*packet.SymmetricKeyEncrypted).Decrypt(pass)
			return k, c, err == nil
		})
		if len(sh.skesk) != 1 || len(sh.pkesk) != 0 {
			t.Fatalf("%d SKESKs, %d PKESKs, want exactly one SKESK", len(sh.skesk), len(sh.pkesk))
		}
		// v6, AES-128, OCB, S2K of 10 octets: type 1 (Salted), SHA-256, 8-octet salt.
		if c := sh.skesk[0]; c[0] != 6 || c[2] != byte(packet.CipherAES128) || c[3] != byte(packet.AEADModeOCB) || c[4] != 10 || c[5] != 1 || c[6] != 8 {
			t.Errorf("SKESK % x", c[:7])
		}
		if sh.seipd[0] != 2 || sh.seipd[1] != byte(packet.CipherAES128) || sh.seipd[2] != byte(packet.AEADModeOCB) {
			t.Errorf("SEIPD header % x", sh.seipd)
		}
		want := []byte{11}
		if sign {
			want = []byte{4, 11, 2}
		}
		if sh.zlib || !bytes.Equal(sh.inner, want) {
			t.Errorf("signed %v: compressed %v, inner %v, want %v", sign, sh.zlib, sh.inner, want)
		}
	}
}

// TestSealedHeaders checks the header block: Delta Chat's minimal outer
// header, all lines folded within 78 characters, no armor Version header.
func TestSealedHeaders(t *testing.T) {
	var tk testKeys
	alice, bob, carol := tk.id(t, "alice@home.example"), tk.id(t, "bob@home.example"), tk.id(t, "carol@home.example")
	s := seal(t, &Draft{From: alice, To: []*keystore.PublicKey{bob.Public()}, Subject: strings.Repeat("long subject ", 20),
		Gossip: []*keystore.PublicKey{bob.Public(), carol.Public()}, Text: "on",
		Headers: []Field{{"Thingpost-Wire", strings.Repeat("k=v ", 40) + "end"}}})
	head, _, _ := bytes.Cut(s.Raw, []byte("\r\n\r\n"))
	var names []string
	for _, l := range strings.Split(string(head), "\r\n") {
		if !strings.HasPrefix(l, " ") {
			n, _, _ := strings.Cut(l, ":")
			names = append(names, n)
		}
	}
	if got := strings.Join(names, ","); got != "From,To,Subject,Date,Message-ID,MIME-Version,Chat-Version,Content-Type" {
		t.Errorf("outer fields %s", got)
	}
	for _, want := range []string{"From: <alice@home.example>\r\n", "To: \"hidden-recipients\": ;\r\n", "Subject: [...]\r\n", "Chat-Version: 1.0\r\n",
		"Message-ID: <" + s.MessageID + ">\r\n", "multipart/encrypted; protocol=\"application/pgp-encrypted\";"} {
		if !bytes.Contains(head, []byte(want)) {
			t.Errorf("outer header lacks %q", want)
		}
	}
	// No armor headers at all: the BEGIN line is followed by the blank line.
	if !bytes.Contains(s.Raw, []byte("-----BEGIN PGP MESSAGE-----\r\n\r\n")) {
		t.Error("armor carries headers")
	}
	inner := openAs(t, s.Raw, bob).data
	innerHead, _, _ := bytes.Cut(inner, []byte("\r\n\r\n"))
	for _, block := range [][]byte{head, innerHead} {
		for _, l := range strings.Split(string(block), "\r\n") {
			if len(l) > 78 {
				t.Errorf("header line of %d characters: %q", len(l), l)
			}
		}
	}
	for _, want := range []string{"protected-headers=\"v1\"; hp=\"cipher\"", "HP-Outer: From: <alice@home.example>", "HP-Outer: To: \"hidden-recipients\": ;",
		"HP-Outer: Subject: [...]", "HP-Outer: Message-ID: <" + s.MessageID + ">", "HP-Outer: Chat-Version: 1.0", "\r\nChat-Version: 1.0\r\n",
		"\r\nAutocrypt: addr=alice@home.example; prefer-encrypt=mutual;\r\n keydata=\r\n",
		"\r\nAutocrypt-Gossip: addr=bob@home.example;\r\n keydata=\r\n", "\r\nAutocrypt-Gossip: addr=carol@home.example;\r\n keydata=\r\n"} {
		if !bytes.Contains(innerHead, []byte(want)) {
			t.Errorf("protected header lacks %q", want)
		}
	}
	// The outer Date is up to 6 days before the real one, as Delta Chat does.
	m, err := Open(context.Background(), s.Raw, OpenOptions{Self: bob, Trusted: trust(alice.Public())})
	if err != nil {
		t.Fatal(err)
	}
	var outerDate time.Time
	for _, l := range strings.Split(string(head), "\r\n") {
		if v, ok := strings.CutPrefix(l, "Date: "); ok {
			if outerDate, err = time.Parse(time.RFC1123Z, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if d := m.Date.Sub(outerDate); d < 0 || d > outerDateSpread {
		t.Errorf("outer Date %v, real %v", outerDate, m.Date)
	}
	if m.Header.Get("Thingpost-Wire") != strings.Repeat("k=v ", 40)+"end" {
		t.Errorf("long header value changed by folding: %q", m.Header.Get("Thingpost-Wire"))
	}
}
