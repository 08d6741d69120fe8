// Package smtpd is the home node's SMTP front end: the inbound MX role and the
// authenticated submission role, both go-smtp servers over the mail store.
//
// MX (port 25): mail for existing addresses of the node's domains only (550
// 5.1.1 for unknown users, 550 5.7.1 for other domains: it never relays), SIZE
// advertised and enforced (552), no AUTH, STARTTLS when a TLSConfig is given.
// Each accepted message gets Return-Path and Received headers and is delivered
// to every recipient in one fsynced store transaction before the 250.
//
// Submission (587 with STARTTLS, 465 with implicit TLS, or plain on loopback
// with AllowInsecureAuth): AUTH PLAIN or LOGIN before MAIL (530 otherwise);
// MAIL FROM must be the account's address or the null sender (553 otherwise)
// and the header From must be exactly the account's address (550 otherwise).
// Missing Date and Message-ID headers are added. Local recipients get the mail
// at once (store.Deliver); other domains go into the outbound queue
// (Enqueuer); the 250 comes only after both are durable.
//
// What one client may take (issue 15): DATA goes into a spool.Spool as it
// arrives, so a stalled transfer costs a file on disk, not memory (452
// 4.3.1 when the spool is full, 552 5.3.4 over the size); a transfer must
// keep up a minimum rate after its first minute; a connection is closed
// after five minutes without an accepted message, however many NOOPs it
// sends, and after an hour in any case. The MX counts recipients per client
// (IPv4 address, IPv6 /64) and per envelope sender at that client (451
// 4.7.1 over either), refuses an envelope or header From in its own domains
// (550 5.7.1: those come through submission) and a header with a bare CR
// or NUL. Submission refuses a display name or Sender that shows another
// address and a bare CR anywhere (550). Connection caps belong to the
// listener: wrap it with connlimit.
//
// API:
//
//	NewMX(store Store, opts MXOptions) *Server
//	NewSubmission(store Store, auth Authenticator, opts SubmissionOptions) *Server
//	(*Server).Serve(l net.Listener) error        // nil after Shutdown/Close
//	(*Server).ServeTLS(l net.Listener) error     // implicit TLS (port 465) on the plain listener l
//	(*Server).Shutdown(ctx context.Context) error // in-flight transactions finish, new MAIL gets 421
//	(*Server).Close() error
//
// Store is satisfied by *mailstore.Store, Authenticator by
// *accounts.Authenticator, Enqueuer by *queue.Queue. Logs: one slog line per
// delivery or submission and per refused connection, login, sender,
// recipient or message.
package smtpd
