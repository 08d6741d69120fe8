package securejoin

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/thingpost/thingpost/keystore"
)

// Sentinel errors for scanned codes; the UI tells them apart.
var (
	// ErrNotInvite means the text is not a setup-contact invite at all
	// (another kind of QR code, a web address, plain text).
	ErrNotInvite = errors.New("not a Delta Chat or Thingpost invite code")
	// ErrBadInvite means the text looks like an invite but is damaged or
	// incomplete.
	ErrBadInvite = errors.New("damaged invite code")
	// ErrGroupInvite means a valid invite to a group or channel, which a
	// thing cannot use.
	ErrGroupInvite = errors.New("invite to a group or channel, not to a contact")
)

const (
	schemeOpenPGP = "OPENPGP4FPR:"
	schemeLink    = "https://i.delta.chat/#"
	// Delta Chat also accepts the link without the slash before '#'.
	schemeLinkNoSlash = "https://i.delta.chat#"
	maxNameRunes      = 25
	maxInviteLen      = 2048
	tokenBytes        = 18
)

// Invite is a parsed setup-contact invite: who the inviter is (address and
// the fingerprint the joiner must see) and the one-time tokens of the handshake.
type Invite struct {
	Fingerprint  keystore.Fingerprint
	Addr         string
	Name         string
	InviteNumber string // empty in a v3 code without an invite number
	Auth         string
	// V3 says the inviter speaks the Securejoin v3 handshake.
	V3 bool
}

// NewToken returns a fresh invite number or auth token: 18 random bytes in the
// URL-safe base64 alphabet, as Delta Chat makes them.
func NewToken() string {
	b := make([]byte, tokenBytes)
	// crypto/rand.Read never fails on supported platforms (Go 1.24+).
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// URL is the invite link Delta Chat generates today:
// https://i.delta.chat/#FPR&v=3&i=..&s=..&a=..&n=..
func (inv *Invite) URL() string {
	var b strings.Builder
	b.WriteString(schemeLink)
	b.WriteString(inv.Fingerprint.String())
	if inv.V3 {
		b.WriteString("&v=3")
	}
	if inv.InviteNumber != "" {
		b.WriteString("&i=" + inv.InviteNumber)
	}
	b.WriteString("&s=" + inv.Auth)
	b.WriteString("&a=" + escape(inv.Addr))
	if inv.Name != "" {
		b.WriteString("&n=" + escape(shorten(inv.Name)))
	}
	return b.String()
}

// OpenPGP4FPR is the same invite as an OPENPGP4FPR: URI (older clients).
func (inv *Invite) OpenPGP4FPR() string {
	u := inv.URL()
	return schemeOpenPGP + strings.Replace(u[len(schemeLink):], "&", "#", 1)
}

// shorten cuts a name to 25 characters, marking the cut with '_' as Delta Chat
// does (a trailing dot would confuse linkifiers).
func shorten(name string) string {
	if utf8.RuneCountInString(name) <= maxNameRunes {
		return name
	}
	r := []rune(name)
	return string(r[:maxNameRunes-1]) + "_"
}

// escape percent-encodes everything but ASCII letters, digits, '.' and '_'.
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// ParseInvite reads a scanned or pasted invite: an https://i.delta.chat/# link
// or an OPENPGP4FPR: URI (prefix case-insensitive, '#' possibly sent as %23).
func ParseInvite(s string) (*Invite, error) {
	s = strings.TrimSpace(s)
	if len(s) > maxInviteLen {
		return nil, fmt.Errorf("%w: %d bytes is too long", ErrNotInvite, len(s))
	}
	var fpr, fragment string
	switch {
	case hasPrefixFold(s, schemeOpenPGP):
		payload := s[len(schemeOpenPGP):]
		var ok bool
		fpr, fragment, ok = strings.Cut(payload, "#")
		if !ok {
			fpr, fragment, _ = strings.Cut(payload, "%23")
		}
	case strings.HasPrefix(s, schemeLink), strings.HasPrefix(s, schemeLinkNoSlash):
		_, payload, _ := strings.Cut(s, "#")
		fpr, fragment, _ = strings.Cut(payload, "&")
	default:
		return nil, ErrNotInvite
	}
	fp, err := keystore.ParseFingerprint(fpr)
	if err != nil {
		return nil, fmt.Errorf("%w: fingerprint: %v", ErrBadInvite, err)
	}
	params := map[string]string{}
	for _, kv := range strings.Split(fragment, "&") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if _, dup := params[k]; dup {
			return nil, fmt.Errorf("%w: parameter %q given twice", ErrBadInvite, k)
		}
		params[k] = v
	}
	if params["x"] != "" || params["g"] != "" || params["b"] != "" || params["j"] != "" {
		return nil, ErrGroupInvite
	}
	inv := &Invite{Fingerprint: fp, V3: params["v"] == "3"}
	if inv.Addr, err = decodeAddr(params["a"]); err != nil {
		return nil, err
	}
	if inv.Name, err = decodeName(params["n"]); err != nil {
		return nil, err
	}
	inv.Auth = params["s"]
	if !validToken(inv.Auth) {
		return nil, fmt.Errorf("%w: missing or malformed auth token", ErrBadInvite)
	}
	inv.InviteNumber = params["i"]
	switch {
	case inv.InviteNumber == "":
		// v3 needs no invite number; a code without one is v3 by definition.
		inv.V3 = true
	case !validToken(inv.InviteNumber):
		return nil, fmt.Errorf("%w: malformed invite number", ErrBadInvite)
	}
	return inv, nil
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func decodeAddr(raw string) (string, error) {
	if raw == "" {
		return "", fmt.Errorf("%w: no address", ErrBadInvite)
	}
	a, err := url.PathUnescape(raw)
	if err != nil {
		return "", fmt.Errorf("%w: address: %v", ErrBadInvite, err)
	}
	addr, err := keystore.NormalizeAddr(strings.TrimSpace(a))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadInvite, err)
	}
	return addr, nil
}

func decodeName(raw string) (string, error) {
	// Delta Chat writes a space in the name as '+'.
	n, err := url.PathUnescape(strings.ReplaceAll(raw, "+", "%20"))
	if err != nil || !utf8.ValidString(n) {
		return "", fmt.Errorf("%w: name is not valid percent-encoded UTF-8", ErrBadInvite)
	}
	if strings.HasSuffix(n, "_") {
		n = strings.TrimSuffix(n, "_") + "…"
	}
	return n, nil
}

// validToken checks Delta Chat's rule for invite numbers and auth tokens:
// 11 to 32 characters of the URL-safe base64 alphabet.
func validToken(s string) bool {
	if len(s) <= 10 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
