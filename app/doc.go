// Package app is the person's side of Thingpost without a user interface:
// the core that the Fyne GUI (package ui) and cmd/thingctl put on a screen.
//
// An App lives in one data directory: the person's identity (identity.key,
// locked by a passphrase through package keystore) and one bbolt file
// (app.db, 0600) with the profile, the mail account settings, the paired
// things, the durable outbox, the commands with their outcome and the
// history. The mail password is kept in the OS keyring when one works
// (SecretStore, injectable), otherwise encrypted to the person's own key,
// so it is never on disk in plain text.
//
// Life cycle:
//
//	a, _ := app.Open(app.Options{Dir: dir})
//	a.CreateProfile(ctx, name, addr, passphrase)        // or ImportProfile, or Unlock
//	a.SetAccount(ctx, acct, true)                       // or SetAccountDCLOGIN; checks the login
//	a.Start(ctx)                                        // inbox watcher, outbox, expiry
//	events, stop := a.Events()                          // for the GUI
//	th, _ := a.Pair(ctx, scannedText)                   // or PairImage; Securejoin + describe
//	c, _ := a.Send(ctx, th.ID, "set brightness 40", 0) // queued in the durable outbox
//	c, _ = a.Wait(ctx, c.ID)                            // answered, refused, expired or failed
//	a.Stop(); a.Close()
//
// Every method is safe for concurrent use. Methods that do I/O take a
// context; none of them needs the caller's goroutine for anything else, so a
// GUI calls them from its own goroutines and renders the event stream
// (Events), which never blocks the core: each subscriber has its own
// unbounded queue.
//
// Only messages that envelope.Open authenticates as signed by a paired
// thing's key reach the history; replies are matched to commands by
// In-Reply-To, events by the machine form in the wire header. Anything else
// is left in the mailbox untouched and logged, never shown as coming from a
// thing. A verified message is held to a replay window on its signature
// time, as a thing holds commands (wire.Guard), but 60 days wide, so that
// an app offline for weeks still gets every reply and event: one signed
// earlier, or whose Message-ID was seen, is dropped, so a server replaying
// old mail cannot make it show again.
//
// Our role on a thing (Thing.Role, RoleExpires) comes from the machine form
// of the thing's signed replies: the welcome after pairing lists the
// joiner, the answer to "users" everyone. Things older than that machine
// form say the role only in the welcome's text, which is read as a
// fallback. A mail server that delivers in parallel may hand over the
// welcome before the thing's vc-contact-confirm: a message signed by the
// key the pairing already verified is then held in app.db and applied once
// the thing is paired.
//
// Remove asks the thing to let us go before forgetting it: an owner
// revokes himself, anyone else sends "leave".
//
// Each command ends answered (with the reply), refused (with the thing's
// reason), expired (no answer within its time; a command still unsent when
// its time is up is never sent later) or failed (the mail server refused it
// for good). A reply that arrives after expiry still updates the command and
// is marked late: the thing did act on it.
//
// A verified reply is committed in one transaction (the command's outcome,
// the history entry, the thing's state) before its waiters wake and its
// events are published, so that what Wait or an event reports can be read
// back. The reply stays in the mailbox until it is committed: a crash in
// between loses nothing.
package app
