package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"syscall"
)

// Sentinel errors. Errors returned by this package wrap one of these (and the
// underlying cause) so callers can decide with errors.Is.
var (
	// ErrInvalidAccount: the settings are incomplete or malformed.
	ErrInvalidAccount = errors.New("invalid account settings")
	// ErrPlainNotLoopback: security "plain" was asked for a host that is not
	// a loopback address. Plaintext never leaves the machine.
	ErrPlainNotLoopback = errors.New("plain (unencrypted) connections are allowed only to a loopback address")
	// ErrDNS: the host name does not resolve.
	ErrDNS = errors.New("host name not found")
	// ErrRefused: nothing listens on that port (connection refused).
	ErrRefused = errors.New("connection refused")
	// ErrTimeout: the server did not answer in time.
	ErrTimeout = errors.New("timed out")
	// ErrTLS: the TLS handshake failed or the certificate did not verify.
	ErrTLS = errors.New("TLS failure")
	// ErrPinMismatch: the server certificate does not have the pinned
	// SHA-256 fingerprint.
	ErrPinMismatch = errors.New("server certificate does not match the pinned fingerprint")
	// ErrAuth: the server refused the user name or password, or offers no
	// login method this package speaks.
	ErrAuth = errors.New("login refused")
	// ErrPermanent: the SMTP server rejected the message or a recipient with
	// a 5xx reply; sending the same message again will fail the same way.
	ErrPermanent = errors.New("rejected permanently")
	// ErrTemporary: the SMTP server answered with a 4xx reply; retry later.
	ErrTemporary = errors.New("rejected temporarily")
	// ErrCertChecksOff: a DCLOGIN code asks to accept invalid certificates
	// but carries no pinned fingerprint; this package never skips
	// verification.
	ErrCertChecksOff = errors.New("code turns certificate checks off and carries no pinned fingerprint")
)

// Retryable reports whether a Send error may succeed when tried again later
// unchanged: everything except a permanent rejection and invalid settings.
// Login, TLS and pin failures are retryable in this sense (the message is
// fine; the account needs fixing) and should be shown to the user.
func Retryable(err error) bool {
	return err != nil && !errors.Is(err, ErrPermanent) &&
		!errors.Is(err, ErrInvalidAccount) && !errors.Is(err, ErrPlainNotLoopback)
}

// classify wraps a network-level error with the sentinel that names it.
// Errors already classified, and context cancellation, are returned as is.
func classify(err error) error {
	if err == nil {
		return nil
	}
	for _, s := range []error{ErrDNS, ErrRefused, ErrTimeout, ErrTLS, ErrPinMismatch, ErrAuth,
		ErrPermanent, ErrTemporary, ErrInvalidAccount, ErrPlainNotLoopback} {
		if errors.Is(err, s) {
			return err
		}
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	var (
		dnsErr    *net.DNSError
		verifyErr *tls.CertificateVerificationError
		alertErr  tls.AlertError
		recErr    tls.RecordHeaderError
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		invalid   x509.CertificateInvalidError
		netErr    net.Error
	)
	switch {
	case errors.As(err, &dnsErr) && !dnsErr.IsTimeout:
		return fmt.Errorf("%w: %w", ErrDNS, err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w: %w", ErrRefused, err)
	case errors.As(err, &verifyErr), errors.As(err, &alertErr), errors.As(err, &recErr),
		errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalid):
		return fmt.Errorf("%w: %w", ErrTLS, err)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return err
}
