package keystore

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// Sentinel errors callers decide on.
var (
	// ErrBadAddress means an address is not a plain addr-spec.
	ErrBadAddress = errors.New("keystore: bad address")
	// ErrNotPrivate means a key was expected to hold secret material and does not.
	ErrNotPrivate = errors.New("keystore: not a private key")
	// ErrBadKey means key material could not be parsed or has the wrong shape.
	ErrBadKey = errors.New("keystore: bad key")
)

// Fingerprint is a v4 OpenPGP primary key fingerprint.
type Fingerprint [20]byte

// String is the upper-case hex form used on the wire (QR codes, Securejoin).
func (f Fingerprint) String() string { return strings.ToUpper(hex.EncodeToString(f[:])) }

// Human is the form shown to people: groups of four hex digits.
func (f Fingerprint) Human() string {
	s := f.String()
	var b strings.Builder
	for i := 0; i < len(s); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i : i+4])
	}
	return b.String()
}

// ParseFingerprint reads 40 hex digits, ignoring spaces and case.
func ParseFingerprint(s string) (Fingerprint, error) {
	var f Fingerprint
	s = strings.ReplaceAll(s, " ", "")
	if len(s) != 40 {
		return f, fmt.Errorf("%w: fingerprint %q is not 40 hex digits", ErrBadKey, s)
	}
	if _, err := hex.Decode(f[:], []byte(s)); err != nil {
		return f, fmt.Errorf("%w: fingerprint %q: %v", ErrBadKey, s, err)
	}
	return f, nil
}

func fingerprintOf(e *openpgp.Entity) (Fingerprint, error) {
	var f Fingerprint
	if e == nil || e.PrimaryKey == nil || len(e.PrimaryKey.Fingerprint) != len(f) {
		return f, fmt.Errorf("%w: not a v4 key", ErrBadKey)
	}
	copy(f[:], e.PrimaryKey.Fingerprint)
	return f, nil
}

// Config is the OpenPGP configuration every Thingpost key and message uses:
// Ed25519/Curve25519 keys, SHA-256, AES-128, AEAD OCB advertised (SEIPDv2).
// now may be nil for the wall clock.
func Config(now func() time.Time) *packet.Config {
	return &packet.Config{
		Algorithm:     packet.PubKeyAlgoEdDSA,
		Curve:         packet.Curve25519,
		DefaultHash:   crypto.SHA256,
		DefaultCipher: packet.CipherAES128,
		AEADConfig:    &packet.AEADConfig{DefaultMode: packet.AEADModeOCB},
		Time:          now,
	}
}

// NormalizeAddr checks that addr is a bare addr-spec and returns it lower-cased.
func NormalizeAddr(addr string) (string, error) {
	a, err := mail.ParseAddress(addr)
	if err != nil || a.Name != "" || a.Address != addr || !strings.Contains(addr, "@") {
		return "", fmt.Errorf("%w: %q", ErrBadAddress, addr)
	}
	return strings.ToLower(addr), nil
}

// PublicKey is a peer's (or our own) public key with the address it is bound to.
type PublicKey struct {
	entity *openpgp.Entity
	addr   string
	fpr    Fingerprint
}

// Identity is our own key pair, unlocked and ready to sign and decrypt.
type Identity struct {
	PublicKey
	name string
}

// New creates a fresh identity for addr with an optional display name.
func New(addr, name string) (*Identity, error) {
	addr, err := NormalizeAddr(addr)
	if err != nil {
		return nil, err
	}
	// go-crypto formats the User ID as "name <email>"; with no name Delta
	// Chat's "<addr>" form is wanted, so build the ID without a name part.
	e, err := openpgp.NewEntity(name, "", addr, Config(nil))
	if err != nil {
		return nil, fmt.Errorf("generate key for %s: %w", addr, err)
	}
	return identityFromEntity(e, name)
}

func identityFromEntity(e *openpgp.Entity, name string) (*Identity, error) {
	if e.PrivateKey == nil {
		return nil, ErrNotPrivate
	}
	pk, err := publicFromEntity(e)
	if err != nil {
		return nil, err
	}
	return &Identity{PublicKey: *pk, name: name}, nil
}

func publicFromEntity(e *openpgp.Entity) (*PublicKey, error) {
	fpr, err := fingerprintOf(e)
	if err != nil {
		return nil, err
	}
	addr, err := entityAddr(e)
	if err != nil {
		return nil, err
	}
	return &PublicKey{entity: e, addr: addr, fpr: fpr}, nil
}

// entityAddr returns the address of the key's primary User ID.
func entityAddr(e *openpgp.Entity) (string, error) {
	_, id := e.PrimaryIdentity(time.Now(), nil)
	if id == nil || id.UserId == nil || id.UserId.Email == "" {
		return "", fmt.Errorf("%w: key has no valid User ID with an address", ErrBadKey)
	}
	return NormalizeAddr(id.UserId.Email)
}

// Addr is the lower-case address the key is bound to.
func (k *PublicKey) Addr() string { return k.addr }

// Fingerprint of the primary key.
func (k *PublicKey) Fingerprint() Fingerprint { return k.fpr }

// Entity gives the go-crypto entity for the envelope and securejoin packages.
// For an Identity it holds the unlocked private key: never serialise it
// without going through this package.
func (k *PublicKey) Entity() *openpgp.Entity { return k.entity }

// Bytes is the binary transferable public key (primary, User ID, self
// signature, subkey, binding), as carried in Autocrypt keydata.
func (k *PublicKey) Bytes() []byte {
	var b bytes.Buffer
	if err := k.entity.Serialize(&b); err != nil {
		// Serialize only fails on writer errors; bytes.Buffer has none.
		panic(fmt.Sprintf("serialize public key: %v", err))
	}
	return b.Bytes()
}

// Name is the display name given at creation or import ("" if none).
func (id *Identity) Name() string { return id.name }

// Public returns the public half as a PublicKey.
func (id *Identity) Public() *PublicKey { return &id.PublicKey }
