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
// API:
//
//	NewMX(store Store, opts MXOptions) *Server
//	NewSubmission(store Store, auth Authenticator, opts SubmissionOptions) *Server
//	(*Server).Serve(l net.Listener) error        // nil after Shutdown/Close; tls.NewListener for implicit TLS
//	(*Server).Shutdown(ctx context.Context) error // in-flight transactions finish, new MAIL gets 421
//	(*Server).Close() error
//
// Store is satisfied by *mailstore.Store, Authenticator by
// *accounts.Authenticator, Enqueuer by *queue.Queue. Logs: one slog line per
// delivery or submission and per refused connection, login, sender,
// recipient or message.
package smtpd
