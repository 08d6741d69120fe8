package keystore

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// Sentinel errors callers decide on.
var (
	// ErrBadAddress means an address is not a plain addr-spec.
	ErrBadAddress = errors.New("bad address")
	// ErrNotPrivate means a key was expected to hold secret material and does not.
	ErrNotPrivate = errors.New("not a private key")
	// ErrBadKey means key material could not be parsed or has the wrong shape.
	ErrBadKey = errors.New("bad key")
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
	// min is the minimal transferable public key (see Bytes).
	min []byte
}

// Identity is our own key pair, unlocked and ready to sign and decrypt.
type Identity struct {
	PublicKey
	name string
	pub  *PublicKey
}

// New creates a fresh identity for addr with an optional display name.
func New(addr, name string) (*Identity, error) {
	addr, err := NormalizeAddr(addr)
	if err != nil {
		return nil, err
	}
	// An empty name makes go-crypto write the User ID "<addr>", the form
	// Delta Chat uses; with a name it is "Name <addr>".
	cfg := Config(nil)
	e, err := openpgp.NewEntity(name, "", addr, cfg)
	if err != nil {
		return nil, fmt.Errorf("generate key for %s: %w", addr, err)
	}
	return newIdentity(e, cfg.Now())
}

// shape is what checkShape selected from an entity.
type shape struct {
	fpr      Fingerprint
	addr     string
	name     string
	sign     openpgp.Key
	enc      openpgp.Key
	minimal  []byte
	uid      *packet.UserId
	uidSig   *packet.Signature
	primSign bool
}

// checkShape verifies that e is a key Thingpost can use at date: OpenPGP
// v4, not revoked or expired, a valid User ID with an address, a valid
// signing key and a valid encryption subkey. A zero date skips the expiry
// checks (for keys read back from our own storage, which must not become
// unreadable when they expire). It returns what it selected.
func checkShape(e *openpgp.Entity, date time.Time) (*shape, error) {
	if e == nil || e.PrimaryKey == nil {
		return nil, fmt.Errorf("%w: no primary key", ErrBadKey)
	}
	if v := e.PrimaryKey.Version; v != 4 {
		return nil, fmt.Errorf("%w: OpenPGP v%d key, want v4", ErrBadKey, v)
	}
	fpr, err := fingerprintOf(e)
	if err != nil {
		return nil, err
	}
	cfg := Config(nil)
	if _, err := e.VerifyPrimaryKey(date, cfg); err != nil {
		return nil, fmt.Errorf("%w: primary key %s: %v", ErrBadKey, fpr, err)
	}
	uidSig, ident := e.PrimaryIdentity(date, cfg)
	if ident == nil || ident.UserId == nil || ident.UserId.Email == "" {
		return nil, fmt.Errorf("%w: key %s has no valid User ID with an address", ErrBadKey, fpr)
	}
	addr, err := NormalizeAddr(ident.UserId.Email)
	if err != nil {
		return nil, fmt.Errorf("%w: key %s: User ID %q: %v", ErrBadKey, fpr, ident.Name, err)
	}
	sign, ok := e.SigningKey(date, cfg)
	if !ok {
		return nil, fmt.Errorf("%w: key %s has no valid signing key", ErrBadKey, fpr)
	}
	enc, err := e.EncryptionKeyWithError(date, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: key %s has no valid encryption key: %v", ErrBadKey, fpr, err)
	}
	if enc.PublicKey == e.PrimaryKey {
		return nil, fmt.Errorf("%w: key %s has no encryption subkey", ErrBadKey, fpr)
	}
	s := &shape{
		fpr: fpr, addr: addr, name: ident.UserId.Name,
		sign: sign, enc: enc,
		uid: ident.UserId, uidSig: uidSig,
		primSign: sign.PublicKey == e.PrimaryKey,
	}
	if s.minimal, err = s.serializeMinimal(e); err != nil {
		return nil, fmt.Errorf("%w: key %s: %v", ErrBadKey, fpr, err)
	}
	return s, nil
}

// serializeMinimal writes the transferable public key reduced to what a peer
// needs, the form Autocrypt carries: primary key, the primary User ID and its
// self-signature, the signing subkey and its binding (only when the primary
// key does not sign), the encryption subkey and its binding.
func (s *shape) serializeMinimal(e *openpgp.Entity) ([]byte, error) {
	var b bytes.Buffer
	parts := []interface{ Serialize(io.Writer) error }{e.PrimaryKey, s.uid, s.uidSig}
	if !s.primSign {
		parts = append(parts, s.sign.PublicKey, s.sign.SelfSignature)
	}
	parts = append(parts, s.enc.PublicKey, s.enc.SelfSignature)
	for _, p := range parts {
		if err := p.Serialize(&b); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

// parseMinimal reads back what serializeMinimal wrote as a public-only entity.
func parseMinimal(b []byte) (*openpgp.Entity, error) {
	return openpgp.ReadEntity(packet.NewReader(bytes.NewReader(b)))
}

// newPublicKey validates a public-only entity at date and keeps its minimal form.
func newPublicKey(e *openpgp.Entity, date time.Time) (*PublicKey, error) {
	if e != nil && e.PrivateKey != nil {
		return nil, fmt.Errorf("%w: secret key material where a public key was expected", ErrBadKey)
	}
	s, err := checkShape(e, date)
	if err != nil {
		return nil, err
	}
	return s.publicKey()
}

// publicKey rereads the minimal form as a public-only entity. Checking it
// again also has go-crypto verify and cache the validity of each of its
// signatures now, so that later use of the entity only reads them.
func (s *shape) publicKey() (*PublicKey, error) {
	pub, err := parseMinimal(s.minimal)
	if err != nil {
		return nil, fmt.Errorf("%w: key %s: reread minimal key: %v", ErrBadKey, s.fpr, err)
	}
	again, err := checkShape(pub, time.Time{})
	if err != nil {
		return nil, fmt.Errorf("key %s: minimal key: %w", s.fpr, err)
	}
	if again.fpr != s.fpr || again.addr != s.addr {
		return nil, fmt.Errorf("%w: key %s: minimal key differs", ErrBadKey, s.fpr)
	}
	return &PublicKey{entity: pub, addr: s.addr, fpr: s.fpr, min: s.minimal}, nil
}

// newIdentity validates an entity with unlocked secret keys at date.
func newIdentity(e *openpgp.Entity, date time.Time) (*Identity, error) {
	if e == nil || e.PrivateKey == nil {
		return nil, ErrNotPrivate
	}
	s, err := checkShape(e, date)
	if err != nil {
		return nil, err
	}
	for _, k := range []struct {
		use string
		key openpgp.Key
	}{{"signing", s.sign}, {"encryption", s.enc}} {
		switch pk := k.key.PrivateKey; {
		case pk == nil || pk.Dummy():
			return nil, fmt.Errorf("%w: key %s lacks the secret %s key", ErrNotPrivate, s.fpr, k.use)
		case pk.Encrypted:
			return nil, fmt.Errorf("%w: key %s: secret %s key is still locked", ErrNotPrivate, s.fpr, k.use)
		}
	}
	pub, err := s.publicKey()
	if err != nil {
		return nil, err
	}
	return &Identity{
		PublicKey: PublicKey{entity: e, addr: s.addr, fpr: s.fpr, min: s.minimal},
		name:      s.name,
		pub:       pub,
	}, nil
}

// Addr is the lower-case address the key is bound to.
func (k *PublicKey) Addr() string { return k.addr }

// Fingerprint of the primary key.
func (k *PublicKey) Fingerprint() Fingerprint { return k.fpr }

// Entity gives the go-crypto entity, for the code that does OpenPGP itself
// (envelope; the app seals its stored secrets with it).
// For an Identity it holds the unlocked private key: never serialise it
// without going through this package. go-crypto caches in the entity whether
// each signature verified; this package has already verified them, so
// several goroutines may use one entity at once as long as none modifies it.
func (k *PublicKey) Entity() *openpgp.Entity { return k.entity }

// Bytes is the binary transferable public key reduced to what a peer needs,
// as carried in Autocrypt keydata: primary key, User ID, self-signature,
// encryption subkey, binding signature (5 packets; 7 when a key from
// elsewhere signs with a subkey). Imported public keys keep only this much.
func (k *PublicKey) Bytes() []byte { return bytes.Clone(k.min) }

// Name is the display name in the User ID ("" if none).
func (id *Identity) Name() string { return id.name }

// Public returns the public half as a PublicKey whose entity holds no
// secret key material.
func (id *Identity) Public() *PublicKey { return id.pub }
