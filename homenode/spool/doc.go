// Package spool keeps message bodies in transfer (SMTP DATA, IMAP APPEND)
// on disk rather than in memory, so that slow or stalled clients cost the
// node a file each, not their message size in RAM. It bounds three things:
// the bytes of one body, the bytes all bodies in transfer hold on disk, and
// the bytes of bodies loaded back into memory at once to be stored.
//
// A body up to SmallSize stays in memory; a larger one goes to a file that
// is unlinked as soon as it is created, so a crash leaves nothing behind.
package spool
