package envelope

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/thingpost/thingpost/keystore"
)

// OpenPGP packet tags read here.
const (
	tagPKESK      = 1
	tagSKESK      = 3
	tagCompressed = 8
	tagSEIPD      = 18
)

// SymmetricOptions say how OpenSymmetric may decrypt and whom it expects.
type SymmetricOptions struct {
	// Passphrases are tried in order (the inviter tries every AUTH token
	// she holds).
	Passphrases [][]byte
	// Signer, when set, is the only key the message may be signed by, and
	// it must be signed (Securejoin vc-pubkey, the inviter's key known).
	// When Signer is nil and AutocryptSigner is zero the message must be
	// unsigned (vc-request-pubkey); a signed one fails with
	// ErrUnknownSigner, since there is nothing to check it with.
	Signer *keystore.PublicKey
	// AutocryptSigner, when Signer is nil and this is not zero, requires a
	// signature by the key in the message's protected Autocrypt header,
	// and that key must have this fingerprint (Securejoin vc-pubkey: the
	// joiner knows only the fingerprint from the QR code).
	AutocryptSigner keystore.Fingerprint
	// MaxSize, Now and ClockSkew as in OpenOptions.
	MaxSize   int64
	Now       time.Time
	ClockSkew time.Duration
}

// SymmetricMessage is a message OpenSymmetric decrypted with one of the
// passphrases.
type SymmetricMessage struct {
	Content
	// Passphrase is the index in SymmetricOptions.Passphrases of the one
	// that decrypted the message.
	Passphrase int
	// Signer is the key whose signature was verified: SymmetricOptions.
	// Signer, or the protected Autocrypt key with the fingerprint
	// SymmetricOptions.AutocryptSigner. It is nil when the message is
	// unsigned, which only happens when neither was given. There is no
	// third state: a signature that cannot be verified is an error.
	Signer *keystore.PublicKey
}

// OpenSymmetric opens a message sealed with SealSymmetric (or by Delta
// Chat for the Securejoin v3 steps). The OpenPGP message must have exactly
// one SKESK, v6 with S2K type 1 "Salted" (other S2K types are refused: an
// iterated or Argon2 S2K times every passphrase tried would be a cheap
// denial of service), and no PKESK. Errors wrap the same sentinels as
// Open; ErrDecrypt when no passphrase fits.
func OpenSymmetric(ctx context.Context, raw []byte, opts SymmetricOptions) (*SymmetricMessage, error) {
	m, err := openSymmetric(ctx, raw, &opts)
	if err != nil {
		return nil, fmt.Errorf("open symmetric envelope: %w", err)
	}
	return m, nil
}

func openSymmetric(ctx context.Context, raw []byte, o *SymmetricOptions) (*SymmetricMessage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	limit, now, skew := limits(o.MaxSize, o.Now, o.ClockSkew)
	outer, bin, err := readPayload(raw, limit)
	if err != nil {
		return nil, err
	}
	idx, err := o.passphraseFor(bin)
	if err != nil {
		return nil, err
	}
	d, err := decryptWith(bin, o.Passphrases[idx], limit, now)
	if err != nil {
		return nil, err
	}
	c, err := parseContent(d.data, outer, o.knownKeys)
	if err != nil {
		return nil, err
	}
	signer, err := o.expectedSigner(c)
	if err != nil {
		return nil, err
	}
	m := &SymmetricMessage{Content: *c, Passphrase: idx}
	if m.Signer, err = checkSymmetricSignature(d, signer, c.From, now.Add(skew)); err != nil {
		return nil, err
	}
	return m, nil
}

// passphraseFor returns the index of the first passphrase that opens the
// message's only SKESK.
func (o *SymmetricOptions) passphraseFor(bin []byte) (int, error) {
	ske, err := symmetricKey(bin)
	if err != nil {
		return -1, err
	}
	for i, p := range o.Passphrases {
		// A v6 SKESK is AEAD-protected: a wrong passphrase fails here.
		if _, _, err := ske.Decrypt(p); err == nil {
			return i, nil
		}
	}
	return -1, fmt.Errorf("%w: none of %d passphrases fits", ErrDecrypt, len(o.Passphrases))
}

// decryptWith decrypts bin with the passphrase that opened its SKESK and
// requires at most one signature.
func decryptWith(bin, passphrase []byte, limit int64, now time.Time) (*decrypted, error) {
	asked := false
	prompt := func([]openpgp.Key, bool) ([]byte, error) {
		if asked {
			return nil, errors.New("passphrase did not decrypt")
		}
		asked = true
		return passphrase, nil
	}
	d, err := safeDecrypt(bin, nil, prompt, limit, now)
	if err != nil {
		return nil, err
	}
	if len(d.sigs) > 1 {
		return nil, fmt.Errorf("%w: %d signatures, want at most one", ErrBadSignature, len(d.sigs))
	}
	return d, nil
}

// knownKeys offers Signer for its own address, to spare validating it
// again in an Autocrypt header.
func (o *SymmetricOptions) knownKeys(addr string) []*keystore.PublicKey {
	if o.Signer != nil && o.Signer.Addr() == addr {
		return []*keystore.PublicKey{o.Signer}
	}
	return nil
}

// expectedSigner returns the key the message must be signed by: Signer,
// or the protected Autocrypt key if it has the fingerprint AutocryptSigner,
// or nil when neither is given (then the message must be unsigned).
func (o *SymmetricOptions) expectedSigner(c *Content) (*keystore.PublicKey, error) {
	if o.Signer != nil || o.AutocryptSigner == (keystore.Fingerprint{}) {
		return o.Signer, nil
	}
	if c.Autocrypt == nil || c.AutocryptOuter || c.Autocrypt.Key.Fingerprint() != o.AutocryptSigner {
		return nil, fmt.Errorf("%w: no protected Autocrypt key with fingerprint %s", ErrUnknownSigner, o.AutocryptSigner)
	}
	return c.Autocrypt.Key, nil
}

// checkSymmetricSignature requires that d is signed exactly when signer is
// not nil, and then by signer, whose address must be from, no later than
// at. It returns the signer of a signed message, nil for an unsigned one.
func checkSymmetricSignature(d *decrypted, signer *keystore.PublicKey, from string, at time.Time) (*keystore.PublicKey, error) {
	switch {
	case len(d.sigs) == 0 && signer != nil:
		return nil, fmt.Errorf("%w: expected a signature by %s", ErrUnsigned, signer.Fingerprint())
	case len(d.sigs) == 0:
		return nil, nil
	case signer == nil:
		return nil, fmt.Errorf("%w: the message is signed and no signer key was given", ErrUnknownSigner)
	}
	sig := d.sigs[0]
	if _, err := safeVerify(d.data, sig, []*keystore.PublicKey{signer}, at); err != nil {
		if errors.Is(err, errUnknownIssuer) {
			return nil, fmt.Errorf("%w: not signed by %s", ErrUnknownSigner, signer.Fingerprint())
		}
		return nil, err
	}
	if signer.Addr() != from {
		return nil, fmt.Errorf("%w: signed by %s's key %s, but From is %s", ErrSignerMismatch, signer.Addr(), signer.Fingerprint(), from)
	}
	if err := notFuture(sig, at); err != nil {
		return nil, err
	}
	return signer, nil
}

// symmetricKey checks the packets in front of the encrypted data: exactly
// one SKESK, version 6, S2K type 1, and nothing else; it returns the SKESK.
func symmetricKey(bin []byte) (ske *packet.SymmetricKeyEncrypted, err error) {
	defer func() {
		if p := recover(); p != nil {
			ske, err = nil, fmt.Errorf("%w: openpgp parser panic: %v", ErrMalformed, p)
		}
	}()
	r := packet.NewOpaqueReader(bytes.NewReader(bin))
	for {
		op, err := r.Next()
		if err != nil {
			return nil, fmt.Errorf("%w: openpgp: %v", ErrMalformed, err)
		}
		switch op.Tag {
		case tagSKESK:
			if ske != nil {
				return nil, fmt.Errorf("%w: more than one SKESK", ErrDecrypt)
			}
			// v6: version, count of the next five fields' octets, cipher,
			// AEAD mode, S2K length, S2K (type 1, hash, 8-octet salt), IV.
			// go-crypto ignores the two lengths; they must be right here,
			// so that no octet of the message can change unnoticed.
			c := op.Contents
			if len(c) < 6 || c[0] != 6 || c[5] != 1 || c[4] != 10 {
				return nil, fmt.Errorf("%w: SKESK is not v6 with a Salted S2K", ErrDecrypt)
			}
			if iv := packet.AEADMode(c[3]).IvLength(); iv == 0 || int(c[1]) != 3+10+iv {
				return nil, fmt.Errorf("%w: SKESK field count %d does not match", ErrMalformed, c[1])
			}
			p, err := op.Parse()
			if err != nil {
				return nil, fmt.Errorf("%w: SKESK: %v", ErrMalformed, err)
			}
			var ok bool
			if ske, ok = p.(*packet.SymmetricKeyEncrypted); !ok {
				return nil, fmt.Errorf("%w: SKESK parsed as %T", ErrMalformed, p)
			}
		case tagPKESK:
			return nil, fmt.Errorf("%w: public-key encrypted, not symmetric", ErrDecrypt)
		case tagSEIPD:
			if ske == nil {
				return nil, fmt.Errorf("%w: no SKESK before the encrypted data", ErrDecrypt)
			}
			return ske, nil
		default:
			return nil, fmt.Errorf("%w: OpenPGP packet %d where encrypted data was expected", ErrNotEncrypted, op.Tag)
		}
	}
}
