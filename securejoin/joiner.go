package securejoin

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-message/textproto"

	"github.com/thingpost/thingpost/envelope"
	"github.com/thingpost/thingpost/keystore"
)

type joinState int

const (
	joinNew joinState = iota
	joinRequested
	joinAuthSent
	joinDone
)

// Joiner is Bob, the side that scanned the code (a person's app). One Joiner
// runs one handshake; it is not safe for concurrent use.
type Joiner struct {
	self    *keystore.Identity
	invite  *Invite
	state   joinState
	peer    *keystore.PublicKey
	maxSize int64
	now     func() time.Time
}

// NewJoiner prepares the handshake with the inviter of inv.
func NewJoiner(self *keystore.Identity, inv *Invite, now func() time.Time) *Joiner {
	if now == nil {
		now = time.Now
	}
	return &Joiner{self: self, invite: inv, now: now}
}

// Done reports whether the inviter confirmed the contact.
func (j *Joiner) Done() bool { return j.state == joinDone }

// Peer is the inviter's key, verified against the code's fingerprint; nil
// until the inviter has sent it.
func (j *Joiner) Peer() *keystore.PublicKey { return j.peer }

// Start returns the first message: vc-request-pubkey (v3, symmetric) or the
// plaintext vc-request (legacy), addressed to the inviter.
func (j *Joiner) Start(ctx context.Context) (*Outgoing, error) {
	if j.state != joinNew {
		return nil, fmt.Errorf("start: %w", ErrState)
	}
	var out *Outgoing
	var err error
	if j.invite.V3 {
		d := &envelope.Draft{
			From:        j.self,
			ToAddrs:     []string{j.invite.Addr},
			Date:        j.now(),
			Subject:     "Secure-Join",
			Text:        "Secure-Join",
			NoAutocrypt: true,
			Headers:     []envelope.Field{{Name: HeaderStep, Value: StepRequestPubkey}, {Name: HeaderAuth, Value: j.invite.Auth}},
		}
		var s *envelope.Sealed
		if s, err = envelope.SealSymmetric(ctx, d, sharedSecret(j.invite.Fingerprint, j.invite.Auth), false); err == nil {
			out = &Outgoing{To: j.invite.Addr, Raw: s.Raw, MessageID: s.MessageID}
		}
	} else {
		out = j.plainRequest()
	}
	if err != nil {
		return nil, fmt.Errorf("start securejoin: %w", err)
	}
	j.state = joinRequested
	return out, nil
}

// plainRequest builds the legacy vc-request: plaintext multipart/mixed with
// one text/plain part, the invite number and our Autocrypt header outside.
func (j *Joiner) plainRequest() *Outgoing {
	id := envelope.NewMessageID()
	var b bytes.Buffer
	boundary := strings.ReplaceAll(envelope.NewMessageID(), "@", "_")
	fmt.Fprintf(&b, "From: <%s>\r\nTo: <%s>\r\nSubject: Secure-Join\r\nDate: %s\r\nMessage-ID: <%s>\r\n",
		j.self.Addr(), j.invite.Addr, j.now().UTC().Format(time.RFC1123Z), id)
	fmt.Fprintf(&b, "Chat-Version: 1.0\r\n%s: %s\r\n%s: %s\r\n", HeaderStep, StepRequest, HeaderInviteNumber, j.invite.InviteNumber)
	b.WriteString(envelope.NewAutocrypt(j.self.Public()).Field("Autocrypt"))
	fmt.Fprintf(&b, "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n", boundary)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=\"utf-8\"\r\n\r\nSecure-Join: %s\r\n--%s--\r\n", boundary, StepRequest, boundary)
	return &Outgoing{To: j.invite.Addr, Raw: b.Bytes(), MessageID: id}
}

// Handle takes the inviter's next message. After vc-pubkey or
// vc-auth-required it returns vc-request-with-auth to send; after
// vc-contact-confirm it returns nil and Done is true.
func (j *Joiner) Handle(ctx context.Context, raw []byte) (*Outgoing, error) {
	switch j.state {
	case joinRequested:
		key, err := j.inviterKey(ctx, raw)
		if err != nil {
			return nil, err
		}
		j.peer = key
		out, err := sealStep(ctx, j.self, j.now(), StepRequestWithAuth, key, []envelope.Field{
			{Name: HeaderAuth, Value: j.invite.Auth},
			{Name: HeaderFingerprint, Value: j.self.Fingerprint().String()},
		})
		if err != nil {
			return nil, fmt.Errorf("vc-request-with-auth: %w", err)
		}
		j.state = joinAuthSent
		return out, nil
	case joinAuthSent:
		m, err := envelope.Open(ctx, raw, envelope.OpenOptions{
			Self:    j.self,
			Trusted: j.trusted,
			MaxSize: j.maxSize,
			Now:     j.now(),
		})
		if err != nil {
			return nil, fmt.Errorf("vc-contact-confirm: %w", err)
		}
		if m.Header.Get(HeaderStep) != StepContactConfirm {
			return nil, fmt.Errorf("vc-contact-confirm: %w: step %q", ErrNotHandshake, m.Header.Get(HeaderStep))
		}
		j.state = joinDone
		return nil, nil
	}
	return nil, fmt.Errorf("handle: %w", ErrState)
}

func (j *Joiner) trusted(addr string) []*keystore.PublicKey {
	if j.peer != nil && addr == j.peer.Addr() {
		return []*keystore.PublicKey{j.peer}
	}
	return nil
}

// inviterKey opens vc-pubkey (v3) or vc-auth-required (legacy) and returns
// the inviter's key, which must have the code's fingerprint and the code's
// address.
func (j *Joiner) inviterKey(ctx context.Context, raw []byte) (*keystore.PublicKey, error) {
	var key *keystore.PublicKey
	var step string
	if j.invite.V3 {
		m, err := envelope.OpenSymmetric(ctx, raw, envelope.SymmetricOptions{
			Passphrases:     [][]byte{sharedSecret(j.invite.Fingerprint, j.invite.Auth)},
			AutocryptSigner: j.invite.Fingerprint,
			MaxSize:         j.maxSize,
			Now:             j.now(),
		})
		if err != nil {
			return nil, fmt.Errorf("vc-pubkey: %w", err)
		}
		key, step = m.Signer, m.Header.Get(HeaderStep)
		if step == StepPubkey && !equalToken(m.Header.Get(HeaderAuth), j.invite.Auth) {
			return nil, fmt.Errorf("vc-pubkey: %w: Secure-Join-Auth differs from the code", ErrBadToken)
		}
	} else {
		m, err := envelope.Open(ctx, raw, envelope.OpenOptions{
			Self:                  j.self,
			AcceptAutocryptSigner: true,
			MaxSize:               j.maxSize,
			Now:                   j.now(),
		})
		if err != nil {
			return nil, fmt.Errorf("vc-auth-required: %w", err)
		}
		key, step = m.Signer, m.Header.Get(HeaderStep)
	}
	if want := map[bool]string{true: StepPubkey, false: StepAuthRequired}[j.invite.V3]; step != want {
		return nil, fmt.Errorf("%s: %w: step %q", want, ErrNotHandshake, step)
	}
	if key == nil || key.Fingerprint() != j.invite.Fingerprint {
		return nil, fmt.Errorf("inviter key: %w: not the fingerprint %s of the code", ErrWrongKey, j.invite.Fingerprint.Human())
	}
	if key.Addr() != j.invite.Addr {
		return nil, fmt.Errorf("inviter key: %w: bound to %s, the code says %s", ErrWrongKey, key.Addr(), j.invite.Addr)
	}
	return key, nil
}

// readPlainHeader reads the top-level header of a plaintext message.
func readPlainHeader(raw []byte) (textproto.Header, error) {
	h, err := textproto.ReadHeader(bufio.NewReader(io.LimitReader(bytes.NewReader(raw), int64(len(raw)))))
	if err != nil {
		return h, fmt.Errorf("%w: header: %v", envelope.ErrMalformed, err)
	}
	return h, nil
}
