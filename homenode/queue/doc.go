// Package queue is the home node's outbound mail worker: it delivers the
// messages the submission server put into the store's durable queue to other
// domains.
//
// For each due item the recipients are grouped by domain. The destination is
// Options.StaticMX[domain] (host:port; tests and demos use it so two nodes on
// loopback deliver to each other), else Options.Smarthost (with AUTH PLAIN;
// STARTTLS, implicit TLS, or plain text to loopback only), else the domain's
// MX hosts by preference (the domain's own address when it has no MX; a null
// MX or a missing domain fails at once). STARTTLS is used whenever offered;
// plain text is accepted only for StaticMX hosts and loopback addresses, so
// mail never crosses a network unencrypted.
//
// Outbound mail is DKIM-signed (relaxed/relaxed, rsa-sha256 or ed25519-sha256)
// for the header From's domain. Temporary failures (4xx replies, network and
// TLS errors) are retried after 1 minute, doubling up to 1 hour, for up to 5
// days from the item's creation. A permanent failure (5xx) or the end of those
// 5 days produces one RFC 3464 delivery status notification
// (multipart/report; report-type=delivery-status) in the sender's INBOX;
// mail from the null sender is never bounced. Delivered and bounced
// recipients leave the item; the item goes when none remain. Delivery is at
// least once: a crash between a remote 250 and the queue update repeats it.
//
// API:
//
//	New(store Store, opts Options) *Queue   // Store: *mailstore.Store
//	(*Queue).Run(ctx) error                  // until ctx is done; stop it before closing the store
//	(*Queue).Kick()                          // look at the queue now
//	(*Queue).Enqueue(ctx, from, rcpts, raw)  // store.Enqueue + Kick: the smtpd.Enqueuer
//
// Options: Hostname, DKIM *DKIM{Selector, Signer, Domains}, StaticMX,
// Smarthost *Smarthost{Addr, User, Pass, TLS (StartTLS|ImplicitTLS|NoTLS),
// TLSConfig}, TLSConfig (MX STARTTLS; nil encrypts without verifying),
// Resolver, Logger, Now, and the timings MaxAge, RetryMin, RetryMax,
// PollInterval, Concurrency, DialTimeout (zero means the defaults above).
package queue
