// Package transport is the mail connection layer shared by the thing agent
// (thingd) and the person's app: account settings (including Delta Chat's
// DCLOGIN: codes), SMTP submission with classified errors, a connection check
// that names what failed, and an IMAP watcher that delivers every new message
// of INBOX exactly once per mailbox state, across reconnects and restarts.
//
// TLS is always verified: either against the system roots or, for a
// self-signed home node, against a pinned SHA-256 certificate fingerprint.
// Unencrypted connections are allowed only to a loopback address.
//
// The package knows nothing about message contents or cryptography; it moves
// raw RFC 5322 bytes.
package transport
