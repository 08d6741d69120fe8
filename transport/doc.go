// Package transport is the mail connection layer shared by the thing agent
// (thingd) and the person's app. It moves raw RFC 5322 bytes and knows
// nothing about message contents or cryptography.
//
//	Account, Server, Security     settings; Validate; ParseDCLOGIN and
//	                              Account.DCLOGIN for Delta Chat login codes
//	Send, Sender                  SMTP submission (AUTH PLAIN, LOGIN fallback);
//	                              a Sender keeps its connection between sends
//	Check                         log in to both servers, name what failed
//	Watch                         follow INBOX: hand each new message to a
//	                              Handler once, apply its Disposition (Keep,
//	                              Delete, Move), save progress in the caller's
//	                              StateStore; IDLE, watchdog, reconnect
//
// TLS is always verified: against the system roots and the host name, or,
// for a self-signed home node, against a pinned SHA-256 certificate
// fingerprint (Account.PinSHA256). Unencrypted connections are allowed only
// to a loopback address, checked both in the settings and on the connected
// socket.
//
// Errors wrap sentinels (ErrDNS, ErrRefused, ErrTimeout, ErrTLS,
// ErrPinMismatch, ErrAuth, ErrPermanent, ErrTemporary, ErrInvalidAccount,
// ErrPlainNotLoopback, ErrCertChecksOff) so callers decide with errors.Is.
//
// Delivery is at least once: a message whose disposition was not yet applied
// when the connection or process died is handed over again, so the caller
// keeps a replay guard (thingd records each Message-ID before executing).
package transport
