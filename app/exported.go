package app

import (
	"github.com/thingpost/thingpost/keystore"
	"github.com/thingpost/thingpost/securejoin"
	"github.com/thingpost/thingpost/transport"
)

// The mail account types, as aliases so that a GUI fills in an account
// without importing transport, and SetAccount takes them as they are.
type (
	// Account is the mail account: address, servers, login, optional pin.
	Account = transport.Account
	// Server is one server of an account (host:port and security).
	Server = transport.Server
	// Security is how a server connection is protected.
	Security = transport.Security
)

// Connection security of a Server.
const (
	SecurityTLS      = transport.SecurityTLS      // implicit TLS (IMAPS 993, SMTPS 465)
	SecuritySTARTTLS = transport.SecuritySTARTTLS // plain connect, then STARTTLS before login
	SecurityPlain    = transport.SecurityPlain    // no encryption: loopback addresses only
)

// Sentinel errors of the lower packages that callers of app decide on.
// They are the very same values, so errors.Is works with either name.
var (
	// ErrWrongPassphrase: the passphrase does not unlock the identity (or
	// the key being imported).
	ErrWrongPassphrase = keystore.ErrWrongPassphrase
	// ErrBadAddress: not a plain e-mail address (addr-spec).
	ErrBadAddress = keystore.ErrBadAddress

	// ErrNotInvite: a scanned or pasted text is not an invite code at all.
	ErrNotInvite = securejoin.ErrNotInvite
	// ErrBadInvite: it looks like an invite but is damaged or incomplete.
	ErrBadInvite = securejoin.ErrBadInvite
	// ErrGroupInvite: an invite to a Delta Chat group or channel.
	ErrGroupInvite = securejoin.ErrGroupInvite

	// ErrInvalidAccount: the account settings are incomplete or wrong.
	ErrInvalidAccount = transport.ErrInvalidAccount
	// ErrPlainNotLoopback: plain connections only to a loopback address.
	ErrPlainNotLoopback = transport.ErrPlainNotLoopback
	// ErrCertChecksOff: a DCLOGIN code turns certificate checks off
	// without a pinned fingerprint.
	ErrCertChecksOff = transport.ErrCertChecksOff
	// ErrDNS: the server's host name was not found.
	ErrDNS = transport.ErrDNS
	// ErrConnRefused: the server refused the connection (ErrRefused is a
	// thing refusing a command).
	ErrConnRefused = transport.ErrRefused
	// ErrTimeout: the server did not answer in time.
	ErrTimeout = transport.ErrTimeout
	// ErrTLS: the TLS handshake or the certificate check failed.
	ErrTLS = transport.ErrTLS
	// ErrPinMismatch: the certificate is not the pinned one.
	ErrPinMismatch = transport.ErrPinMismatch
	// ErrAuth: the server refused the login (user or password).
	ErrAuth = transport.ErrAuth
)
