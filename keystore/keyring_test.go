package keystore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

func fprs(keys []*PublicKey) []Fingerprint {
	var out []Fingerprint
	for _, k := range keys {
		out = append(out, k.Fingerprint())
	}
	return out
}

func TestKeyringSemantics(t *testing.T) {
	var kr Keyring
	alice1 := newID(t, "alice@home.example")
	alice2 := newID(t, "Alice@Home.Example")
	bob := newID(t, "bob@home.example")

	for _, id := range []*Identity{alice1, bob, alice2} {
		if err := kr.Add(id.Public()); err != nil {
			t.Fatal(err)
		}
	}
	if kr.Len() != 3 {
		t.Fatalf("Len %d", kr.Len())
	}
	if k, ok := kr.ByAddr("ALICE@home.example"); !ok || k.Fingerprint() != alice2.Fingerprint() {
		t.Fatalf("ByAddr gives %v, want the key added last", k)
	}
	if got := fprs(kr.AllByAddr("alice@home.example")); len(got) != 2 || got[0] != alice2.Fingerprint() || got[1] != alice1.Fingerprint() {
		t.Fatalf("AllByAddr %v", got)
	}
	if got := fprs(kr.All()); len(got) != 3 || got[0] != alice1.Fingerprint() || got[2] != alice2.Fingerprint() {
		t.Fatalf("All %v", got)
	}
	if k, ok := kr.ByFingerprint(bob.Fingerprint()); !ok || k.Addr() != "bob@home.example" {
		t.Fatal("ByFingerprint(bob)")
	}
	if _, ok := kr.ByAddr("carol@home.example"); ok {
		t.Fatal("found carol")
	}
	if _, ok := kr.ByAddr("not an address"); ok {
		t.Fatal("found a bad address")
	}

	// Adding alice1 again makes it current again, without a duplicate.
	if err := kr.Add(alice1.Public()); err != nil {
		t.Fatal(err)
	}
	if k, _ := kr.ByAddr("alice@home.example"); k.Fingerprint() != alice1.Fingerprint() || kr.Len() != 3 {
		t.Fatalf("after re-adding: current %s, Len %d", k.Fingerprint(), kr.Len())
	}

	if !kr.Remove(alice1.Fingerprint()) || kr.Remove(alice1.Fingerprint()) {
		t.Fatal("Remove reported wrongly")
	}
	if k, _ := kr.ByAddr("alice@home.example"); k.Fingerprint() != alice2.Fingerprint() {
		t.Fatal("after removing the current key the older one is not current")
	}
	if _, ok := kr.ByFingerprint(alice1.Fingerprint()); ok {
		t.Fatal("removed key still found")
	}
}

func TestKeyringAddRefuses(t *testing.T) {
	var kr Keyring
	id := newID(t, "lamp@home.example")

	// A stored keyring stays readable when a key in it expires, but the
	// expired key cannot be added anew.
	var stored Keyring
	if err := stored.UnmarshalBinary(keyringDoc(t, dearmor(t, readFixture(t, "expired.pub.asc")))); err != nil {
		t.Fatalf("keyring holding an expired key: %v", err)
	}
	expired := stored.All()[0]

	tests := []struct {
		name string
		k    *PublicKey
	}{
		{"nil", nil},
		{"zero", &PublicKey{}},
		{"identity with secret key", &id.PublicKey},
		{"expired", expired},
	}
	for _, tt := range tests {
		if err := kr.Add(tt.k); !errors.Is(err, ErrBadKey) {
			t.Errorf("%s: %v, want ErrBadKey", tt.name, err)
		} else {
			t.Logf("%s: %v", tt.name, err)
		}
	}
	if kr.Len() != 0 {
		t.Fatal("refused keys were added")
	}
}

// keyringDoc builds a keyring document around raw key bytes.
func keyringDoc(t *testing.T, keys ...[]byte) []byte {
	t.Helper()
	b, err := json.Marshal(&keyringJSON{Format: keyringFormat, Version: keyringVersion, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func dearmor(t *testing.T, b []byte) []byte {
	t.Helper()
	block, err := armor.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(block.Body)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestKeyringMarshal(t *testing.T) {
	var kr Keyring
	rsa, err := ImportPublic(readFixture(t, "rsa.pub.asc"))
	if err != nil {
		t.Fatal(err)
	}
	keys := []*PublicKey{newID(t, "a@home.example").Public(), rsa, newID(t, "a@home.example").Public()}
	for _, k := range keys {
		if err := kr.Add(k); err != nil {
			t.Fatal(err)
		}
	}
	b, err := kr.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var back Keyring
	if err := back.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	all := back.All()
	if len(all) != len(keys) {
		t.Fatalf("%d keys back, want %d", len(all), len(keys))
	}
	for i, k := range all {
		if k.Fingerprint() != keys[i].Fingerprint() || k.Addr() != keys[i].Addr() || !bytes.Equal(k.Bytes(), keys[i].Bytes()) {
			t.Fatalf("key %d differs", i)
		}
	}
	if k, _ := back.ByAddr("a@home.example"); k.Fingerprint() != keys[2].Fingerprint() {
		t.Fatal("current key not kept")
	}

	var empty Keyring
	eb, err := empty.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := back.UnmarshalBinary(eb); err != nil || back.Len() != 0 {
		t.Fatalf("empty keyring: %v, Len %d", err, back.Len())
	}

	bad := []struct {
		name string
		data string
	}{
		{"empty", ""},
		{"garbage", "\x00garbage"},
		{"truncated", string(b[:len(b)/2])},
		{"trailing", string(b) + "[]"},
		{"newer version", `{"format":"thingpost-keyring","version":2,"keys":[]}`},
		{"other format", `{"format":"x","version":1,"keys":[]}`},
		{"unknown field", `{"format":"thingpost-keyring","version":1,"keys":[],"x":1}`},
		{"bad key", `{"format":"thingpost-keyring","version":1,"keys":["AAAA"]}`},
		{"armored key", string(keyringDoc(t, []byte(rsa.Armor())))},
		{"secret key", string(keyringDoc(t, secretBytes(t, newID(t, "s@home.example"))))},
		{"key without encryption subkey", string(keyringDoc(t, dearmor(t, readFixture(t, "sign-only.pub.asc"))))},
		{"duplicate", string(keyringDoc(t, rsa.Bytes(), keys[0].Bytes(), rsa.Bytes()))},
	}
	for _, tt := range bad {
		if err := kr.UnmarshalBinary([]byte(tt.data)); err == nil {
			t.Errorf("%s: accepted", tt.name)
		} else {
			t.Logf("%s: %v", tt.name, err)
		}
		if kr.Len() != 3 {
			t.Fatalf("%s: failed Unmarshal changed the keyring", tt.name)
		}
	}
}

// TestKeyringConcurrent runs under -race: lookups, adds, marshalling and
// encryption to shared entities at the same time.
func TestKeyringConcurrent(t *testing.T) {
	var kr Keyring
	from := newID(t, "app@home.example")
	ids := make([]*Identity, 4)
	for i := range ids {
		ids[i] = newID(t, fmt.Sprintf("thing%d@home.example", i))
		if err := kr.Add(ids[i].Public()); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				k, ok := kr.ByAddr(fmt.Sprintf("thing%d@home.example", (g+i)%len(ids)))
				if !ok {
					errs <- errors.New("key vanished")
					return
				}
				w, err := openpgp.Encrypt(io.Discard, []*openpgp.Entity{k.Entity()}, nil, []*openpgp.Entity{from.Entity()}, nil, Config(nil))
				if err == nil {
					_, err = io.WriteString(w, "on")
				}
				if err == nil {
					err = w.Close()
				}
				if err != nil {
					errs <- err
					return
				}
				if i%5 == 0 {
					if err := kr.Add(ids[g].Public()); err != nil {
						errs <- err
						return
					}
					if _, err := kr.MarshalBinary(); err != nil {
						errs <- err
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
