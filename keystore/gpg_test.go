package keystore

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/thingpost/thingpost/internal/testutil"
)

// colons returns the --with-colons records of the given type ("sec", "fpr", ...).
func colons(out []byte, typ string) [][]string {
	var recs [][]string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(line, ":")
		if f[0] == typ {
			recs = append(recs, f)
		}
	}
	return recs
}

// gpgVerifies has gpg check a detached signature id made over msg.
func gpgVerifies(t *testing.T, g *testutil.GPG, id *Identity, msg string) {
	t.Helper()
	var sig bytes.Buffer
	if err := openpgp.DetachSign(&sig, []*openpgp.Entity{id.Entity()}, strings.NewReader(msg), Config(nil)); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := g.Run(nil, "--verify", g.File("msg.sig", sig.Bytes()), g.File("msg", []byte(msg)))
	if err != nil || !bytes.Contains(stderr, []byte("Good signature")) {
		t.Fatalf("gpg --verify: %v\n%s", err, stderr)
	}
}

// TestGPGSecretKeyImport: a key GnuPG made and exported with a passphrase is
// imported with that passphrase, and works both ways with gpg.
func TestGPGSecretKeyImport(t *testing.T) {
	g := testutil.NewGPG(t)
	const pass, addr = "gpg pass phrase", "x@y.z"
	g.Must(nil, "--passphrase", pass, "--quick-gen-key", "<"+addr+">", "ed25519", "sign", "0")
	fpr := colons(g.Must(nil, "--with-colons", "--list-keys", addr), "fpr")[0][9]
	g.Must(nil, "--passphrase", pass, "--quick-add-key", fpr, "cv25519", "encr", "0")
	exported := g.Must(nil, "--passphrase", pass, "--armor", "--export-secret-keys", fpr)

	if _, err := ImportPrivate(exported, []byte("not the pass phrase")); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v, want ErrWrongPassphrase", err)
	}
	id, err := ImportPrivate(exported, []byte(pass))
	if err != nil {
		t.Fatal(err)
	}
	if id.Fingerprint().String() != fpr || id.Addr() != addr {
		t.Fatalf("imported %s %s, gpg has %s %s", id.Fingerprint(), id.Addr(), fpr, addr)
	}

	// gpg encrypts to its key, we decrypt; we sign, gpg verifies.
	const msg = "status"
	ct := g.Must([]byte(msg), "--trust-model", "always", "--recipient", addr, "--encrypt")
	readAs(t, ct, openpgp.EntityList{id.Entity()}, msg)
	gpgVerifies(t, g, id, "turn on")

	// The imported identity survives our own store.
	dir := t.TempDir()
	if err := SaveWithKDF(dir, id, []byte("ours"), testKDF); err != nil {
		t.Fatal(err)
	}
	back, err := Load(dir, []byte("ours"))
	if err != nil {
		t.Fatal(err)
	}
	readAs(t, ct, openpgp.EntityList{back.Entity()}, msg)
}

// TestGPGImportsOurSecretKey: our passphrase-protected export imports into
// GnuPG 2.2, which then decrypts and signs with it.
func TestGPGImportsOurSecretKey(t *testing.T) {
	g := testutil.NewGPG(t)
	id, err := New("lamp@home.example", "Desk Lamp")
	if err != nil {
		t.Fatal(err)
	}
	const pass = "our pass phrase"
	exported, err := id.ExportPrivate([]byte(pass))
	if err != nil {
		t.Fatal(err)
	}
	packets := g.Must(nil, "--list-packets", g.File("secret.asc", []byte(exported)))
	if n := bytes.Count(packets, []byte("iter+salt S2K, algo: 9, SHA1 protection")); n != 2 {
		t.Fatalf("want 2 secret keys under iterated S2K, AES-256, SHA-1 check; gpg sees:\n%s", packets)
	}

	g.Must([]byte(exported), "--passphrase", pass, "--import")
	list := g.Must(nil, "--with-colons", "--list-secret-keys")
	sec, ssb := colons(list, "sec"), colons(list, "ssb")
	fprs := colons(list, "fpr")
	if len(sec) != 1 || len(ssb) != 1 || fprs[0][9] != id.Fingerprint().String() {
		t.Fatalf("gpg --list-secret-keys:\n%s", list)
	}
	// Field 15 is "+" when the secret key is present (not a stub).
	if sec[0][14] != "+" || ssb[0][14] != "+" {
		t.Fatalf("secret key material missing in gpg:\n%s", list)
	}

	// gpg needs our passphrase to use the key: wrong fails, right decrypts.
	// gpg encrypts the message itself: go-crypto would write SEIPDv2, which
	// our key advertises and gpg 2.2 cannot read.
	ct := g.Must([]byte("on"), "--trust-model", "always", "--recipient", id.Addr(), "--encrypt")
	if _, stderr, err := g.Run(ct, "--passphrase", "wrong", "--decrypt"); err == nil || !bytes.Contains(stderr, []byte("Bad passphrase")) {
		t.Fatalf("gpg with a wrong passphrase: %v\n%s", err, stderr)
	}
	if out := g.Must(ct, "--passphrase", pass, "--decrypt"); string(out) != "on" {
		t.Fatalf("gpg decrypted %q", out)
	}

	// gpg signs with the imported key; we verify with our public key.
	sig := g.Must([]byte("off"), "--passphrase", pass, "--local-user", id.Fingerprint().String(), "--detach-sign")
	if _, _, err := openpgp.VerifyDetachedSignature(openpgp.EntityList{id.Public().Entity()},
		strings.NewReader("off"), bytes.NewReader(sig), Config(nil)); err != nil {
		t.Fatalf("verify gpg's signature: %v", err)
	}
}

// TestGPGImportsOurPublicKey: gpg imports our armored public key and our
// Autocrypt keydata, encrypts to them and verifies our signatures.
func TestGPGImportsOurPublicKey(t *testing.T) {
	g := testutil.NewGPG(t)
	lamp := newID(t, "lamp@home.example")
	sensor := newID(t, "sensor@home.example")
	keydata, err := base64.StdEncoding.DecodeString(sensor.Keydata())
	if err != nil {
		t.Fatal(err)
	}
	g.Must([]byte(lamp.Armor()), "--import")
	g.Must(keydata, "--import")

	for _, id := range []*Identity{lamp, sensor} {
		list := g.Must(nil, "--with-colons", "--list-keys", id.Fingerprint().String())
		uids := colons(list, "uid")
		if fpr := colons(list, "fpr")[0][9]; fpr != id.Fingerprint().String() ||
			len(uids) != 1 || uids[0][9] != "<"+id.Addr()+">" {
			t.Fatalf("gpg --list-keys:\n%s", list)
		}
		ct := g.Must([]byte("on"), "--trust-model", "always", "--recipient", id.Addr(), "--encrypt")
		readAs(t, ct, openpgp.EntityList{id.Entity()}, "on")
		gpgVerifies(t, g, id, "event: door opened")
	}
}
