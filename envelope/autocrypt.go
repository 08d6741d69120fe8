package envelope

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"github.com/thingpost/thingpost/keystore"
)

// maxKeydata bounds the keydata attribute (base64). Autocrypt Level 1
// expects keys of at most about 10 KiB; Delta Chat keys are under 1 KiB.
const maxKeydata = 64 << 10

// keydataLine is the length of each folded keydata line after the leading
// space: 1 + 76 = 77 characters, within the 78 RFC 5322 asks for.
const keydataLine = 76

// Autocrypt is one Autocrypt or Autocrypt-Gossip header (Autocrypt Level 1):
// an address and the key bound to it.
type Autocrypt struct {
	// Addr is the lower-case address; it equals Key.Addr().
	Addr string
	// PreferEncrypt is prefer-encrypt=mutual. Gossip headers never set it.
	PreferEncrypt bool
	// Key is the public key from keydata.
	Key *keystore.PublicKey
}

// NewAutocrypt returns the Autocrypt header of k with prefer-encrypt=mutual,
// the form Delta Chat sends.
func NewAutocrypt(k *keystore.PublicKey) *Autocrypt {
	return &Autocrypt{Addr: k.Addr(), PreferEncrypt: true, Key: k}
}

// NewGossip returns the Autocrypt-Gossip header for k (no prefer-encrypt).
func NewGossip(k *keystore.PublicKey) *Autocrypt {
	return &Autocrypt{Addr: k.Addr(), Key: k}
}

// Value is the header value on one line: "addr=..; prefer-encrypt=mutual;
// keydata=..." with keydata last.
func (a *Autocrypt) Value() string {
	return a.attrs() + a.Key.Keydata()
}

func (a *Autocrypt) attrs() string {
	s := "addr=" + strings.ToLower(a.Addr) + ";"
	if a.PreferEncrypt {
		s += " prefer-encrypt=mutual;"
	}
	return s + " keydata="
}

// Field is the complete header field "name: value" folded for the wire,
// each line ending in CRLF: the attributes on the first line, " keydata="
// on the second, then the keydata in lines of 77 characters. name is
// "Autocrypt" or "Autocrypt-Gossip".
func (a *Autocrypt) Field(name string) string {
	var b strings.Builder
	b.WriteString(name + ": " + strings.TrimSuffix(a.attrs(), " keydata=") + "\r\n keydata=\r\n")
	kd := a.Key.Keydata()
	for len(kd) > 0 {
		n := min(keydataLine, len(kd))
		b.WriteString(" " + kd[:n] + "\r\n")
		kd = kd[n:]
	}
	return b.String()
}

// ParseAutocrypt parses the value of an Autocrypt or Autocrypt-Gossip
// header, folded or not, by the Level 1 rules: addr and keydata are
// required, each attribute at most once, prefer-encrypt is "mutual" or
// anything else (no preference), an unknown attribute starting with "_" is
// ignored and any other unknown attribute invalidates the header. The key
// must be a valid public key whose User ID address equals addr. Errors wrap
// ErrBadAutocrypt.
func ParseAutocrypt(value string) (*Autocrypt, error) {
	return parseAutocrypt(value, nil)
}

// knownKeys returns keys already held for an address. When keydata is
// byte for byte one of them, that key is used instead of parsing and
// validating keydata again: a trusted sender's Autocrypt header repeats
// the key we hold in nearly every message, and validating it costs two
// signature checks, half the time of opening a message.
type knownKeys func(addr string) []*keystore.PublicKey

func parseAutocrypt(value string, known knownKeys) (*Autocrypt, error) {
	if len(value) > maxKeydata+1024 {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadAutocrypt, len(value))
	}
	var addr, keydata, prefer string
	seen := map[string]bool{}
	for _, attr := range strings.Split(value, ";") {
		attr = strings.TrimSpace(attr)
		if attr == "" {
			continue
		}
		k, v, ok := strings.Cut(attr, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if !ok {
			return nil, fmt.Errorf("%w: attribute %q has no value", ErrBadAutocrypt, k)
		}
		if seen[k] {
			return nil, fmt.Errorf("%w: attribute %q repeated", ErrBadAutocrypt, k)
		}
		seen[k] = true
		v = strings.TrimSpace(v)
		switch {
		case k == "addr":
			addr = v
		case k == "keydata":
			keydata = v
		case k == "prefer-encrypt":
			prefer = v
		case strings.HasPrefix(k, "_"):
		default:
			return nil, fmt.Errorf("%w: unknown attribute %q", ErrBadAutocrypt, k)
		}
	}
	if addr == "" || keydata == "" {
		return nil, fmt.Errorf("%w: addr and keydata are required", ErrBadAutocrypt)
	}
	naddr, err := keystore.NormalizeAddr(addr)
	if err != nil {
		return nil, fmt.Errorf("%w: addr: %v", ErrBadAutocrypt, err)
	}
	if len(keydata) > maxKeydata {
		return nil, fmt.Errorf("%w: keydata is %d bytes", ErrBadAutocrypt, len(keydata))
	}
	raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(keydata), ""))
	if err != nil {
		return nil, fmt.Errorf("%w: keydata: %v", ErrBadAutocrypt, err)
	}
	var key *keystore.PublicKey
	if known != nil {
		for _, k := range known(naddr) {
			if k != nil && bytes.Equal(k.Bytes(), raw) {
				key = k
				break
			}
		}
	}
	if key == nil {
		if key, err = keystore.ImportPublic(raw); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadAutocrypt, err)
		}
	}
	if key.Addr() != naddr {
		return nil, fmt.Errorf("%w: addr %s but the key's User ID is %s", ErrBadAutocrypt, naddr, key.Addr())
	}
	return &Autocrypt{Addr: naddr, PreferEncrypt: prefer == "mutual", Key: key}, nil
}

// OuterAutocrypt returns the Autocrypt header of a plaintext message (the
// legacy Securejoin vc-request carries the joiner's key this way). Per
// Autocrypt Level 1 there must be exactly one Autocrypt header and its addr
// must equal the From address; anything else is ErrBadAutocrypt. Nothing
// about such a header is authenticated: it says which key the sender
// claims, no more.
func OuterAutocrypt(raw []byte) (*Autocrypt, error) {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	return autocryptFrom(mail.Header{Header: message.Header{Header: h}}, "Autocrypt", nil)
}

// autocryptFrom returns the single valid Autocrypt header of h whose addr
// is h's From address.
func autocryptFrom(h mail.Header, field string, known knownKeys) (*Autocrypt, error) {
	from, _, err := fromAddr(h)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadAutocrypt, err)
	}
	values := h.Values(field)
	if len(values) != 1 {
		return nil, fmt.Errorf("%w: %d %s headers, want exactly one", ErrBadAutocrypt, len(values), field)
	}
	a, err := parseAutocrypt(values[0], known)
	if err != nil {
		return nil, err
	}
	if a.Addr != from {
		return nil, fmt.Errorf("%w: addr %s is not the From address %s", ErrBadAutocrypt, a.Addr, from)
	}
	return a, nil
}

// gossipFrom returns the valid Autocrypt-Gossip headers of h; invalid ones
// are skipped, as Autocrypt asks.
func gossipFrom(h mail.Header, known knownKeys) []*Autocrypt {
	var out []*Autocrypt
	for _, v := range h.Values("Autocrypt-Gossip") {
		if a, err := parseAutocrypt(v, known); err == nil {
			out = append(out, a)
		}
	}
	return out
}
