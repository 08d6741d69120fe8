package keystore

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func keyPath(dir string) string { return filepath.Join(dir, FileName) }

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkOnlyKeyFile asserts dir holds the key file, mode 0600, and no temp files.
func checkOnlyKeyFile(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != FileName {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("dir holds %v, want only %s", names, FileName)
	}
	fi, err := os.Stat(keyPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new-dir")
	id, err := New("Alice@Home.Example", "Alice")
	if err != nil {
		t.Fatal(err)
	}
	pass := []byte("correct horse battery staple")
	if err := SaveWithKDF(dir, id, pass, testKDF); err != nil {
		t.Fatal(err)
	}
	checkOnlyKeyFile(t, dir)
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v, %v; want 0700", fi.Mode().Perm(), err)
	}
	if bytes.Contains(readFile(t, keyPath(dir)), secretBytes(t, id)[10:40]) {
		t.Fatal("secret key material in the clear in a protected file")
	}
	if p, err := IsProtected(dir); err != nil || !p {
		t.Fatalf("IsProtected = %v, %v", p, err)
	}
	got, err := Load(dir, pass)
	if err != nil {
		t.Fatal(err)
	}
	if got.Fingerprint() != id.Fingerprint() || got.Addr() != "alice@home.example" || got.Name() != "Alice" {
		t.Fatalf("loaded %s %s %q", got.Fingerprint(), got.Addr(), got.Name())
	}
	if !bytes.Equal(secretBytes(t, got), secretBytes(t, id)) {
		t.Fatal("loaded secret key differs from the saved one")
	}
	if !bytes.Equal(got.Bytes(), id.Bytes()) {
		t.Fatal("loaded public key differs")
	}
	checkUsable(t, got, id.Public(), got)
}

func TestSaveDefaultKDF(t *testing.T) {
	dir := t.TempDir()
	id := newID(t, "lamp@home.example")
	pass := []byte("pw")
	if err := Save(dir, id, pass); err != nil {
		t.Fatal(err)
	}
	f, err := parseKeyFile(readFile(t, keyPath(dir)))
	if err != nil {
		t.Fatal(err)
	}
	if f.kdfParams() != DefaultKDF() || len(f.KDF.Salt) != saltLen {
		t.Fatalf("file records %+v salt %d bytes, want %+v", f.kdfParams(), len(f.KDF.Salt), DefaultKDF())
	}
	if _, err := Load(dir, pass); err != nil {
		t.Fatal(err)
	}
}

func TestWrongPassphraseChangesNothing(t *testing.T) {
	dir := t.TempDir()
	id := newID(t, "lamp@home.example")
	if err := SaveWithKDF(dir, id, []byte("right"), testKDF); err != nil {
		t.Fatal(err)
	}
	before := readFile(t, keyPath(dir))
	fiBefore, _ := os.Stat(keyPath(dir))
	for _, pass := range [][]byte{[]byte("wrong"), []byte("Right"), nil} {
		if _, err := Load(dir, pass); !errors.Is(err, ErrWrongPassphrase) {
			t.Errorf("Load(%q): %v, want ErrWrongPassphrase", pass, err)
		}
	}
	if err := ChangePassphrase(dir, []byte("wrong"), []byte("new")); !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("ChangePassphrase with wrong old: %v", err)
	}
	if !bytes.Equal(before, readFile(t, keyPath(dir))) {
		t.Fatal("file changed")
	}
	fiAfter, _ := os.Stat(keyPath(dir))
	if !fiAfter.ModTime().Equal(fiBefore.ModTime()) {
		t.Fatal("file rewritten")
	}
	checkOnlyKeyFile(t, dir)
}

func TestChangePassphrase(t *testing.T) {
	dir := t.TempDir()
	id := newID(t, "lamp@home.example")
	if err := SaveWithKDF(dir, id, []byte("old"), testKDF); err != nil {
		t.Fatal(err)
	}
	if err := ChangePassphrase(dir, []byte("old"), nil); !errors.Is(err, ErrEmptyPassphrase) {
		t.Fatalf("empty new passphrase: %v", err)
	}
	if err := ChangePassphrase(dir, []byte("old"), []byte("new")); err != nil {
		t.Fatal(err)
	}
	checkOnlyKeyFile(t, dir)
	if _, err := Load(dir, []byte("old")); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("old passphrase after change: %v", err)
	}
	got, err := Load(dir, []byte("new"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(secretBytes(t, got), secretBytes(t, id)) {
		t.Fatal("key changed with the passphrase")
	}
}

func TestUnprotected(t *testing.T) {
	dir := t.TempDir()
	id := newID(t, "sensor@home.example")
	if err := SaveUnprotected(dir, id); err != nil {
		t.Fatal(err)
	}
	checkOnlyKeyFile(t, dir)
	if p, err := IsProtected(dir); err != nil || p {
		t.Fatalf("IsProtected = %v, %v", p, err)
	}
	if _, err := Load(dir, []byte("pw")); !errors.Is(err, ErrUnprotected) {
		t.Fatalf("Load of unprotected: %v, want ErrUnprotected", err)
	}
	if err := ChangePassphrase(dir, []byte("x"), []byte("y")); !errors.Is(err, ErrUnprotected) {
		t.Fatalf("ChangePassphrase of unprotected: %v", err)
	}
	got, err := LoadUnprotected(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(secretBytes(t, got), secretBytes(t, id)) {
		t.Fatal("loaded key differs")
	}

	// Protect it, then LoadUnprotected must refuse.
	if err := SaveWithKDF(dir, got, []byte("now locked"), testKDF); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadUnprotected(dir); !errors.Is(err, ErrProtected) {
		t.Fatalf("LoadUnprotected of protected: %v, want ErrProtected", err)
	}
	checkOnlyKeyFile(t, dir)
}

func TestSaveRefusals(t *testing.T) {
	dir := t.TempDir()
	id := newID(t, "lamp@home.example")
	if err := SaveWithKDF(dir, id, nil, testKDF); !errors.Is(err, ErrEmptyPassphrase) {
		t.Fatalf("empty passphrase: %v", err)
	}
	if err := SaveWithKDF(dir, id, []byte("pw"), KDFParams{Time: 1, MemoryKiB: 4, Threads: 1}); err == nil {
		t.Fatal("accepted 4 KiB of argon2 memory")
	}
	if err := SaveWithKDF(dir, nil, []byte("pw"), testKDF); !errors.Is(err, ErrNotPrivate) {
		t.Fatalf("nil identity: %v", err)
	}
	// An identity whose secret keys were locked behind our back would not
	// load: it is refused rather than written.
	locked, err := ImportPrivate(secretBytes(t, id), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := locked.Entity().EncryptPrivateKeys([]byte("x"), exportConfig()); err != nil {
		t.Fatal(err)
	}
	if err := SaveUnprotected(dir, locked); !errors.Is(err, ErrNotPrivate) {
		t.Fatalf("locked identity: %v, want ErrNotPrivate", err)
	}
	if _, err := os.Stat(keyPath(dir)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a refused save wrote a file: %v", err)
	}

	if err := SaveWithKDF(dir, id, []byte("pw"), testKDF); err != nil {
		t.Fatal(err)
	}
	before := readFile(t, keyPath(dir))
	other := newID(t, "lamp@home.example")
	if err := SaveUnprotected(dir, other); !errors.Is(err, ErrExists) {
		t.Fatalf("saving a different identity over ours: %v, want ErrExists", err)
	}
	if !bytes.Equal(before, readFile(t, keyPath(dir))) {
		t.Fatal("file changed by a refused save")
	}
	// The same identity may be saved again (a new passphrase, unprotected).
	if err := SaveUnprotected(dir, id); err != nil {
		t.Fatal(err)
	}
	checkOnlyKeyFile(t, dir)

	// An unreadable file is not replaced either.
	if err := os.WriteFile(keyPath(dir), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := SaveUnprotected(dir, id); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("save over a corrupt file: %v, want ErrCorrupt", err)
	}
	if got := readFile(t, keyPath(dir)); string(got) != "{not json" {
		t.Fatal("corrupt file replaced")
	}
}

// editJSON rewrites the key file through a generic JSON map.
func editJSON(t *testing.T, b []byte, edit func(map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLoadBadFiles(t *testing.T) {
	id := newID(t, "lamp@home.example")
	pass := []byte("pw")
	protDir, plainDir := t.TempDir(), t.TempDir()
	if err := SaveWithKDF(protDir, id, pass, testKDF); err != nil {
		t.Fatal(err)
	}
	if err := SaveUnprotected(plainDir, id); err != nil {
		t.Fatal(err)
	}
	prot, plain := readFile(t, keyPath(protDir)), readFile(t, keyPath(plainDir))
	other := newID(t, "other@home.example")
	var otherSecret, publicOnly bytes.Buffer
	if err := other.Entity().SerializePrivateWithoutSigning(&otherSecret, nil); err != nil {
		t.Fatal(err)
	}
	publicOnly.Write(id.Bytes())

	flipLast := func(b []byte) []byte {
		return editJSON(t, b, func(m map[string]any) {
			k := []byte(m["key"].(string))
			// Flip a base64 digit well inside the sealed key.
			i := len(k) / 2
			if k[i] == 'A' {
				k[i] = 'B'
			} else {
				k[i] = 'A'
			}
			m["key"] = string(k)
		})
	}
	tests := []struct {
		name      string
		data      []byte
		protected bool
		want      error
	}{
		{"empty", []byte{}, true, ErrCorrupt},
		{"garbage", []byte("\x00\x01 not a key file"), true, ErrCorrupt},
		{"truncated", prot[:len(prot)/2], true, ErrCorrupt},
		{"trailing data", append(bytes.Clone(prot), "{}"...), true, ErrCorrupt},
		{"too large", append(bytes.Clone(prot), bytes.Repeat([]byte(" "), maxFileSize)...), true, ErrCorrupt},
		{"unknown field", editJSON(t, prot, func(m map[string]any) { m["extra"] = 1 }), true, ErrCorrupt},
		{"other format", editJSON(t, prot, func(m map[string]any) { m["format"] = "x" }), true, ErrCorrupt},
		{"newer version", editJSON(t, prot, func(m map[string]any) { m["version"] = 2 }), true, ErrCorrupt},
		{"unknown protection", editJSON(t, prot, func(m map[string]any) { m["protection"] = "rot13" }), true, ErrCorrupt},
		{"kdf memory too large", editJSON(t, prot, func(m map[string]any) { m["kdf"].(map[string]any)["memory_kib"] = 1 << 30 }), true, ErrCorrupt},
		{"kdf zero time", editJSON(t, prot, func(m map[string]any) { m["kdf"].(map[string]any)["time"] = 0 }), true, ErrCorrupt},
		{"short salt", editJSON(t, prot, func(m map[string]any) { m["kdf"].(map[string]any)["salt"] = "AAAA" }), true, ErrCorrupt},
		{"no nonce", editJSON(t, prot, func(m map[string]any) { delete(m, "nonce") }), true, ErrCorrupt},
		{"corrupted ciphertext", flipLast(prot), true, ErrCorrupt},
		// Header fields are associated data: altering one is noticed.
		{"altered address", editJSON(t, prot, func(m map[string]any) { m["addr"] = "mallory@home.example" }), true, ErrCorrupt},
		{"altered fingerprint", editJSON(t, prot, func(m map[string]any) { m["fingerprint"] = other.Fingerprint().String() }), true, ErrCorrupt},
		{"lower-case fingerprint", editJSON(t, prot, func(m map[string]any) {
			m["fingerprint"] = string(bytes.ToLower([]byte(m["fingerprint"].(string))))
		}), true, ErrCorrupt},
		// KDF costs feed the key derivation: altered, they derive another
		// key, which cannot be told from a wrong passphrase.
		{"altered kdf time", editJSON(t, prot, func(m map[string]any) { m["kdf"].(map[string]any)["time"] = 2 }), true, ErrWrongPassphrase},
		{"unprotected with kdf", editJSON(t, plain, func(m map[string]any) { m["kdf"] = map[string]any{"alg": "argon2id"} }), false, ErrCorrupt},
		{"unprotected corrupted key", flipLast(plain), false, ErrCorrupt},
		{"unprotected truncated key", editJSON(t, plain, func(m map[string]any) {
			k := m["key"].(string)
			m["key"] = k[:len(k)/2]
		}), false, ErrCorrupt},
		{"unprotected other key", editJSON(t, plain, func(m map[string]any) { m["key"] = otherSecret.Bytes() }), false, ErrCorrupt},
		{"unprotected public key", editJSON(t, plain, func(m map[string]any) { m["key"] = publicOnly.Bytes() }), false, ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(keyPath(dir), tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			var err error
			if tt.protected {
				_, err = Load(dir, pass)
			} else {
				_, err = LoadUnprotected(dir)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			t.Log(err)
			if !bytes.Equal(readFile(t, keyPath(dir)), tt.data) {
				t.Fatal("file changed")
			}
		})
	}

	t.Run("missing", func(t *testing.T) {
		if _, err := Load(t.TempDir(), pass); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("got %v, want fs.ErrNotExist", err)
		}
		if _, err := IsProtected(t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("IsProtected: got %v, want fs.ErrNotExist", err)
		}
	})
}
