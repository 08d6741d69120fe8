package keystore

import (
	"bytes"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"
)

// FileName is the identity file inside the directory given to Save and Load.
const FileName = "identity.key"

// Sentinel errors of the identity file.
var (
	// ErrWrongPassphrase means the passphrase does not unlock the key.
	ErrWrongPassphrase = errors.New("wrong passphrase")
	// ErrEmptyPassphrase means a passphrase was required and none was given.
	ErrEmptyPassphrase = errors.New("empty passphrase")
	// ErrUnprotected means Load found an identity stored without a
	// passphrase; LoadUnprotected reads it.
	ErrUnprotected = errors.New("identity is stored without a passphrase")
	// ErrProtected means LoadUnprotected found a passphrase-protected identity.
	ErrProtected = errors.New("identity is protected by a passphrase")
	// ErrCorrupt means a stored identity file or keyring is damaged,
	// truncated, not ours or of a newer version.
	ErrCorrupt = errors.New("stored data is corrupt")
	// ErrExists means Save would replace a different identity.
	ErrExists = errors.New("a different identity is already stored")
)

// The identity file is a small JSON document, so that a person can see what
// it is and a later version can change the KDF parameters or the cipher:
//
//	{"format":"thingpost-identity","version":1,
//	 "fingerprint":"<40 hex>","addr":"<addr>",
//	 "protection":"argon2id+xchacha20poly1305",
//	 "kdf":{"alg":"argon2id","time":10,"memory_kib":49152,"threads":1,"salt":"<b64>"},
//	 "check":"<b64>","nonce":"<b64>","key":"<b64>"}
//
// "key" is the binary OpenPGP transferable secret key, sealed with
// XChaCha20-Poly1305 under a key derived from the passphrase; everything
// else is the associated data, so no header field can be changed unnoticed.
// "check" lets a wrong passphrase be told apart from a damaged file. With
// "protection":"none" there is no kdf, check or nonce and "key" is the
// plain secret key (for things that must boot unattended).
const (
	fileFormat     = "thingpost-identity"
	fileVersion    = 1
	protectionNone = "none"
	protectionAEAD = "argon2id+xchacha20poly1305"
	kdfArgon2id    = "argon2id"
	saltLen        = 16
	checkLen       = 32
	maxFileSize    = 1 << 20
)

type keyFile struct {
	Format      string   `json:"format"`
	Version     int      `json:"version"`
	Fingerprint string   `json:"fingerprint"`
	Addr        string   `json:"addr"`
	Protection  string   `json:"protection"`
	KDF         *kdfJSON `json:"kdf,omitempty"`
	Check       []byte   `json:"check,omitempty"`
	Nonce       []byte   `json:"nonce,omitempty"`
	Key         []byte   `json:"key"`
}

type kdfJSON struct {
	Alg       string `json:"alg"`
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
	Salt      []byte `json:"salt"`
}

// KDFParams are the argon2id costs that lock an identity at rest.
type KDFParams struct {
	Time      uint32 // passes over memory
	MemoryKiB uint32 // memory in KiB
	Threads   uint8  // lanes
}

// DefaultKDF returns the argon2id costs Save uses: time=10, 48 MiB,
// 1 thread. Measured on the development machine (AMD EPYC, 2 cores shared,
// Go 1.26.8): argon2id alone 0.20-0.26 s; BenchmarkUnlock (a whole Load)
// 0.32-0.40 s/op and 50.4 MB/op with another job running. One thread keeps
// the time the same on single-core devices and when the other core is busy;
// 48 MiB stays below the 64 MiB budget. A slow device (an
// OpenWrt router) should store its identity with SaveWithKDF and lighter
// costs, or unprotected.
func DefaultKDF() KDFParams {
	return KDFParams{Time: 10, MemoryKiB: 48 << 10, Threads: 1}
}

// Limits accepted from a file: they keep a crafted file from making Load
// allocate or spin without bound.
const (
	maxKDFTime    = 256
	maxKDFMemory  = 256 << 10 // KiB, 256 MiB
	maxKDFThreads = 16
)

func (p KDFParams) validate() error {
	switch {
	case p.Time < 1 || p.Time > maxKDFTime:
		return fmt.Errorf("argon2id time %d outside 1..%d", p.Time, maxKDFTime)
	case p.Threads < 1 || p.Threads > maxKDFThreads:
		return fmt.Errorf("argon2id threads %d outside 1..%d", p.Threads, maxKDFThreads)
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxKDFMemory:
		return fmt.Errorf("argon2id memory %d KiB outside %d..%d", p.MemoryKiB, 8*uint32(p.Threads), maxKDFMemory)
	}
	return nil
}

// keys derives the AEAD key and the passphrase check value.
func (p KDFParams) keys(passphrase, salt []byte) (aeadKey, check []byte, err error) {
	master := argon2.IDKey(passphrase, salt, p.Time, p.MemoryKiB, p.Threads, 32)
	defer clear(master)
	aeadKey, err = hkdf.Key(sha256.New, master, nil, "thingpost keystore v1 aead key", chacha20poly1305.KeySize)
	if err != nil {
		return nil, nil, err
	}
	check, err = hkdf.Key(sha256.New, master, nil, "thingpost keystore v1 passphrase check", checkLen)
	return aeadKey, check, err
}

// associatedData binds every header field to the sealed key.
func (f *keyFile) associatedData() []byte {
	h := *f
	h.Key = nil
	ad, err := json.Marshal(&h)
	if err != nil {
		// Marshalling this struct of strings, ints and bytes cannot fail.
		panic(fmt.Sprintf("keystore: marshal header: %v", err))
	}
	return ad
}

// parseKeyFile reads and checks an identity file without unlocking it.
func parseKeyFile(b []byte) (*keyFile, error) {
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrCorrupt, len(b), maxFileSize)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, fmt.Errorf("%w: empty file", ErrCorrupt)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f keyFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the JSON document", ErrCorrupt)
	}
	if f.Format != fileFormat {
		return nil, fmt.Errorf("%w: format %q, want %q", ErrCorrupt, f.Format, fileFormat)
	}
	if f.Version != fileVersion {
		return nil, fmt.Errorf("%w: version %d not supported (this build reads version %d)", ErrCorrupt, f.Version, fileVersion)
	}
	fpr, err := ParseFingerprint(f.Fingerprint)
	if err != nil || fpr.String() != f.Fingerprint {
		return nil, fmt.Errorf("%w: fingerprint %q is not 40 upper-case hex digits", ErrCorrupt, f.Fingerprint)
	}
	if a, err := NormalizeAddr(f.Addr); err != nil || a != f.Addr {
		return nil, fmt.Errorf("%w: address %q is not a lower-case addr-spec", ErrCorrupt, f.Addr)
	}
	if len(f.Key) == 0 {
		return nil, fmt.Errorf("%w: no key", ErrCorrupt)
	}
	switch f.Protection {
	case protectionNone:
		if f.KDF != nil || f.Check != nil || f.Nonce != nil {
			return nil, fmt.Errorf("%w: unprotected file with kdf, check or nonce", ErrCorrupt)
		}
	case protectionAEAD:
		if f.KDF == nil || f.KDF.Alg != kdfArgon2id {
			return nil, fmt.Errorf("%w: protection %q needs kdf %q", ErrCorrupt, f.Protection, kdfArgon2id)
		}
		if err := f.kdfParams().validate(); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		switch {
		case len(f.KDF.Salt) < saltLen:
			return nil, fmt.Errorf("%w: salt of %d bytes, want at least %d", ErrCorrupt, len(f.KDF.Salt), saltLen)
		case len(f.Check) != checkLen:
			return nil, fmt.Errorf("%w: check value of %d bytes, want %d", ErrCorrupt, len(f.Check), checkLen)
		case len(f.Nonce) != chacha20poly1305.NonceSizeX:
			return nil, fmt.Errorf("%w: nonce of %d bytes, want %d", ErrCorrupt, len(f.Nonce), chacha20poly1305.NonceSizeX)
		case len(f.Key) <= chacha20poly1305.Overhead:
			return nil, fmt.Errorf("%w: sealed key of %d bytes is truncated", ErrCorrupt, len(f.Key))
		}
	default:
		return nil, fmt.Errorf("%w: protection %q not supported", ErrCorrupt, f.Protection)
	}
	return &f, nil
}

func (f *keyFile) kdfParams() KDFParams {
	return KDFParams{Time: f.KDF.Time, MemoryKiB: f.KDF.MemoryKiB, Threads: f.KDF.Threads}
}

// open returns the secret key bytes, unsealing them with passphrase.
func (f *keyFile) open(passphrase []byte) ([]byte, error) {
	if f.Protection == protectionNone {
		return bytes.Clone(f.Key), nil
	}
	aeadKey, check, err := f.kdfParams().keys(passphrase, f.KDF.Salt)
	if err != nil {
		return nil, fmt.Errorf("derive key: %w", err)
	}
	defer clear(aeadKey)
	if subtle.ConstantTimeCompare(check, f.Check) != 1 {
		return nil, ErrWrongPassphrase
	}
	aead, err := chacha20poly1305.NewX(aeadKey)
	if err != nil {
		return nil, fmt.Errorf("derive key: %w", err)
	}
	plain, err := aead.Open(nil, f.Nonce, f.Key, f.associatedData())
	if err != nil {
		return nil, fmt.Errorf("%w: the passphrase is right but the sealed key or its header was altered", ErrCorrupt)
	}
	return plain, nil
}

// identity parses the unsealed secret key and checks it against the header.
func (f *keyFile) identity(secret []byte) (*Identity, error) {
	e, err := readSingleEntity(bytes.NewReader(secret))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	// Our own key stays loadable after it expires (go-crypto refuses to
	// sign with it then), so it can still decrypt and be renewed.
	id, err := newIdentity(e, time.Time{})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if id.Fingerprint().String() != f.Fingerprint || id.Addr() != f.Addr {
		return nil, fmt.Errorf("%w: header names %s %s, key is %s %s", ErrCorrupt,
			f.Addr, f.Fingerprint, id.Addr(), id.Fingerprint())
	}
	return id, nil
}

func newKeyFile(id *Identity) (*keyFile, []byte, error) {
	if id == nil || id.entity == nil || id.entity.PrivateKey == nil {
		return nil, nil, ErrNotPrivate
	}
	var secret bytes.Buffer
	// Without re-signing: the stored key keeps the exact signatures it has.
	if err := id.entity.SerializePrivateWithoutSigning(&secret, nil); err != nil {
		return nil, nil, fmt.Errorf("serialize secret key: %w", err)
	}
	// Store only what Load will accept: a file that cannot be read back
	// would lose the identity.
	// The header names what Load will find.
	e, err := readSingleEntity(bytes.NewReader(secret.Bytes()))
	var back *Identity
	if err == nil {
		back, err = newIdentity(e, time.Time{})
	}
	if err != nil {
		clear(secret.Bytes())
		return nil, nil, fmt.Errorf("identity %s would not load back: %w", id.Fingerprint(), err)
	}
	return &keyFile{
		Format:      fileFormat,
		Version:     fileVersion,
		Fingerprint: back.Fingerprint().String(),
		Addr:        back.Addr(),
	}, secret.Bytes(), nil
}

// Save stores id in dir, locked with passphrase through argon2id (DefaultKDF)
// and XChaCha20-Poly1305. See SaveWithKDF.
func Save(dir string, id *Identity, passphrase []byte) error {
	return SaveWithKDF(dir, id, passphrase, DefaultKDF())
}

// SaveWithKDF stores id in dir/FileName, locked with passphrase and the given
// argon2id costs. The file is written 0600 and replaced atomically; dir is
// created 0700 if missing. It refuses to replace a file holding a different
// or unreadable identity (ErrExists, ErrCorrupt): remove that file first if
// losing it is intended.
func SaveWithKDF(dir string, id *Identity, passphrase []byte, p KDFParams) error {
	if len(passphrase) == 0 {
		return fmt.Errorf("save identity: %w (use SaveUnprotected to store without one)", ErrEmptyPassphrase)
	}
	if err := p.validate(); err != nil {
		return fmt.Errorf("save identity: %w", err)
	}
	f, secret, err := newKeyFile(id)
	if err != nil {
		return fmt.Errorf("save identity: %w", err)
	}
	defer clear(secret)
	f.Protection = protectionAEAD
	f.KDF = &kdfJSON{Alg: kdfArgon2id, Time: p.Time, MemoryKiB: p.MemoryKiB, Threads: p.Threads,
		Salt: make([]byte, saltLen)}
	f.Nonce = make([]byte, chacha20poly1305.NonceSizeX)
	if _, err := rand.Read(f.KDF.Salt); err != nil {
		return fmt.Errorf("save identity: %w", err)
	}
	if _, err := rand.Read(f.Nonce); err != nil {
		return fmt.Errorf("save identity: %w", err)
	}
	aeadKey, check, err := p.keys(passphrase, f.KDF.Salt)
	if err != nil {
		return fmt.Errorf("save identity: derive key: %w", err)
	}
	defer clear(aeadKey)
	f.Check = check
	aead, err := chacha20poly1305.NewX(aeadKey)
	if err != nil {
		return fmt.Errorf("save identity: %w", err)
	}
	f.Key = aead.Seal(nil, f.Nonce, secret, f.associatedData())
	return writeKeyFile(dir, f)
}

// SaveUnprotected stores id in dir/FileName WITHOUT a passphrase, for a thing
// that must boot unattended: the key is then only as safe as the file's mode
// (0600) and the device. Otherwise as SaveWithKDF.
func SaveUnprotected(dir string, id *Identity) error {
	f, secret, err := newKeyFile(id)
	if err != nil {
		return fmt.Errorf("save identity: %w", err)
	}
	defer clear(secret)
	f.Protection = protectionNone
	f.Key = secret
	return writeKeyFile(dir, f)
}

// Load reads the passphrase-protected identity in dir. It returns
// ErrWrongPassphrase if passphrase does not unlock it, ErrUnprotected if it
// is stored without a passphrase, ErrCorrupt if the file is damaged, and an
// error matching fs.ErrNotExist if there is none. Loading never changes the
// file. An expired key still loads (to read old mail and to be renewed).
func Load(dir string, passphrase []byte) (*Identity, error) {
	f, path, err := readKeyFile(dir)
	if err != nil {
		return nil, fmt.Errorf("load identity %s: %w", path, err)
	}
	if f.Protection == protectionNone {
		return nil, fmt.Errorf("load identity %s: %w", path, ErrUnprotected)
	}
	if len(passphrase) == 0 {
		return nil, fmt.Errorf("load identity %s: %w: %w", path, ErrWrongPassphrase, ErrEmptyPassphrase)
	}
	return loadFrom(f, path, passphrase)
}

// LoadUnprotected reads an identity stored by SaveUnprotected. It returns
// ErrProtected if the identity needs a passphrase.
func LoadUnprotected(dir string) (*Identity, error) {
	f, path, err := readKeyFile(dir)
	if err != nil {
		return nil, fmt.Errorf("load identity %s: %w", path, err)
	}
	if f.Protection != protectionNone {
		return nil, fmt.Errorf("load identity %s: %w", path, ErrProtected)
	}
	return loadFrom(f, path, nil)
}

func loadFrom(f *keyFile, path string, passphrase []byte) (*Identity, error) {
	secret, err := f.open(passphrase)
	if err != nil {
		return nil, fmt.Errorf("load identity %s: %w", path, err)
	}
	defer clear(secret)
	id, err := f.identity(secret)
	if err != nil {
		return nil, fmt.Errorf("load identity %s: %w", path, err)
	}
	return id, nil
}

// IsProtected reports whether the identity in dir is locked by a passphrase.
func IsProtected(dir string) (bool, error) {
	f, path, err := readKeyFile(dir)
	if err != nil {
		return false, fmt.Errorf("identity %s: %w", path, err)
	}
	return f.Protection != protectionNone, nil
}

// ChangePassphrase re-locks the protected identity in dir with newPassphrase
// (and the current DefaultKDF costs), replacing the file atomically. With a
// wrong oldPassphrase it returns ErrWrongPassphrase and changes nothing. To
// protect an unprotected identity, LoadUnprotected then Save; to drop the
// passphrase, Load then SaveUnprotected.
func ChangePassphrase(dir string, oldPassphrase, newPassphrase []byte) error {
	if len(newPassphrase) == 0 {
		return fmt.Errorf("change passphrase: %w", ErrEmptyPassphrase)
	}
	id, err := Load(dir, oldPassphrase)
	if err != nil {
		return fmt.Errorf("change passphrase: %w", err)
	}
	if err := Save(dir, id, newPassphrase); err != nil {
		return fmt.Errorf("change passphrase: %w", err)
	}
	return nil
}

func readKeyFile(dir string) (*keyFile, string, error) {
	path := filepath.Join(dir, FileName)
	fh, err := os.Open(path)
	if err != nil {
		// The caller names the path; keep the cause (fs.ErrNotExist, ...).
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, path, err
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxFileSize+1))
	if err != nil {
		return nil, path, err
	}
	f, err := parseKeyFile(b)
	return f, path, err
}

func writeKeyFile(dir string, f *keyFile) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save identity: %w", err)
	}
	old, path, err := readKeyFile(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("save identity: not replacing unreadable %s: %w", path, err)
	case old.Fingerprint != f.Fingerprint:
		return fmt.Errorf("save identity %s: %w: %s %s is stored, refusing to replace it with %s %s",
			path, ErrExists, old.Addr, old.Fingerprint, f.Addr, f.Fingerprint)
	}
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("save identity: %w", err)
	}
	if err := writeFileAtomic(dir, FileName, append(b, '\n')); err != nil {
		return fmt.Errorf("save identity %s: %w", path, err)
	}
	return nil
}

// writeFileAtomic replaces dir/name with data so that a crash leaves either
// the old or the new file: a temporary file in the same directory, written
// and fsynced, renamed over the old one, then the directory fsynced.
func writeFileAtomic(dir, name string, data []byte) (err error) {
	tmp, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
