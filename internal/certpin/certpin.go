// Package certpin is the one written form of a pinned TLS certificate: the
// SHA-256 of the certificate's DER as colon-separated upper-case hex
// ("AB:CD:…", 95 characters), which `homenode init` and `homenode status`
// print, `openssl x509 -fingerprint -sha256` prints too, and a person types
// as a pin (`thingd init --pin`). Parse also reads the form without colons,
// in any case and with spaces, so that pins written earlier still work.
//
// homenode (which knows no message crypto) and transport both use it, so it
// imports no Thingpost package.
package certpin

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strings"
)

// Pin is the SHA-256 of a certificate's DER.
type Pin [sha256.Size]byte

// Of is the pin of a DER certificate.
func Of(der []byte) Pin { return sha256.Sum256(der) }

// Fingerprint is the written pin of a DER certificate.
func Fingerprint(der []byte) string { return Of(der).String() }

// String is the pin as colon-separated upper-case hex.
func (p Pin) String() string {
	const digits = "0123456789ABCDEF"
	b := make([]byte, 0, 3*len(p)-1)
	for i, c := range p {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, digits[c>>4], digits[c&0xf])
	}
	return string(b)
}

// Matches reports in constant time whether der is the pinned certificate.
func (p Pin) Matches(der []byte) bool {
	sum := Of(der)
	return subtle.ConstantTimeCompare(sum[:], p[:]) == 1
}

// Parse reads a pin: 64 hex digits in any case, with colons, spaces or tabs
// anywhere between them.
func Parse(s string) (Pin, error) {
	var p Pin
	clean := strings.NewReplacer(":", "", " ", "", "\t", "").Replace(s)
	if len(clean) == hex.EncodedLen(len(p)) {
		if _, err := hex.Decode(p[:], []byte(clean)); err == nil {
			return p, nil
		}
	}
	return Pin{}, fmt.Errorf("pinned fingerprint %q is not 64 hex digits of a SHA-256", s)
}
