package keystore

import "testing"

// BenchmarkNew measures key generation (Ed25519 primary, Curve25519 subkey).
func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		if _, err := New("lamp@home.example", ""); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnlock measures Load of an identity saved with DefaultKDF: the
// argon2id derivation dominates; B/op shows its memory.
func BenchmarkUnlock(b *testing.B) {
	dir := b.TempDir()
	id := newID(b, "lamp@home.example")
	pass := []byte("correct horse battery staple")
	if err := Save(dir, id, pass); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(dir, pass); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkImportPublic measures reading and checking a peer's key, as for
// every Autocrypt header.
func BenchmarkImportPublic(b *testing.B) {
	kd := newID(b, "lamp@home.example").Keydata()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ImportKeydata(kd); err != nil {
			b.Fatal(err)
		}
	}
}
