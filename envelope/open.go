package envelope

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
	"github.com/emersion/go-message/mail"

	"github.com/thingpost/thingpost/keystore"
)

// DefaultMaxSize is the size limit of Open and OpenSymmetric when the
// options give none: for the raw message and for its decrypted content.
const DefaultMaxSize = 1 << 20

// DefaultClockSkew is how far in the future a signature may be dated.
const DefaultClockSkew = 5 * time.Minute

// SignerSource says why the signing key was accepted.
type SignerSource int

const (
	// SignerTrusted: the key is one the caller trusts for the From address.
	SignerTrusted SignerSource = iota + 1
	// SignerAutocrypt: no key was trusted for From, the caller allowed it
	// (OpenOptions.AcceptAutocryptSigner), and the message is signed by the
	// key in its own protected Autocrypt header. This proves only that the
	// sender holds that key; the caller must authenticate it otherwise (the
	// Securejoin AUTH token).
	SignerAutocrypt
)

func (s SignerSource) String() string {
	switch s {
	case SignerTrusted:
		return "trusted"
	case SignerAutocrypt:
		return "autocrypt"
	}
	return fmt.Sprintf("SignerSource(%d)", int(s))
}

// OpenOptions say whom Open trusts.
type OpenOptions struct {
	// Self decrypts; its fingerprint must be among the signature's intended
	// recipients when the signature lists any. Required.
	Self *keystore.Identity
	// Trusted returns the keys trusted for an address (lower-case). Only
	// keys whose own address is addr count. May be nil (trust nobody).
	// (*keystore.Keyring).AllByAddr fits.
	Trusted func(addr string) []*keystore.PublicKey
	// Known, if set, finds any key we hold by fingerprint, whatever address
	// it belongs to; it fits (*keystore.Keyring).ByFingerprint. It only
	// sharpens the error: a message signed by a known key of another
	// address fails with ErrSignerMismatch instead of ErrUnknownSigner.
	Known func(keystore.Fingerprint) (*keystore.PublicKey, bool)
	// AcceptAutocryptSigner allows the one case the Securejoin inviter
	// needs: when Trusted has no key for From, accept a signature by the key
	// in the message's protected Autocrypt header. The result then says
	// SignerAutocrypt.
	AcceptAutocryptSigner bool
	// MaxSize limits the raw message and the decrypted content (0 means
	// DefaultMaxSize).
	MaxSize int64
	// Now is the time to check signatures and keys at (zero means now).
	Now time.Time
	// ClockSkew is how far in the future a signature may be dated (0 means
	// DefaultClockSkew).
	ClockSkew time.Duration
}

// Message is a message that Open decrypted and authenticated: it was
// encrypted to Self and carries exactly one signature, valid, by Signer,
// a key bound to the From address.
type Message struct {
	Content
	// Signer is the key that made the signature; Signer.Addr() == From.
	Signer *keystore.PublicKey
	// SignerSource says why Signer was accepted.
	SignerSource SignerSource
	// Signed is the signature's creation time.
	Signed time.Time
	// IntendedRecipient is true when the signature names its intended
	// recipients, Self among them (Open refuses a signature that names
	// others only); false when it names none, as GnuPG 2.2 writes it. Only
	// then do the signed data say whom the message is for without
	// protected headers.
	IntendedRecipient bool
	// SignedID identifies what the signature covers: a digest, in hex, of
	// the signer's fingerprint, the signature's hashed area (its type,
	// algorithms, creation time, hashed subpackets) and the signed data,
	// canonical for a text signature. Nothing outside the signature
	// changes it (outer headers, packet framing, unhashed subpackets, a
	// malleable signature value), so two messages with the same SignedID
	// are the same signed message; a replay guard keys a legacy message
	// by it.
	SignedID string
}

func limits(maxSize int64, now time.Time, skew time.Duration) (int64, time.Time, time.Duration) {
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	if now.IsZero() {
		now = time.Now()
	}
	if skew <= 0 {
		skew = DefaultClockSkew
	}
	return maxSize, now, skew
}

// Open parses raw, decrypts it with opts.Self and verifies its signature.
// It returns a Message only when everything holds; otherwise the Message is
// nil and the error wraps one of the sentinel errors: ErrTooLarge,
// ErrNotEncrypted, ErrMalformed, ErrDecrypt, ErrUnsigned, ErrBadSignature,
// ErrUnknownSigner, ErrSignerMismatch, ErrNotIntendedRecipient.
func Open(ctx context.Context, raw []byte, opts OpenOptions) (*Message, error) {
	m, err := open(ctx, raw, &opts)
	if err != nil {
		return nil, fmt.Errorf("open envelope: %w", err)
	}
	return m, nil
}

// readPayload checks the size of raw and returns its outer header and its
// OpenPGP packets, dearmored and checked for what no signature covers.
func readPayload(raw []byte, limit int64) (mail.Header, []byte, error) {
	if int64(len(raw)) > limit {
		return mail.Header{}, nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(raw), limit)
	}
	outer, armored, err := parseOuter(raw, limit)
	if err != nil {
		return mail.Header{}, nil, err
	}
	bin, err := dearmor(armored, limit)
	if err != nil {
		return mail.Header{}, nil, err
	}
	if err := checkPackets(bin); err != nil {
		return mail.Header{}, nil, err
	}
	return outer, bin, nil
}

func open(ctx context.Context, raw []byte, o *OpenOptions) (*Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if o.Self == nil {
		return nil, errors.New("no decryption identity (OpenOptions.Self)")
	}
	limit, now, skew := limits(o.MaxSize, o.Now, o.ClockSkew)
	outer, bin, err := readPayload(raw, limit)
	if err != nil {
		return nil, err
	}
	d, err := safeDecrypt(bin, decryptRing{self: o.Self.Entity()}, nil, limit, now)
	if err != nil {
		return nil, err
	}
	sig, err := oneSignature(d)
	if err != nil {
		return nil, err
	}
	c, err := parseContent(d.data, outer, o.knownKeys)
	if err != nil {
		return nil, err
	}
	// go-crypto refuses a signature made even a second after its clock;
	// verifying at now+skew tolerates senders whose clocks run ahead.
	signer, src, err := o.authenticate(d.data, sig, c, now.Add(skew))
	if err != nil {
		return nil, err
	}
	if err := notFuture(sig, now.Add(skew)); err != nil {
		return nil, err
	}
	if len(sig.IntendedRecipients) > 0 && !intendedFor(sig, o.Self.Fingerprint()) {
		return nil, fmt.Errorf("%w: signature by %s names %d intended recipients, not us (%s)",
			ErrNotIntendedRecipient, signer.Fingerprint(), len(sig.IntendedRecipients), o.Self.Fingerprint())
	}
	return &Message{Content: *c, Signer: signer, SignerSource: src, Signed: sig.CreationTime,
		IntendedRecipient: len(sig.IntendedRecipients) > 0, SignedID: signedID(signer, sig, d.data)}, nil
}

// signedID is Message.SignedID.
func signedID(signer *keystore.PublicKey, sig *packet.Signature, data []byte) string {
	content := sha256.New()
	if sig.SigType == packet.SigTypeText {
		content = openpgp.NewCanonicalTextHash(content)
	}
	content.Write(data)
	h := sha256.New()
	fpr := signer.Fingerprint()
	h.Write([]byte("thingpost signed id v1\x00"))
	h.Write(fpr[:])
	h.Write(sig.HashSuffix)
	h.Write(content.Sum(nil))
	return hex.EncodeToString(h.Sum(nil))
}

// knownKeys are the keys Open already holds for addr: our own and the
// trusted ones.
func (o *OpenOptions) knownKeys(addr string) []*keystore.PublicKey {
	var keys []*keystore.PublicKey
	if o.Trusted != nil {
		keys = o.Trusted(addr)
	}
	if o.Self.Addr() == addr {
		keys = append(keys, o.Self.Public())
	}
	return keys
}

// oneSignature returns the message's only signature.
func oneSignature(d *decrypted) (*packet.Signature, error) {
	switch len(d.sigs) {
	case 0:
		return nil, ErrUnsigned
	case 1:
		return d.sigs[0], nil
	}
	return nil, fmt.Errorf("%w: %d signatures, want one", ErrBadSignature, len(d.sigs))
}

// notFuture rejects a signature dated after at (now plus the clock skew).
func notFuture(sig *packet.Signature, at time.Time) error {
	if sig.CreationTime.After(at) {
		return fmt.Errorf("%w: signature dated %s, in the future", ErrBadSignature, sig.CreationTime.UTC().Format(time.RFC3339))
	}
	return nil
}

func intendedFor(sig *packet.Signature, fpr keystore.Fingerprint) bool {
	for _, r := range sig.IntendedRecipients {
		if bytes.Equal(r.Fingerprint, fpr[:]) {
			return true
		}
	}
	return false
}

// authenticate finds the key that made sig among the keys trusted for
// c.From (or, if allowed, c's Autocrypt key) and verifies it.
func (o *OpenOptions) authenticate(data []byte, sig *packet.Signature, c *Content, now time.Time) (*keystore.PublicKey, SignerSource, error) {
	var bound, other []*keystore.PublicKey
	if o.Trusted != nil {
		for _, k := range o.Trusted(c.From) {
			switch {
			case k == nil:
			case k.Addr() == c.From:
				bound = append(bound, k)
			default:
				other = append(other, k)
			}
		}
	}
	switch {
	case len(bound) > 0:
		k, err := safeVerify(data, sig, bound, now)
		if err == nil {
			return k, SignerTrusted, nil
		}
		if !errors.Is(err, errUnknownIssuer) {
			return nil, 0, err
		}
	case o.AcceptAutocryptSigner && c.Autocrypt != nil && !c.AutocryptOuter && c.Protected:
		k, err := safeVerify(data, sig, []*keystore.PublicKey{c.Autocrypt.Key}, now)
		if err == nil {
			return k, SignerAutocrypt, nil
		}
		if !errors.Is(err, errUnknownIssuer) {
			return nil, 0, err
		}
	}
	issuer := fmt.Sprintf("key ID %016X", issuerKeyID(sig))
	if len(sig.IssuerFingerprint) == len(keystore.Fingerprint{}) {
		var f keystore.Fingerprint
		copy(f[:], sig.IssuerFingerprint)
		issuer = f.String()
		if o.Known != nil {
			if k, ok := o.Known(f); ok && k != nil && k.Addr() != c.From {
				other = append(other, k)
			}
		}
	}
	if k, err := safeVerify(data, sig, other, now); err == nil {
		return nil, 0, fmt.Errorf("%w: signed by %s's key %s, but From is %s", ErrSignerMismatch, k.Addr(), k.Fingerprint(), c.From)
	}
	return nil, 0, fmt.Errorf("%w: %s is not trusted for %s", ErrUnknownSigner, issuer, c.From)
}

func issuerKeyID(sig *packet.Signature) uint64 {
	if sig.IssuerKeyId == nil {
		return 0
	}
	return *sig.IssuerKeyId
}

// safeDecrypt is decrypt that turns a go-crypto panic on malformed input
// into ErrMalformed: untrusted mail must never stop the process.
func safeDecrypt(bin []byte, ring openpgp.KeyRing, prompt openpgp.PromptFunction, limit int64, now time.Time) (d *decrypted, err error) {
	defer func() {
		if p := recover(); p != nil {
			d, err = nil, fmt.Errorf("%w: openpgp parser panic: %v", ErrMalformed, p)
		}
	}()
	return decrypt(bin, ring, prompt, limit, now)
}

// safeVerify is verify with the same protection.
func safeVerify(data []byte, sig *packet.Signature, keys []*keystore.PublicKey, now time.Time) (k *keystore.PublicKey, err error) {
	defer func() {
		if p := recover(); p != nil {
			k, err = nil, fmt.Errorf("%w: openpgp verify panic: %v", ErrBadSignature, p)
		}
	}()
	return verify(data, sig, keys, now)
}
