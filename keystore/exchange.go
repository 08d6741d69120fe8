package keystore

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/ProtonMail/go-crypto/openpgp/s2k"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// maxKeySize bounds the key material read from untrusted input. Autocrypt
// keys are about 10 KiB at most; 1 MiB leaves room for a GnuPG key with
// many certifications.
const maxKeySize = 1 << 20

// ImportPrivate reads a secret key exported by GnuPG (gpg
// --export-secret-keys, armored or binary) or any OpenPGP implementation,
// unlocks it with passphrase (nil if the export is not protected) and checks
// its shape. Any algorithm go-crypto can sign and encrypt with is accepted
// (RSA too, as Delta Chat does); only v4 keys. A wrong passphrase gives
// ErrWrongPassphrase, a public key ErrNotPrivate.
func ImportPrivate(data, passphrase []byte) (*Identity, error) {
	e, err := readKey(data, openpgp.PrivateKeyType)
	if err != nil {
		return nil, fmt.Errorf("import secret key: %w", err)
	}
	if e.PrivateKey == nil {
		return nil, fmt.Errorf("import secret key: %w: this is a public key (export it with gpg --export-secret-keys)", ErrNotPrivate)
	}
	if locked(e) {
		if len(passphrase) == 0 {
			return nil, fmt.Errorf("import secret key: %w: the key is protected and no passphrase was given", ErrWrongPassphrase)
		}
		// A wrong passphrase shows as a failed checksum (CFB) or tag (AEAD).
		if err := e.DecryptPrivateKeys(passphrase); err != nil {
			return nil, fmt.Errorf("import secret key: %w (%v)", ErrWrongPassphrase, err)
		}
	}
	id, err := newIdentity(e, time.Now())
	if err != nil {
		return nil, fmt.Errorf("import secret key: %w", err)
	}
	return id, nil
}

func locked(e *openpgp.Entity) bool {
	if e.PrivateKey != nil && e.PrivateKey.Encrypted {
		return true
	}
	for _, s := range e.Subkeys {
		if s.PrivateKey != nil && s.PrivateKey.Encrypted {
			return true
		}
	}
	return false
}

// ImportPublic reads a peer's public key, armored or binary (Autocrypt
// keydata after base64 decoding), checks its shape and keeps only what a
// peer needs (see PublicKey.Bytes). Secret key material is refused.
func ImportPublic(data []byte) (*PublicKey, error) {
	e, err := readKey(data, openpgp.PublicKeyType)
	if err != nil {
		return nil, fmt.Errorf("import public key: %w", err)
	}
	k, err := newPublicKey(e, time.Now())
	if err != nil {
		return nil, fmt.Errorf("import public key: %w", err)
	}
	return k, nil
}

// ImportKeydata reads the keydata attribute of an Autocrypt or
// Autocrypt-Gossip header: base64, folding whitespace allowed.
func ImportKeydata(keydata string) (*PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(keydata), ""))
	if err != nil {
		return nil, fmt.Errorf("import keydata: %w: base64: %v", ErrBadKey, err)
	}
	return ImportPublic(b)
}

// readKey reads exactly one transferable key, armored (of type want) or binary.
func readKey(data []byte, want string) (*openpgp.Entity, error) {
	if len(data) > maxKeySize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrBadKey, len(data), maxKeySize)
	}
	var r io.Reader = bytes.NewReader(data)
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN ")) {
		block, err := armor.Decode(r)
		if err != nil {
			return nil, fmt.Errorf("%w: armor: %v", ErrBadKey, err)
		}
		switch {
		case block.Type == want:
		case block.Type == openpgp.PublicKeyType:
			return nil, fmt.Errorf("%w: got a public key block where a secret key was expected", ErrNotPrivate)
		case block.Type == openpgp.PrivateKeyType:
			return nil, fmt.Errorf("%w: got a secret key block where a public key was expected", ErrBadKey)
		default:
			return nil, fmt.Errorf("%w: armored %q, want %q", ErrBadKey, block.Type, want)
		}
		r = block.Body
	}
	return readSingleEntity(r)
}

// readSingleEntity reads one transferable key and requires that nothing
// follows it.
func readSingleEntity(r io.Reader) (e *openpgp.Entity, err error) {
	// go-crypto's parsers have panicked on malformed packets before
	// (ProtonMail/go-crypto#66, #327, both fixed); a key from a stranger's
	// mail must never bring the process down.
	defer func() {
		if p := recover(); p != nil {
			e, err = nil, fmt.Errorf("%w: malformed key (%v)", ErrBadKey, p)
		}
	}()
	packets := packet.NewReader(r)
	e, err = openpgp.ReadEntity(packets)
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: no key found", ErrBadKey)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	switch p, err := packets.Next(); {
	case errors.Is(err, io.EOF):
		return e, nil
	case err != nil:
		return nil, fmt.Errorf("%w: after the key: %v", ErrBadKey, err)
	default:
		return nil, fmt.Errorf("%w: more than one key (next packet %T)", ErrBadKey, p)
	}
}

// Armor returns Bytes armored ("-----BEGIN PGP PUBLIC KEY BLOCK"), for
// gpg --import or a person to copy.
func (k *PublicKey) Armor() string {
	b, err := armored(openpgp.PublicKeyType, func(w io.Writer) error {
		_, err := w.Write(k.min)
		return err
	})
	if err != nil {
		// Writing to a bytes.Buffer cannot fail.
		panic(fmt.Sprintf("keystore: armor public key: %v", err))
	}
	return string(b)
}

// Keydata is the Autocrypt keydata attribute: base64 of Bytes, unfolded.
func (k *PublicKey) Keydata() string { return base64.StdEncoding.EncodeToString(k.min) }

// exportConfig locks an exported secret key the way GnuPG 2.2 can read it:
// no AEAD (an AEADConfig makes go-crypto use S2K usage 253, which gpg 2.2
// rejects), so usage 254 (CFB + SHA-1 check) with iterated+salted SHA-256
// S2K at the largest count, and AES-256.
func exportConfig() *packet.Config {
	return &packet.Config{
		DefaultCipher: packet.CipherAES256,
		S2KConfig: &s2k.Config{
			S2KMode:  s2k.IteratedSaltedS2K,
			Hash:     crypto.SHA256,
			S2KCount: 65011712,
		},
	}
}

// ExportPrivate returns the secret key armored and locked with passphrase in
// the form GnuPG 2.2 imports (gpg --import). id itself stays unlocked.
func (id *Identity) ExportPrivate(passphrase []byte) (string, error) {
	if len(passphrase) == 0 {
		return "", fmt.Errorf("export secret key: %w", ErrEmptyPassphrase)
	}
	var secret bytes.Buffer
	defer func() { clear(secret.Bytes()) }()
	if err := id.entity.SerializePrivateWithoutSigning(&secret, nil); err != nil {
		return "", fmt.Errorf("export secret key: %w", err)
	}
	// Lock a copy: encrypting in place would lock id.
	e, err := readSingleEntity(bytes.NewReader(secret.Bytes()))
	if err != nil {
		return "", fmt.Errorf("export secret key: %w", err)
	}
	if err := e.EncryptPrivateKeys(passphrase, exportConfig()); err != nil {
		return "", fmt.Errorf("export secret key: %w", err)
	}
	b, err := armored(openpgp.PrivateKeyType, func(w io.Writer) error {
		return e.SerializePrivateWithoutSigning(w, nil)
	})
	if err != nil {
		return "", fmt.Errorf("export secret key: %w", err)
	}
	return string(b), nil
}

func armored(blockType string, write func(io.Writer) error) ([]byte, error) {
	var b bytes.Buffer
	w, err := armor.Encode(&b, blockType, nil)
	if err != nil {
		return nil, err
	}
	if err := write(w); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}
