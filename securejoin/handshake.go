package securejoin

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/thingpost/thingpost/envelope"
	"github.com/thingpost/thingpost/keystore"
)

// Secure-Join header values of the setup-contact steps.
const (
	StepRequest         = "vc-request"           // legacy 1: Bob, plaintext
	StepAuthRequired    = "vc-auth-required"     // legacy 2: Alice, encrypted to Bob
	StepRequestPubkey   = "vc-request-pubkey"    // v3 1: Bob, symmetric, unsigned
	StepPubkey          = "vc-pubkey"            // v3 2: Alice, symmetric, signed
	StepRequestWithAuth = "vc-request-with-auth" // 3: Bob, encrypted and signed
	StepContactConfirm  = "vc-contact-confirm"   // 4: Alice, encrypted and signed
)

// Header names the handshake uses.
const (
	HeaderStep         = "Secure-Join"
	HeaderInviteNumber = "Secure-Join-Invitenumber"
	HeaderAuth         = "Secure-Join-Auth"
	HeaderFingerprint  = "Secure-Join-Fingerprint"
)

// Sentinel errors. A handshake message that fails any check is ignored by
// the caller without an answer.
var (
	// ErrNotHandshake means the message is not the handshake step asked for.
	ErrNotHandshake = errors.New("securejoin: not a handshake message of this step")
	// ErrBadToken means the invite number or AUTH token is unknown, used
	// up or expired.
	ErrBadToken = errors.New("securejoin: unknown or expired token")
	// ErrWrongKey means a key in the handshake is not the one that must be
	// there (the QR code's fingerprint, the signer, the self-gossip).
	ErrWrongKey = errors.New("securejoin: wrong key")
	// ErrState means a message arrived that the handshake does not expect now.
	ErrState = errors.New("securejoin: unexpected step")
)

// Token is one invite: the pair of secrets printed in one QR code.
type Token struct {
	InviteNumber string
	Auth         string
}

// Outgoing is a handshake message to submit, from the local identity.
type Outgoing struct {
	To        string
	Raw       []byte
	MessageID string
}

// sharedSecret is the v3 symmetric passphrase; Delta Chat derives it the same way.
func sharedSecret(inviter keystore.Fingerprint, auth string) []byte {
	return []byte("securejoin/" + inviter.String() + "/" + auth)
}

func equalToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// Inviter is Alice, the side that shows the code (a thing). It holds no
// state of its own: the tokens it accepts come from Tokens, so the caller
// decides when an invite is used up or expires.
type Inviter struct {
	Self *keystore.Identity
	// Tokens returns the invites valid now.
	Tokens func() ([]Token, error)
	// MaxSize limits incoming messages (0: envelope.DefaultMaxSize).
	MaxSize int64
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

func (a *Inviter) now() time.Time {
	if a.Now == nil {
		return time.Now()
	}
	return a.Now()
}

// Joined is a joiner who proved he scanned one of our codes.
type Joined struct {
	// Key is the joiner's key, bound to his address; it signed the proof.
	Key *keystore.PublicKey
	// Token is the invite he used.
	Token Token
	// MessageID of the vc-request-with-auth, for replay records.
	MessageID string
}

// HandleRequest answers a legacy vc-request (plaintext, with the joiner's key
// in its Autocrypt header) with vc-auth-required, encrypted to that key.
func (a *Inviter) HandleRequest(ctx context.Context, raw []byte) (*Outgoing, error) {
	if a.MaxSize > 0 && int64(len(raw)) > a.MaxSize || len(raw) > envelope.DefaultMaxSize {
		return nil, fmt.Errorf("vc-request: %w", envelope.ErrTooLarge)
	}
	h, err := readPlainHeader(raw)
	if err != nil {
		return nil, fmt.Errorf("vc-request: %w", err)
	}
	if h.Get(HeaderStep) != StepRequest {
		return nil, fmt.Errorf("vc-request: %w", ErrNotHandshake)
	}
	tokens, err := a.Tokens()
	if err != nil {
		return nil, fmt.Errorf("vc-request: tokens: %w", err)
	}
	inum := h.Get(HeaderInviteNumber)
	valid := false
	for _, t := range tokens {
		valid = valid || equalToken(inum, t.InviteNumber)
	}
	if !valid {
		return nil, fmt.Errorf("vc-request: %w", ErrBadToken)
	}
	ac, err := envelope.OuterAutocrypt(raw)
	if err != nil {
		return nil, fmt.Errorf("vc-request: %w", err)
	}
	out, err := a.seal(ctx, StepAuthRequired, ac.Key, nil)
	if err != nil {
		return nil, fmt.Errorf("vc-auth-required: %w", err)
	}
	return out, nil
}

// HandleRequestPubkey answers a v3 vc-request-pubkey, symmetrically encrypted
// with one of our AUTH tokens, with vc-pubkey under the same secret, signed
// and carrying our key.
func (a *Inviter) HandleRequestPubkey(ctx context.Context, raw []byte) (*Outgoing, error) {
	tokens, err := a.Tokens()
	if err != nil {
		return nil, fmt.Errorf("vc-request-pubkey: tokens: %w", err)
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("vc-request-pubkey: %w: no invites are open", ErrBadToken)
	}
	pass := make([][]byte, len(tokens))
	for i, t := range tokens {
		pass[i] = sharedSecret(a.Self.Fingerprint(), t.Auth)
	}
	m, err := envelope.OpenSymmetric(ctx, raw, envelope.SymmetricOptions{Passphrases: pass, MaxSize: a.MaxSize, Now: a.now()})
	if err != nil {
		return nil, fmt.Errorf("vc-request-pubkey: %w", err)
	}
	if m.Header.Get(HeaderStep) != StepRequestPubkey {
		return nil, fmt.Errorf("vc-request-pubkey: %w: step %q", ErrNotHandshake, m.Header.Get(HeaderStep))
	}
	auth := tokens[m.Passphrase].Auth
	if !equalToken(m.Header.Get(HeaderAuth), auth) {
		return nil, fmt.Errorf("vc-request-pubkey: %w: Secure-Join-Auth does not match the secret", ErrBadToken)
	}
	d := &envelope.Draft{
		From:          a.Self,
		ToAddrs:       []string{m.From},
		Subject:       "Secure-Join",
		Text:          "Secure-Join",
		AutoSubmitted: true,
		Headers:       []envelope.Field{{Name: HeaderStep, Value: StepPubkey}, {Name: HeaderAuth, Value: auth}},
	}
	s, err := envelope.SealSymmetric(ctx, d, sharedSecret(a.Self.Fingerprint(), auth), true)
	if err != nil {
		return nil, fmt.Errorf("vc-pubkey: %w", err)
	}
	return &Outgoing{To: m.From, Raw: s.Raw, MessageID: s.MessageID}, nil
}

// HandleRequestWithAuth checks a vc-request-with-auth that envelope.Open has
// already decrypted and verified (with AcceptAutocryptSigner: the joiner's
// key is new to us). It returns the joiner and the vc-contact-confirm to
// send once the caller has recorded him. The checks are Delta Chat's: the
// message is signed by exactly the key named in Secure-Join-Fingerprint, the
// AUTH token is one we issued and still valid, our own key is gossiped to us
// and we are in the protected To; and the joiner's key is not bound to our
// own address. The token proves that the joiner got a code, not that the
// address of his key is his: the caller checks that.
func (a *Inviter) HandleRequestWithAuth(ctx context.Context, m *envelope.Message) (*Joined, *Outgoing, error) {
	if m.Header.Get(HeaderStep) != StepRequestWithAuth {
		return nil, nil, fmt.Errorf("vc-request-with-auth: %w", ErrNotHandshake)
	}
	fpr, err := keystore.ParseFingerprint(m.Header.Get(HeaderFingerprint))
	if err != nil || fpr != m.Signer.Fingerprint() {
		return nil, nil, fmt.Errorf("vc-request-with-auth: %w: Secure-Join-Fingerprint is not the signing key %s", ErrWrongKey, m.Signer.Fingerprint())
	}
	if strings.EqualFold(m.Signer.Addr(), a.Self.Addr()) {
		// Mail "from us" must only ever be ours.
		return nil, nil, fmt.Errorf("vc-request-with-auth: %w: the joiner's key is bound to our own address %s", ErrWrongKey, a.Self.Addr())
	}
	if !gossips(m.Gossip, a.Self.Public()) {
		return nil, nil, fmt.Errorf("vc-request-with-auth: %w: our own key is not gossiped to us", ErrWrongKey)
	}
	if !contains(m.To, a.Self.Addr()) {
		return nil, nil, fmt.Errorf("vc-request-with-auth: %w: not addressed to %s", ErrNotHandshake, a.Self.Addr())
	}
	tokens, err := a.Tokens()
	if err != nil {
		return nil, nil, fmt.Errorf("vc-request-with-auth: tokens: %w", err)
	}
	auth := m.Header.Get(HeaderAuth)
	for _, t := range tokens {
		if !equalToken(auth, t.Auth) {
			continue
		}
		out, err := a.seal(ctx, StepContactConfirm, m.Signer, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("vc-contact-confirm: %w", err)
		}
		return &Joined{Key: m.Signer, Token: t, MessageID: m.MessageID}, out, nil
	}
	return nil, nil, fmt.Errorf("vc-request-with-auth: %w", ErrBadToken)
}

// seal builds an asymmetric handshake step to peer, with the self-gossip
// Delta Chat requires (without it the peer ignores the step).
func (a *Inviter) seal(ctx context.Context, step string, peer *keystore.PublicKey, extra []envelope.Field) (*Outgoing, error) {
	return sealStep(ctx, a.Self, a.now(), step, peer, extra)
}

func sealStep(ctx context.Context, self *keystore.Identity, now time.Time, step string, peer *keystore.PublicKey, extra []envelope.Field) (*Outgoing, error) {
	d := &envelope.Draft{
		From:          self,
		To:            []*keystore.PublicKey{peer},
		Date:          now,
		Subject:       "Secure-Join",
		Text:          "Secure-Join: " + step,
		AutoSubmitted: true,
		Headers:       append([]envelope.Field{{Name: HeaderStep, Value: step}}, extra...),
		Gossip:        []*keystore.PublicKey{peer},
	}
	s, err := envelope.Seal(ctx, d)
	if err != nil {
		return nil, err
	}
	return &Outgoing{To: peer.Addr(), Raw: s.Raw, MessageID: s.MessageID}, nil
}

func gossips(gossip []*envelope.Autocrypt, k *keystore.PublicKey) bool {
	for _, g := range gossip {
		if g.Key != nil && g.Key.Fingerprint() == k.Fingerprint() {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
