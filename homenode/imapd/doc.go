// Package imapd is the home node's IMAP server: go-imap v2's imapserver
// with a Session of our own over homenode/mailstore.
//
//	srv := imapd.New(store, auth, imapd.Options{TLSConfig: cfg, Logger: log})
//	go srv.Serve(listener) // implicit TLS: pass tls.NewListener(l, cfg)
//	...
//	srv.Close()            // closes listeners and connections, waits for sessions
//
// Capabilities: IMAP4rev1, IDLE, UNSELECT, NAMESPACE, UIDPLUS, MOVE,
// CHILDREN, ESEARCH, SEARCHRES, STATUS=SIZE, APPENDLIMIT, SASL-IR,
// AUTH=PLAIN, STARTTLS (with a TLS config). Without TLS, login is refused
// (LOGINDISABLED) unless Options.AllowInsecureAuth is set, which the node
// does only for loopback listeners.
//
// Mailbox updates. Each selected connection keeps its own view of the
// mailbox: the UIDs its client knows, in sequence-number order. The store
// calls the connection's watcher after every committed change (delivery,
// another connection's STORE/EXPUNGE/MOVE), which queues the change and
// wakes the connection; the changes are written as EXISTS, EXPUNGE and
// FETCH FLAGS when the client may receive them (after a command, or at once
// while it idles). Sequence numbers are always computed from the
// connection's own view, so they match what its client was told whatever
// other connections do. (go-imap's MailboxTracker/SessionTracker would keep
// a second count beside the store's and could disagree with it between a
// commit and its notification; the per-connection view cannot.)
//
// IDLE registration race: go-imap v2 beta.8's SessionTracker misses an
// update queued between "+ idling" and its own registration until the client
// sends DONE (5-10 % of deliveries in a loop of "start IDLE, deliver at
// once"). Here the watcher queues changes whether or not the connection
// idles, and Idle flushes the queue right after it starts waiting on the wake
// channel, so a delivery that lands between "+ idling" and the wait is
// written at once, not when the client next sends DONE.
package imapd
