package keystore

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// packetTags lists the packet types of a binary OpenPGP stream.
func packetTags(t *testing.T, b []byte) []string {
	t.Helper()
	var tags []string
	r := packet.NewReader(bytes.NewReader(b))
	for {
		p, err := r.Next()
		if err == io.EOF {
			return tags
		}
		if err != nil {
			t.Fatal(err)
		}
		switch p := p.(type) {
		case *packet.PublicKey:
			if p.IsSubkey {
				tags = append(tags, "subkey")
			} else {
				tags = append(tags, "primary")
			}
		case *packet.UserId:
			tags = append(tags, "uid")
		case *packet.Signature:
			tags = append(tags, "sig")
		default:
			tags = append(tags, "other")
		}
	}
}

func TestPublicExportImport(t *testing.T) {
	id := newID(t, "lamp@home.example")
	if got := strings.Join(packetTags(t, id.Bytes()), ","); got != "primary,uid,sig,subkey,sig" {
		t.Fatalf("Autocrypt key packets %s", got)
	}
	armored := id.Armor()
	if !strings.HasPrefix(armored, "-----BEGIN PGP PUBLIC KEY BLOCK-----") {
		t.Fatalf("armor starts %q", armored[:40])
	}
	keydata := id.Keydata()
	folded := " " + keydata[:70] + "\r\n\t" + keydata[70:] + "\n"
	for name, imp := range map[string]func() (*PublicKey, error){
		"armored":        func() (*PublicKey, error) { return ImportPublic([]byte(armored)) },
		"binary":         func() (*PublicKey, error) { return ImportPublic(id.Bytes()) },
		"keydata":        func() (*PublicKey, error) { return ImportKeydata(keydata) },
		"folded keydata": func() (*PublicKey, error) { return ImportKeydata(folded) },
	} {
		k, err := imp()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if k.Fingerprint() != id.Fingerprint() || k.Addr() != id.Addr() || !bytes.Equal(k.Bytes(), id.Bytes()) {
			t.Fatalf("%s: imported %s %s differs", name, k.Fingerprint(), k.Addr())
		}
		if k.Entity().PrivateKey != nil {
			t.Fatalf("%s: public key holds a private key", name)
		}
		// The imported key is good to encrypt to.
		checkUsable(t, id, k, id)
	}
	if id.Public().Entity().PrivateKey != nil {
		t.Fatal("Public() holds a private key")
	}
	if id.Entity().PrivateKey == nil {
		t.Fatal("identity entity lost its private key")
	}
}

func TestPrivateExportImport(t *testing.T) {
	id, err := New("lamp@home.example", "Desk Lamp")
	if err != nil {
		t.Fatal(err)
	}
	pass := []byte("export pass")
	armored, err := id.ExportPrivate(pass)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(armored, "-----BEGIN PGP PRIVATE KEY BLOCK-----") {
		t.Fatalf("armor starts %q", armored[:40])
	}
	if _, err := id.ExportPrivate(nil); !errors.Is(err, ErrEmptyPassphrase) {
		t.Fatalf("export without passphrase: %v", err)
	}
	// Exporting locks a copy, never the identity itself.
	checkUsable(t, id, id.Public(), id)

	if _, err := ImportPrivate([]byte(armored), []byte("wrong")); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if _, err := ImportPrivate([]byte(armored), nil); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("no passphrase: %v", err)
	}
	got, err := ImportPrivate([]byte(armored), pass)
	if err != nil {
		t.Fatal(err)
	}
	if got.Fingerprint() != id.Fingerprint() || got.Name() != "Desk Lamp" || !bytes.Equal(secretBytes(t, got), secretBytes(t, id)) {
		t.Fatal("imported secret key differs")
	}
	checkUsable(t, got, id.Public(), got)

	// An unprotected binary secret key imports without a passphrase.
	got, err = ImportPrivate(secretBytes(t, id), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Fingerprint() != id.Fingerprint() {
		t.Fatal("fingerprint differs")
	}
}

func TestImportFixtures(t *testing.T) {
	tests := []struct {
		file, addr string
		pass       string
		private    bool
		want       error
	}{
		{"ed-secret.asc", "ed@example.org", fixturePass, true, nil},
		{"rsa-secret.asc", "rsa@example.org", fixturePass, true, nil},
		{"rsa.pub.asc", "rsa@example.org", "", false, nil},
		{"ed-secret.asc", "", "wrong", true, ErrWrongPassphrase},
		{"ed-secret.asc", "", "", true, ErrWrongPassphrase},
		{"rsa.pub.asc", "", fixturePass, true, ErrNotPrivate},
		{"rsa-secret.asc", "", "", false, ErrBadKey},
		{"sign-only.pub.asc", "", "", false, ErrBadKey},
		{"no-addr.pub.asc", "", "", false, ErrBadKey},
		{"expired.pub.asc", "", "", false, ErrBadKey},
	}
	for _, tt := range tests {
		data := readFixture(t, tt.file)
		var (
			pk  *PublicKey
			err error
		)
		if tt.private {
			var id *Identity
			if id, err = ImportPrivate(data, []byte(tt.pass)); err == nil {
				pk = id.Public()
				checkUsable(t, id, pk, id)
			}
		} else {
			pk, err = ImportPublic(data)
		}
		if !errors.Is(err, tt.want) {
			t.Errorf("%s (private %v, pass %q): %v, want %v", tt.file, tt.private, tt.pass, err, tt.want)
			continue
		}
		t.Logf("%s: %v", tt.file, err)
		if err == nil && pk.Addr() != tt.addr {
			t.Errorf("%s: addr %q, want %q", tt.file, pk.Addr(), tt.addr)
		}
	}
}

func TestImportBadInput(t *testing.T) {
	id := newID(t, "lamp@home.example")
	armored := id.Armor()
	secret := secretBytes(t, id)

	v6, err := openpgp.NewEntity("", "", "v6@home.example", &packet.Config{V6Keys: true})
	if err != nil {
		t.Fatal(err)
	}
	var v6pub bytes.Buffer
	if err := v6.Serialize(&v6pub); err != nil {
		t.Fatal(err)
	}

	revoked := newID(t, "revoked@home.example")
	if err := revoked.Entity().Revoke(packet.KeyCompromised, "lost", nil); err != nil {
		t.Fatal(err)
	}
	var revokedPub bytes.Buffer
	if err := revoked.Entity().Serialize(&revokedPub); err != nil {
		t.Fatal(err)
	}

	noUIDAddr, err := openpgp.NewEntity("Just A Name", "", "", Config(nil))
	if err != nil {
		t.Fatal(err)
	}
	var noAddrPub bytes.Buffer
	if err := noUIDAddr.Serialize(&noAddrPub); err != nil {
		t.Fatal(err)
	}

	// A copy of our key with its encryption subkey dropped.
	noSub, err := ImportPrivate(secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	noSub.Entity().Subkeys = nil
	var noSubPub bytes.Buffer
	if err := noSub.Entity().Serialize(&noSubPub); err != nil {
		t.Fatal(err)
	}

	// A bit flipped in the last signature: the subkey binding no longer verifies.
	badSig := id.Bytes()
	badSig[len(badSig)-3] ^= 0x40

	// go-crypto no longer checks the armor CRC (RFC 9580); a damaged body
	// is caught by the signatures.
	lines := strings.Split(armored, "\n")
	mid := lines[len(lines)/2]
	flipped := "A"
	if mid[10] == 'A' {
		flipped = "B"
	}
	badBody := strings.Replace(armored, mid, mid[:10]+flipped+mid[11:], 1)

	// go-crypto v1.4 panicked on an exportable-certification subpacket
	// without data (ProtonMail/go-crypto#327): primary key, User ID, then a
	// signature whose only hashed subpacket is that empty type 4.
	var bad327 bytes.Buffer
	if err := id.Entity().PrimaryKey.Serialize(&bad327); err != nil {
		t.Fatal(err)
	}
	uid := []byte("<lamp@home.example>")
	bad327.Write(append([]byte{0xc0 | 13, byte(len(uid))}, uid...))
	sig := []byte{4, 0x13, 22, 8, 0, 2, 1, 4, 0, 0, 0, 0, 0, 8, 0xff, 0, 8, 0xff}
	bad327.Write(append([]byte{0xc0 | 2, byte(len(sig))}, sig...))

	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"empty exportable-certification subpacket", bad327.Bytes()},
		{"whitespace", []byte(" \n")},
		{"garbage armor", []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n!!!! not base64 ****\n-----END PGP PUBLIC KEY BLOCK-----\n")},
		{"armored message", []byte("-----BEGIN PGP MESSAGE-----\n\nwy4ECQMI\n-----END PGP MESSAGE-----\n")},
		{"random binary", []byte{0x99, 0x01, 0x02, 0xff, 0xfe, 0x00, 0x13}},
		{"truncated armor", []byte(armored[:len(armored)/2])},
		{"truncated binary", id.Bytes()[:len(id.Bytes())-20]},
		{"damaged armor body", []byte(badBody)},
		{"two keys", append(id.Bytes(), newID(t, "b@home.example").Bytes()...)},
		{"secret key", secret},
		{"v6 key", v6pub.Bytes()},
		{"revoked key", revokedPub.Bytes()},
		{"no address", noAddrPub.Bytes()},
		{"no encryption subkey", noSubPub.Bytes()},
		{"bad binding signature", badSig},
		{"too large", append(id.Bytes(), make([]byte, maxKeySize)...)},
	}
	for _, tt := range tests {
		_, err := ImportPublic(tt.data)
		if !errors.Is(err, ErrBadKey) {
			t.Errorf("%s: ImportPublic: %v, want ErrBadKey", tt.name, err)
		} else {
			t.Logf("%s: %v", tt.name, err)
		}
		if tt.name == "secret key" {
			continue
		}
		if _, err := ImportPrivate(tt.data, []byte("pw")); err == nil {
			t.Errorf("%s: ImportPrivate accepted it", tt.name)
		}
	}
	if _, err := ImportKeydata("not base64!"); !errors.Is(err, ErrBadKey) {
		t.Errorf("bad keydata: %v", err)
	}
}

func TestFingerprintForms(t *testing.T) {
	id := newID(t, "lamp@home.example")
	f := id.Fingerprint()
	h := f.Human()
	if len(h) != 49 || strings.Count(h, " ") != 9 || strings.ToUpper(h) != h {
		t.Fatalf("Human() = %q", h)
	}
	for _, s := range []string{f.String(), h, strings.ToLower(h)} {
		g, err := ParseFingerprint(s)
		if err != nil || g != f {
			t.Errorf("ParseFingerprint(%q) = %s, %v", s, g, err)
		}
	}
	for _, s := range []string{"", f.String()[:39], f.String() + "0", "ZZ" + f.String()[2:]} {
		if _, err := ParseFingerprint(s); !errors.Is(err, ErrBadKey) {
			t.Errorf("ParseFingerprint(%q) accepted", s)
		}
	}
}
