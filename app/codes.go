package app

import (
	"errors"
	"fmt"
	"strings"

	"github.com/thingpost/thingpost/internal/qr"
	"github.com/thingpost/thingpost/keystore"
	"github.com/thingpost/thingpost/securejoin"
)

// ErrContactCode means a scanned code is a person's contact code (see
// MyCode), not an invite from a thing: it carries no Securejoin tokens, so
// nothing can be paired with it. Such errors also wrap ErrNotInvite.
var ErrContactCode = errors.New("this is a person's contact code, not an invite from a thing")

// InviteInfo is what an invite code says about its inviter, read before
// pairing (so that a screen can show whom the person is about to pair
// with).
type InviteInfo struct {
	Name string `json:"name"`
	Addr string `json:"addr"`
	// Fingerprint is the key the inviter must prove to hold: 40 upper-case
	// hex digits, the ID the thing gets once paired.
	Fingerprint string `json:"fpr"`
	// FingerprintGroups is Fingerprint in groups of four, for people.
	FingerprintGroups string `json:"fpr_groups"`
}

// ParseInvite reads a scanned or pasted invite code (an i.delta.chat link
// or an OPENPGP4FPR: URI) without pairing. The error wraps ErrNotInvite
// (not an invite at all; a person's contact code also wraps
// ErrContactCode), ErrBadInvite (damaged) or ErrGroupInvite.
func ParseInvite(text string) (InviteInfo, error) {
	inv, err := parseInvite(text)
	if err != nil {
		return InviteInfo{}, err
	}
	return InviteInfo{Name: inv.Name, Addr: inv.Addr, Fingerprint: inv.Fingerprint.String(),
		FingerprintGroups: inv.Fingerprint.Human()}, nil
}

// parseInvite is securejoin.ParseInvite that tells a contact code apart
// from a damaged invite.
func parseInvite(text string) (*securejoin.Invite, error) {
	text = strings.TrimSpace(text)
	inv, err := securejoin.ParseInvite(text)
	if err != nil && errors.Is(err, securejoin.ErrBadInvite) && isContactCode(text) {
		return nil, fmt.Errorf("%w: %w", ErrNotInvite, ErrContactCode)
	}
	return inv, err
}

// isContactCode reports whether text is a contact code: the form of an
// invite with a fingerprint and an address but neither invite number nor
// auth token.
func isContactCode(text string) bool {
	const scheme = "OPENPGP4FPR:"
	var fpr, fragment string
	switch {
	case len(text) > len(scheme) && strings.EqualFold(text[:len(scheme)], scheme):
		var ok bool
		if fpr, fragment, ok = strings.Cut(text[len(scheme):], "#"); !ok {
			fpr, fragment, _ = strings.Cut(text[len(scheme):], "%23")
		}
	case strings.HasPrefix(text, "https://i.delta.chat/#"), strings.HasPrefix(text, "https://i.delta.chat#"):
		_, payload, _ := strings.Cut(text, "#")
		fpr, fragment, _ = strings.Cut(payload, "&")
	default:
		return false
	}
	if _, err := keystore.ParseFingerprint(fpr); err != nil {
		return false
	}
	addr := false
	for kv := range strings.SplitSeq(fragment, "&") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "i", "s":
			if v != "" {
				return false
			}
		case "a":
			addr = v != ""
		}
	}
	return addr
}

// ContactCode is the person's own code, to show another person: it says
// who the person is and which key is theirs.
type ContactCode struct {
	// Text is the code: OPENPGP4FPR:FPR#a=ADDR&n=NAME.
	Text string `json:"text"`
	// QR is Text as a QR code, PNG.
	QR []byte `json:"-"`
	// Fingerprint is the person's key fingerprint, 40 upper-case hex
	// digits; FingerprintGroups the same in groups of four, to read aloud.
	Fingerprint       string `json:"fpr"`
	FingerprintGroups string `json:"fpr_groups"`
	Addr              string `json:"addr"`
	Name              string `json:"name"`
}

// MyCode returns the person's contact code with its QR image. It needs the
// profile, not the passphrase.
//
// The code is Delta Chat's contact form without Securejoin tokens, so a
// Delta Chat user who scans it gets the person's address and the
// fingerprint to verify, and no handshake starts. It is built here because
// securejoin.Invite cannot express it: Invite.OpenPGP4FPR always writes an
// auth token ("s=", empty when there is none), and securejoin.ParseInvite
// rejects a code without one.
func (a *App) MyCode() (ContactCode, error) {
	p, found, err := a.Profile()
	if err != nil {
		return ContactCode{}, err
	}
	if !found {
		return ContactCode{}, ErrNoProfile
	}
	fpr, err := keystore.ParseFingerprint(p.Fingerprint)
	if err != nil {
		return ContactCode{}, fmt.Errorf("my code: %w", err)
	}
	text := "OPENPGP4FPR:" + fpr.String() + "#a=" + codeEscape(p.Addr)
	if p.Name != "" {
		text += "&n=" + codeEscape(p.Name)
	}
	png, err := qr.Encode(text, qr.Size)
	if err != nil {
		return ContactCode{}, fmt.Errorf("my code: %w", err)
	}
	return ContactCode{Text: text, QR: png, Fingerprint: fpr.String(), FingerprintGroups: fpr.Human(),
		Addr: p.Addr, Name: p.Name}, nil
}

// codeEscape writes a code parameter as Delta Chat does: ASCII letters,
// digits and '.' as they are, a space as '+', every other byte as %XX.
func codeEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
