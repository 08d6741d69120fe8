// Package mailserver is test support: it runs a private instance of a
// standard mail server, Debian's Postfix and Dovecot, on loopback, so that
// tests can show Thingpost works with any ordinary mail server and not only
// with homenode.
//
// Start writes the whole configuration into a fresh temporary directory
// (configs, queue, mail store, sockets, logs) and starts Dovecot (IMAP with
// STARTTLS and plain login on one port, implicit TLS on another, LMTP
// delivery, SASL auth for Postfix, one passwd-file per user) and the
// Postfix master (an inbound MX port without login, a submission port with
// STARTTLS offered and a submission port with implicit TLS, both with SASL
// auth through Dovecot). Mail for the instance's domain goes from Postfix
// to Dovecot over LMTP; mail for any other domain bounces at once, so
// nothing leaves the machine. All ports are on 127.0.0.1 and chosen free at
// run time; both servers present one self-signed certificate, whose SHA-256
// Account pins. No system file, service or running system instance is
// touched. Start returns when all five ports greet; Close stops both
// servers and removes the directory, and a watchdog process does the same
// if the test process dies without Close.
//
// Delivery order is a standard server's: two messages submitted a moment
// apart may be delivered in either order (Postfix runs LMTP deliveries in
// parallel), which homenode never shows.
//
// The instance needs root (Postfix's master and Dovecot drop privileges to
// their own users, created by the Debian packages) and the packages
// postfix, dovecot-imapd and dovecot-lmtpd (scripts/bootstrap.sh installs
// them). Available says whether this machine can run one; StartForTest
// starts one for a test, or skips it where none can run (outside CI).
package mailserver
