package thing

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/mail"
	"net/textproto"
	"strings"

	"github.com/emersion/go-msgauth/authres"
)

// ErrBadAuthservID means an authserv_id setting is not a host name.
var ErrBadAuthservID = errors.New("authserv_id must be a host name such as mail.example.org")

// CheckAuthservID accepts "" (trust no server's results) or a host name.
func CheckAuthservID(id string) error {
	if id == "" {
		return nil
	}
	for _, label := range strings.Split(id, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("%w: %q", ErrBadAuthservID, id)
		}
		for _, c := range []byte(label) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("%w: %q", ErrBadAuthservID, id)
			}
		}
	}
	return nil
}

// vouched says how the mail server named authservID vouches that the
// message raw comes from addr, or "" when it does not: its
// Authentication-Results (RFC 8601) record a login as addr at submission
// (auth=pass smtp.auth=addr) or a valid DKIM signature of addr's domain
// (dkim=pass header.d=domain), and the header From is addr. Such a field
// is trusted because that server removes every incoming one in its name;
// fields of other servers, and ones that do not parse, count for nothing.
func vouched(raw []byte, addr, authservID string) string {
	if authservID == "" {
		return ""
	}
	h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw))).ReadMIMEHeader()
	if err != nil {
		return ""
	}
	from := h.Values("From")
	if len(from) != 1 {
		return ""
	}
	a, err := mail.ParseAddress(from[0])
	if err != nil || !strings.EqualFold(a.Address, addr) {
		return ""
	}
	_, domain, _ := strings.Cut(addr, "@")
	for _, v := range h.Values("Authentication-Results") {
		id, results, err := authres.Parse(v)
		if err != nil || !strings.EqualFold(strings.TrimSuffix(id, "."), authservID) {
			continue
		}
		for _, r := range results {
			switch r := r.(type) {
			case *authres.AuthResult:
				if r.Value == authres.ResultPass && strings.EqualFold(r.Auth, addr) {
					return "login at " + authservID
				}
			case *authres.DKIMResult:
				if r.Value == authres.ResultPass && strings.EqualFold(r.Domain, domain) {
					return "DKIM signature of " + domain + " checked by " + authservID
				}
			}
		}
	}
	return ""
}
