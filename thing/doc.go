// Package thing is the thing agent's core: a thing's identity, the people it
// knows and their roles, pairing by Securejoin, and the one gate that decides
// whether a message may make the thing act.
//
// An Agent watches the thing's mailbox (package transport), opens each
// message (package envelope) and acts only when everything holds: the
// message decrypts, is validly signed by a key on the thing's list, that key
// belongs to the From address, the thing is an intended recipient and in the
// protected To, the protected Date is inside the replay window, the
// Message-ID is new (package wire), and the sender's role allows the command.
// Anything else is never executed, never answered, and moved to the
// quarantine folder with the reason logged. Since anyone can send such mail,
// the folder keeps only the newest samples (QuarantineLimits; the watcher
// trims it) while the store counts every one by reason, in the same write
// as the mailbox position: a flood neither fills the disk nor grows the
// store.
//
// Accepted commands go to the thing's device (package thing/driver); every
// one gets a signed, encrypted reply whose text a Delta Chat user reads and
// whose machine form the Thingpost app reads. Replies and events pass
// through a durable outbox, so a crash or an unreachable mail server delays
// them but does not lose them.
package thing
