package transport

import (
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// PinParam is the DCLOGIN query parameter that carries Account.PinSHA256.
// It is a Thingpost extension: Delta Chat ignores parameters it does not
// know, so a code with it still configures Delta Chat (which then relies on
// ic=2, "accept invalid certificates", for the self-signed home node).
const PinParam = "tp-pin"

const dcloginScheme = "dclogin:"

// ParseDCLOGIN reads a Delta Chat login code,
//
//	DCLOGIN:addr?p=PW&v=1[&ih=HOST&ip=PORT&is=ssl|starttls|plain|default
//	  &iu=USER&ipw=PW&sh=HOST&sp=PORT&ss=..&su=USER&spw=PW&ic=0-3&sc=0-3]
//
// as chatmail/core's src/qr/dclogin_scheme.rs does: the prefix in any case,
// an optional "//" after it, a percent-encoded address, form-encoded query
// parameters (the last of a repeated key wins), version 1 only. What the
// code leaves out gets the defaults Delta Chat's manual setup would use
// without autoconfiguration: the host is the address's domain; the security
// follows the port (993/465 TLS, 143/587/25 STARTTLS) or is TLS; the port
// follows the security; the SMTP password is the IMAP one.
//
// Certificate checks 2 and 3 ("accept invalid certificates") are honoured
// only with a pinned fingerprint (PinParam). Without one the filled-in
// Account is returned together with an error wrapping ErrCertChecksOff, so
// that a caller can ask for the fingerprint; this package never connects
// unverified. All other errors wrap ErrInvalidAccount, or
// ErrPlainNotLoopback when the code asks for plaintext to a host that is not
// a loopback address (as Account.Validate).
func ParseDCLOGIN(code string) (Account, error) {
	addr, q, err := splitDCLOGIN(code)
	if err != nil {
		return Account{}, err
	}
	switch v := q.get("v"); {
	case !q.has("v"):
		return Account{}, fmt.Errorf("%w: DCLOGIN code has no version (v=1)", ErrInvalidAccount)
	case v != "1":
		return Account{}, fmt.Errorf("%w: DCLOGIN version %q is not supported (only v=1)", ErrInvalidAccount, v)
	}
	if !q.has("p") {
		return Account{}, fmt.Errorf("%w: DCLOGIN code has no password (p=)", ErrInvalidAccount)
	}
	a, err := q.account(addr)
	if err != nil {
		return Account{}, err
	}
	checksOff, err := q.certChecksOff()
	if err != nil {
		return Account{}, err
	}
	if err := a.Validate(); err != nil {
		return Account{}, fmt.Errorf("DCLOGIN: %w", err)
	}
	if checksOff && a.PinSHA256 == "" {
		return a, fmt.Errorf("DCLOGIN: %w", ErrCertChecksOff)
	}
	return a, nil
}

// splitDCLOGIN returns the address and the query parameters of a code.
func splitDCLOGIN(code string) (string, dcParams, error) {
	code = strings.TrimSpace(code)
	if len(code) < len(dcloginScheme) || !strings.EqualFold(code[:len(dcloginScheme)], dcloginScheme) {
		return "", nil, fmt.Errorf("%w: not a DCLOGIN: code", ErrInvalidAccount)
	}
	rest := strings.TrimPrefix(code[len(dcloginScheme):], "//")
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		rest = rest[:i] // a URL fragment, as in Delta Chat's URL parser
	}
	rawAddr, query, _ := strings.Cut(rest, "?")
	if i := strings.IndexByte(rawAddr, '/'); i >= 0 {
		rawAddr = rawAddr[:i] // "addr/ignored/path" is allowed
	}
	addr, err := url.PathUnescape(rawAddr)
	if err != nil {
		return "", nil, fmt.Errorf("%w: DCLOGIN address: %w", ErrInvalidAccount, err)
	}
	if err := checkAddress(addr); err != nil {
		return "", nil, fmt.Errorf("%w: DCLOGIN address: %w", ErrInvalidAccount, err)
	}
	values, err := url.ParseQuery(query)
	if err != nil {
		return "", nil, fmt.Errorf("%w: DCLOGIN parameters: %w", ErrInvalidAccount, err)
	}
	return addr, dcParams(values), nil
}

// dcParams are the query parameters of a DCLOGIN code.
type dcParams url.Values

// get returns the last value of k, as Delta Chat reads a repeated key.
func (q dcParams) get(k string) string {
	if v := q[k]; len(v) > 0 {
		return v[len(v)-1]
	}
	return ""
}

func (q dcParams) has(k string) bool { return len(q[k]) > 0 }

// account fills in both servers and sets the passwords and user names
// that both share once on the Account.
func (q dcParams) account(addr string) (Account, error) {
	a := Account{Address: addr, PinSHA256: q.get(PinParam)}
	domain := addressDomain(addr)
	var err error
	if a.IMAP, err = q.server("i", domain, 993, 143); err != nil {
		return Account{}, err
	}
	if a.SMTP, err = q.server("s", domain, 465, 587); err != nil {
		return Account{}, err
	}
	// Delta Chat: the IMAP password is ipw or p; the SMTP one spw or that.
	a.Password = a.IMAP.Password
	if a.Password == "" {
		a.Password = q.get("p")
	}
	a.IMAP.Password = ""
	if a.SMTP.Password == a.Password {
		a.SMTP.Password = ""
	}
	if a.IMAP.User == a.SMTP.User {
		a.User, a.IMAP.User, a.SMTP.User = a.IMAP.User, "", ""
	}
	return a, nil
}

// certChecksOff reports whether ic or sc says "accept invalid
// certificates" (2 or 3).
func (q dcParams) certChecksOff() (bool, error) {
	off := false
	for _, k := range []string{"ic", "sc"} {
		switch q.get(k) {
		case "", "0", "1":
		case "2", "3":
			off = true
		default:
			return false, fmt.Errorf("%w: DCLOGIN %s=%q: unknown certificate check level", ErrInvalidAccount, k, q.get(k))
		}
	}
	return off, nil
}

// server reads one server's parameters (prefix "i" for IMAP, "s" for
// SMTP) with Delta Chat's defaults.
func (q dcParams) server(p, domain string, tlsPort, startTLSPort int) (Server, error) {
	name := map[string]string{"i": "IMAP", "s": "SMTP"}[p]
	host := q.get(p + "h")
	if host == "" {
		host = domain
	}
	port := 0
	if q.has(p + "p") {
		n, err := strconv.Atoi(q.get(p + "p"))
		if err != nil || n < 1 || n > 65535 {
			return Server{}, fmt.Errorf("%w: DCLOGIN %s port %q", ErrInvalidAccount, name, q.get(p+"p"))
		}
		port = n
	}
	var sec Security
	switch s := q.get(p + "s"); s {
	case "ssl":
		sec = SecurityTLS
	case "starttls":
		sec = SecuritySTARTTLS
	case "plain":
		sec = SecurityPlain
	case "", "default":
		switch port {
		case 143, 587, 25:
			sec = SecuritySTARTTLS
		default:
			sec = SecurityTLS
		}
	default:
		return Server{}, fmt.Errorf("%w: DCLOGIN %s security %q (want ssl, starttls, plain or default)", ErrInvalidAccount, name, s)
	}
	if port == 0 {
		port = tlsPort
		if sec != SecurityTLS {
			port = startTLSPort
		}
	}
	return Server{
		HostPort: net.JoinHostPort(host, strconv.Itoa(port)),
		Security: sec,
		User:     q.get(p + "u"),
		Password: q.get(p + "pw"),
	}, nil
}

// DCLOGIN returns the account as a Delta Chat login code, for example to
// show a home node account as a QR code. Every setting is spelled out (no
// autoconfiguration needed). With a pin the code says ic=2 and sc=2 (Delta
// Chat cannot pin; it then accepts the self-signed certificate) and carries
// the pin in PinParam for Thingpost. The account must be valid.
func (a Account) DCLOGIN() (string, error) {
	if err := a.Validate(); err != nil {
		return "", fmt.Errorf("DCLOGIN: %w", err)
	}
	q := url.Values{}
	q.Set("p", a.Password)
	q.Set("v", "1")
	for _, s := range []struct {
		p   string
		srv *Server
	}{{"i", &a.IMAP}, {"s", &a.SMTP}} {
		host, port, _ := net.SplitHostPort(s.srv.HostPort)
		q.Set(s.p+"h", host)
		q.Set(s.p+"p", port)
		q.Set(s.p+"s", map[Security]string{SecurityTLS: "ssl", SecuritySTARTTLS: "starttls", SecurityPlain: "plain"}[s.srv.security()])
		if u := a.user(s.srv); u != a.Address {
			q.Set(s.p+"u", u)
		}
		if pw := a.password(s.srv); pw != a.Password {
			q.Set(s.p+"pw", pw)
		}
		if a.PinSHA256 != "" {
			q.Set(s.p+"c", "2")
		}
	}
	if a.PinSHA256 != "" {
		pin, _ := parsePin(a.PinSHA256)             // valid: checked above
		q.Set(PinParam, hex.EncodeToString(pin[:])) // compact: no colons to escape

	}
	return "DCLOGIN:" + url.PathEscape(a.Address) + "?" + q.Encode(), nil
}
