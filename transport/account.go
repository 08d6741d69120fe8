package transport

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/thingpost/thingpost/internal/certpin"
)

// Security says how a connection to a server is protected.
type Security string

// The security modes. The empty value means SecurityTLS.
const (
	SecurityTLS      Security = "tls"      // implicit TLS (IMAPS 993, SMTPS 465)
	SecuritySTARTTLS Security = "starttls" // plain connect, then STARTTLS before login
	SecurityPlain    Security = "plain"    // no encryption: loopback addresses only
)

// ParseSecurity reads a security name: "tls" (or "ssl"), "starttls", "plain".
func ParseSecurity(s string) (Security, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "tls", "ssl":
		return SecurityTLS, nil
	case "starttls":
		return SecuritySTARTTLS, nil
	case "plain":
		return SecurityPlain, nil
	}
	return "", fmt.Errorf("%w: unknown security %q (want tls, starttls or plain)", ErrInvalidAccount, s)
}

// Server is one of the account's two servers.
type Server struct {
	HostPort string   // "host:port"
	Security Security // empty means SecurityTLS
	// User and Password override the account's for this server only (Delta
	// Chat's DCLOGIN codes can carry separate IMAP and SMTP logins).
	User     string
	Password string
}

// Account holds what is needed to reach a mailbox and submit mail.
type Account struct {
	Address  string // the e-mail address
	IMAP     Server
	SMTP     Server
	User     string // login name for both servers; empty means Address
	Password string
	// PinSHA256, when set, is the SHA-256 fingerprint of the servers' leaf
	// certificate as certpin writes it and homenode prints it ("AB:CD:…");
	// any case, no colons and spaces are accepted too. The certificate must
	// match it exactly, and the system roots are not consulted: this is how
	// a self-signed home node is trusted. When empty, certificates are
	// verified against the system roots and the host name.
	PinSHA256 string
}

func (a *Account) user(s *Server) string {
	switch {
	case s.User != "":
		return s.User
	case a.User != "":
		return a.User
	}
	return a.Address
}

func (a *Account) password(s *Server) string {
	if s.Password != "" {
		return s.Password
	}
	return a.Password
}

// Validate checks the settings and says what is wrong. Errors wrap
// ErrInvalidAccount, or ErrPlainNotLoopback for plaintext to a host that is
// not a loopback address.
func (a *Account) Validate() error {
	if err := checkAddress(a.Address); err != nil {
		return fmt.Errorf("%w: address: %w", ErrInvalidAccount, err)
	}
	for _, s := range []struct {
		name string
		srv  *Server
	}{{"IMAP", &a.IMAP}, {"SMTP", &a.SMTP}} {
		if err := s.srv.validate(); err != nil {
			return fmt.Errorf("%s server: %w", s.name, err)
		}
		if a.password(s.srv) == "" {
			return fmt.Errorf("%w: %s server: no password", ErrInvalidAccount, s.name)
		}
	}
	if a.PinSHA256 != "" {
		if _, err := parsePin(a.PinSHA256); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) validate() error {
	host, port, err := net.SplitHostPort(s.HostPort)
	if err != nil {
		return fmt.Errorf("%w: %q is not host:port: %w", ErrInvalidAccount, s.HostPort, err)
	}
	if host == "" {
		return fmt.Errorf("%w: %q has no host", ErrInvalidAccount, s.HostPort)
	}
	if strings.ContainsFunc(host, func(r rune) bool { return r <= ' ' || r == 0x7f || strings.ContainsRune("/?#@[]\\", r) }) {
		return fmt.Errorf("%w: host %q contains a space, control character or one of / ? # @ [ ] \\", ErrInvalidAccount, host)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%w: %q: port must be 1-65535", ErrInvalidAccount, s.HostPort)
	}
	sec, err := ParseSecurity(string(s.Security))
	if err != nil {
		return err
	}
	if sec == SecurityPlain && !isLoopbackHost(host) {
		return fmt.Errorf("%w: %s", ErrPlainNotLoopback, host)
	}
	return nil
}

// where names the server in errors: protocol, host:port and security mode,
// "imap mail.example.org:993 (tls)", since a wrong mode fails in ways
// (timeouts, TLS record errors) that do not name it.
func (s *Server) where(proto string) string {
	return fmt.Sprintf("%s %s (%s)", proto, s.HostPort, s.security())
}

func (s *Server) security() Security {
	sec, err := ParseSecurity(string(s.Security))
	if err != nil {
		return SecurityTLS // unreachable after Validate; fail safe
	}
	return sec
}

// checkAddress accepts local@domain with a non-empty local part and domain,
// no spaces or control characters.
func checkAddress(addr string) error {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return fmt.Errorf("%q is not an address of the form local@domain", addr)
	}
	for _, r := range addr {
		if r <= ' ' || r == 0x7f || r == '<' || r == '>' {
			return fmt.Errorf("%q contains a space, control character or angle bracket", addr)
		}
	}
	return nil
}

// addressDomain is the part after the last '@', without the brackets of an
// address literal such as user@[127.0.0.1].
func addressDomain(addr string) string {
	d := addr[strings.LastIndexByte(addr, '@')+1:]
	return strings.TrimSuffix(strings.TrimPrefix(d, "["), "]")
}

// isLoopbackHost is true for loopback IP literals and for "localhost" (and
// names under .localhost, RFC 6761). The dialled address is checked again
// after connecting, so a resolver that maps localhost elsewhere is caught.
func isLoopbackHost(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"))
	return err == nil && ip.IsLoopback()
}

// parsePin reads a pinned fingerprint in any form certpin.Parse takes.
func parsePin(s string) (certpin.Pin, error) {
	p, err := certpin.Parse(s)
	if err != nil {
		return p, fmt.Errorf("%w: %w", ErrInvalidAccount, err)
	}
	return p, nil
}

// tlsConfig verifies the server either by pin or by system roots and name.
func (a *Account) tlsConfig(host string) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if a.PinSHA256 == "" {
		return cfg, nil
	}
	pin, err := parsePin(a.PinSHA256)
	if err != nil {
		return nil, err
	}
	// Verification is replaced, not skipped: VerifyConnection below checks
	// the leaf against the pin and fails closed on anything else.
	cfg.InsecureSkipVerify = true
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return fmt.Errorf("%w: server sent no certificate", ErrPinMismatch)
		}
		if leaf := cs.PeerCertificates[0].Raw; !pin.Matches(leaf) {
			return fmt.Errorf("%w: got %s", ErrPinMismatch, certpin.Fingerprint(leaf))
		}
		return nil
	}
	return cfg, nil
}

// checkPlainPeer refuses a plain connection that ended up at a non-loopback
// peer (for example "localhost" resolving elsewhere).
func checkPlainPeer(conn net.Conn) error {
	ap, err := netip.ParseAddrPort(conn.RemoteAddr().String())
	if err != nil || !ap.Addr().Unmap().IsLoopback() {
		return fmt.Errorf("%w: connected to %s", ErrPlainNotLoopback, conn.RemoteAddr())
	}
	return nil
}
