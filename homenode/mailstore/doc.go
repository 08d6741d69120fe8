// Package mailstore is the home node's one durable store: users and their
// password hashes, IMAP mailboxes and messages, and the outbound SMTP queue,
// all in a single bbolt file (mode 0600). It is the only package that knows
// bbolt; the SMTP and IMAP front ends go through the methods below.
//
// Every write is fsynced before the method returns. Writes are funnelled
// through one committer goroutine that groups concurrent writes into one
// transaction (group commit), so that many SMTP sessions delivering at once
// share one fsync. A write that fails leaves nothing behind.
//
// Memory: each message's bytes sit in a bucket of their own (file layout 2),
// so a delivery writes them once and never rewrites its neighbours; pages of
// the file the store is done with (a message copied out, the file after each
// commit) are dropped from the process's mapping, so the resident size does
// not grow with the mail kept.
//
// API summary
//
//	Open(path) / Close
//	Users:     AddUser (creates INBOX), SetPasswordHash, DeleteUser (removes
//	           mail too), PasswordHash, HasUser, Users
//	Delivery:  Deliver(rcpts, raw): one transaction for all recipients
//	Queue:     Enqueue, QueueDue, QueueUpdate, QueueRemove, QueueLen
//	Mailboxes: Mailboxes, CreateMailbox, DeleteMailbox, RenameMailbox,
//	           SetSubscribed, Subscriptions, MailboxStatus, Append
//	Messages (of a mailbox known by ID, so that a rename does not disturb an
//	           IMAP session that has it selected): Messages, MessageRaw,
//	           UpdateFlags, Expunge, Copy, Move
//	Quotas:    SetLimits (per account: bytes, messages, largest message;
//	           the store's bytes; a free-disk reserve), Usage, CheckQuota.
//	           Deliver, Append and Copy that do not fit store nothing and
//	           fail with ErrQuota (the account is full), ErrMessageTooBig
//	           (it never fits) or ErrStoreFull; Move takes no room, and
//	           Expunge, DeleteMailbox and DeleteUser free it. Usage counts
//	           the messages' bytes (not the file's overhead) and is kept in
//	           the file, updated in the same transaction as the mail.
//	           Enqueue keeps the free-disk reserve too.
//	Changes:   Watch(addr, mailbox, fn) registers fn for the committed changes
//	           of one mailbox (messages added, expunged, flags changed, the
//	           mailbox deleted) and returns a snapshot of the mailbox taken
//	           after registration, so that no change falls between the two.
//
// Addresses are normalised to lower case. Mailbox names use "/" as the
// hierarchy delimiter; "INBOX" is case-insensitive. UIDVALIDITY is taken from
// the clock at creation and is strictly increasing per user, so a mailbox
// deleted and re-created under the same name gets a new one; UIDs come from a
// per-mailbox persistent counter and are never reused.
package mailstore
