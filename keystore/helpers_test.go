package keystore

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// testKDF keeps tests fast; DefaultKDF is exercised by TestSaveDefaultKDF
// and BenchmarkUnlock.
var testKDF = KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

func newID(t testing.TB, addr string) *Identity {
	t.Helper()
	id, err := New(addr, "")
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// secretBytes is the identity's full secret key, to compare identities.
func secretBytes(t testing.TB, id *Identity) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := id.Entity().SerializePrivateWithoutSigning(&b, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// checkUsable proves an identity can sign and decrypt: it encrypts a message
// to pub, signed by from, and has id decrypt it and verify from's signature.
func checkUsable(t testing.TB, from *Identity, pub *PublicKey, id *Identity) {
	t.Helper()
	var ct bytes.Buffer
	w, err := openpgp.Encrypt(&ct, []*openpgp.Entity{pub.Entity()}, nil, []*openpgp.Entity{from.Entity()}, nil, Config(nil))
	if err != nil {
		t.Fatalf("encrypt: %v", err)
	}
	const msg = "set brightness 40"
	if _, err := io.WriteString(w, msg); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	md := readAs(t, ct.Bytes(), openpgp.EntityList{id.Entity(), from.Public().Entity()}, msg)
	fpr := from.Fingerprint()
	if !md.IsVerified || md.SignatureError != nil || md.SignedBy == nil ||
		!bytes.Equal(md.SignedBy.Entity.PrimaryKey.Fingerprint, fpr[:]) {
		t.Fatalf("signature not verified: %v", md.SignatureError)
	}
}

// readAs decrypts ct with keys and checks that it reads want; the details
// it returns say who signed (known once the body is read).
func readAs(t testing.TB, ct []byte, keys openpgp.EntityList, want string) *openpgp.MessageDetails {
	t.Helper()
	md, err := openpgp.ReadMessage(bytes.NewReader(ct), keys, nil, Config(nil))
	if err != nil {
		t.Fatalf("decrypt: %v", err)
	}
	got, err := io.ReadAll(md.UnverifiedBody)
	if err != nil {
		t.Fatalf("read message: %v", err)
	}
	if string(got) != want {
		t.Fatalf("message reads %q, want %q", got, want)
	}
	return md
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const fixturePass = "fixture-pass"
