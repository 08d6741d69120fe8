package keystore

import (
	"bytes"
	"errors"
	"os"
	"testing"
)

// FuzzKeyFile feeds arbitrary identity files to the parser and, when they
// parse, to the unlock and key checks (with cheap KDF costs only).
func FuzzKeyFile(f *testing.F) {
	id := newID(f, "lamp@home.example")
	for _, save := range []func(dir string) error{
		func(dir string) error { return SaveWithKDF(dir, id, []byte("fuzz"), testKDF) },
		func(dir string) error { return SaveUnprotected(dir, id) },
	} {
		dir := f.TempDir()
		if err := save(dir); err != nil {
			f.Fatal(err)
		}
		b, err := os.ReadFile(keyPath(dir))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"format":"thingpost-identity","version":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		kf, err := parseKeyFile(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("parse error not ErrCorrupt: %v", err)
			}
			return
		}
		if kf.KDF != nil && (kf.KDF.MemoryKiB > testKDF.MemoryKiB || kf.KDF.Time > testKDF.Time) {
			return // valid but slower to unlock than the seed: same code, fewer execs
		}
		secret, err := kf.open([]byte("fuzz"))
		if err != nil {
			if !errors.Is(err, ErrWrongPassphrase) && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("open error unclassified: %v", err)
			}
			return
		}
		got, err := kf.identity(secret)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("key error not ErrCorrupt: %v", err)
			}
			return
		}
		if got.Fingerprint().String() != kf.Fingerprint || got.Addr() != kf.Addr {
			t.Fatalf("loaded %s %s from a file naming %s %s", got.Fingerprint(), got.Addr(), kf.Fingerprint, kf.Addr)
		}
	})
}

func publicSeeds(f *testing.F) [][]byte {
	id := newID(f, "lamp@home.example")
	seeds := [][]byte{id.Bytes(), []byte(id.Armor())}
	for _, name := range []string{"rsa.pub.asc", "sign-only.pub.asc", "no-addr.pub.asc", "expired.pub.asc"} {
		seeds = append(seeds, readFixture(f, name))
	}
	return seeds
}

// FuzzImportPublic feeds arbitrary bytes to the public key import (armored,
// binary or Autocrypt keydata): every refusal is ErrBadKey, and every key
// accepted holds no secret and imports again unchanged from its Bytes.
func FuzzImportPublic(f *testing.F) {
	for _, s := range publicSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ImportPublic(b)
		if err != nil {
			if !errors.Is(err, ErrBadKey) {
				t.Fatalf("error not ErrBadKey: %v", err)
			}
			return
		}
		if k.Entity().PrivateKey != nil {
			t.Fatal("public key holds secret material")
		}
		again, err := ImportPublic(k.Bytes())
		if err != nil {
			t.Fatalf("reimport of accepted key: %v", err)
		}
		if again.Fingerprint() != k.Fingerprint() || again.Addr() != k.Addr() || !bytes.Equal(again.Bytes(), k.Bytes()) {
			t.Fatal("reimport differs")
		}
	})
}

// FuzzImportPrivate feeds arbitrary bytes to the secret key import without a
// passphrase (a protected key stops before the costly S2K).
func FuzzImportPrivate(f *testing.F) {
	id := newID(f, "lamp@home.example")
	secret := secretBytes(f, id)
	f.Add(secret)
	f.Add(readFixture(f, "ed-secret.asc"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := ImportPrivate(b, nil)
		if err != nil {
			if !errors.Is(err, ErrBadKey) && !errors.Is(err, ErrNotPrivate) && !errors.Is(err, ErrWrongPassphrase) {
				t.Fatalf("error unclassified: %v", err)
			}
			return
		}
		if got.Public().Entity().PrivateKey != nil {
			t.Fatal("public half holds secret material")
		}
	})
}

// FuzzKeyring feeds arbitrary bytes to Keyring.UnmarshalBinary: a failure
// leaves the keyring as it was, a success marshals back to the same keys.
func FuzzKeyring(f *testing.F) {
	// Two small Ed25519 keys: an RSA key makes every exec derived from the
	// seed several times slower (FuzzImportPublic fuzzes RSA keys).
	var kr Keyring
	for _, addr := range []string{"lamp@home.example", "desk@home.example"} {
		if err := kr.Add(newID(f, addr).Public()); err != nil {
			f.Fatal(err)
		}
	}
	b, err := kr.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"format":"thingpost-keyring","version":1,"keys":[]}`))
	first := newID(f, "first@home.example").Public()
	f.Fuzz(func(t *testing.T, b []byte) {
		r := Keyring{keys: []*PublicKey{first}}
		if err := r.UnmarshalBinary(b); err != nil {
			if r.Len() != 1 {
				t.Fatal("failed UnmarshalBinary changed the keyring")
			}
			return
		}
		out, err := r.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var again Keyring
		if err := again.UnmarshalBinary(out); err != nil {
			t.Fatalf("re-read of marshalled keyring: %v", err)
		}
		if again.Len() != r.Len() {
			t.Fatal("re-read keyring differs")
		}
	})
}
