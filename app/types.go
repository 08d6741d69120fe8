package app

import (
	"errors"
	"time"

	"github.com/thingpost/thingpost/wire"
)

// Sentinel errors callers decide on.
var (
	// ErrNoProfile means no identity has been created or imported yet.
	ErrNoProfile = errors.New("no profile yet: create or import an identity first")
	// ErrLocked means the identity has not been unlocked with its passphrase.
	ErrLocked = errors.New("the identity is locked: unlock it with the passphrase")
	// ErrNoAccount means no mail account is configured.
	ErrNoAccount = errors.New("no mail account configured")
	// ErrNotRunning means Start has not been called (or Stop was).
	ErrNotRunning = errors.New("not connected: start the app first")
	// ErrNotFound means no thing or command matched.
	ErrNotFound = errors.New("not found")
	// ErrInUse means another process holds the data directory.
	ErrInUse = errors.New("the data directory is in use by another process")
	// ErrRefused means a command was refused by the thing (Command.Reply
	// says why).
	ErrRefused = errors.New("refused by the thing")
)

// Errors the package wraps with the details; no caller decides on them.
var (
	errProfileExists = errors.New("a profile already exists in this data directory")
	errAmbiguous     = errors.New("several things match")
	errPairing       = errors.New("pairing failed")
	errExpired       = errors.New("no answer from the thing in time")
	errFailed        = errors.New("could not be sent")
)

// Profile is the person: a display name and the address of the identity.
type Profile struct {
	Name        string `json:"name"`
	Addr        string `json:"addr"`
	Fingerprint string `json:"fpr"` // 40 upper-case hex digits
}

// Thing is a paired thing as the app knows it.
type Thing struct {
	// ID is the thing's key fingerprint (40 upper-case hex digits): it
	// names the thing in every method.
	ID   string `json:"id"`
	Addr string `json:"addr"`
	// Name is the thing's own name (from its code and describe);
	// LocalName the person's rename, which only this app knows.
	Name      string `json:"name"`
	LocalName string `json:"local_name,omitempty"`
	Kind      string `json:"kind,omitempty"`
	// Role is what the thing granted us; RoleExpires its end (guests).
	// Pending: the owner has yet to confirm us (the thing could not verify
	// our address); until then it obeys nothing we send.
	Role         wire.Role          `json:"role,omitempty"`
	RoleExpires  time.Time          `json:"role_expires,omitzero"`
	Pending      bool               `json:"pending,omitempty"`
	Capabilities *wire.Capabilities `json:"caps,omitempty"`
	// State is the last known state and StateTime when the thing said so.
	State     wire.State `json:"state,omitempty"`
	StateTime time.Time  `json:"state_time,omitzero"`
	// LastSeen is when a verified message from the thing last arrived.
	LastSeen time.Time `json:"last_seen,omitzero"`
	Paired   time.Time `json:"paired"`
	// Unanswered counts the commands that expired since the thing was last
	// heard from: more than zero means it looks unreachable.
	Unanswered int `json:"unanswered,omitempty"`
}

// DisplayName is the local name when the person gave one, else the
// thing's own name, else its address.
func (t *Thing) DisplayName() string {
	switch {
	case t.LocalName != "":
		return t.LocalName
	case t.Name != "":
		return t.Name
	}
	return t.Addr
}

// CommandStatus is where a command stands.
type CommandStatus string

// Command states. Queued and Sent are on the way; the others are final
// (a late reply may still turn Expired into Answered or Refused).
const (
	StatusQueued   CommandStatus = "queued"   // in the outbox, not yet accepted by the mail server
	StatusSent     CommandStatus = "sent"     // accepted by the mail server, waiting for the reply
	StatusAnswered CommandStatus = "answered" // the thing did it; Reply says what
	StatusRefused  CommandStatus = "refused"  // the thing refused; Reply.Reason says why
	StatusExpired  CommandStatus = "expired"  // no answer in time
	StatusFailed   CommandStatus = "failed"   // the mail server refused it for good
)

// Final reports whether s is an outcome.
func (s CommandStatus) Final() bool {
	switch s {
	case StatusAnswered, StatusRefused, StatusExpired, StatusFailed:
		return true
	}
	return false
}

// Command is one command sent to a thing and its outcome.
type Command struct {
	// ID is the Message-ID of the sealed command (without angle brackets).
	ID      string        `json:"id"`
	Thing   string        `json:"thing"`
	Command wire.Command  `json:"cmd"`
	Status  CommandStatus `json:"status"`
	Created time.Time     `json:"created"`
	// Deadline is when the command expires without an answer.
	Deadline time.Time `json:"deadline"`
	SentAt   time.Time `json:"sent,omitzero"`
	DoneAt   time.Time `json:"done,omitzero"`
	// Reply is the thing's answer (answered or refused).
	Reply *wire.Reply `json:"reply,omitempty"`
	// Error says why a command expired or failed, for people.
	Error string `json:"error,omitempty"`
	// Late marks a reply that came after the command had expired.
	Late     bool `json:"late,omitempty"`
	Attempts int  `json:"attempts,omitempty"`
	// Image is a picture the reply carried (the invite QR code, PNG).
	Image []byte `json:"image,omitempty"`
}

// err is nil for an answered command, and otherwise wraps ErrRefused,
// errExpired or errFailed with the reason.
func (c *Command) err() error {
	switch c.Status {
	case StatusAnswered:
		return nil
	case StatusRefused:
		reason := "refused"
		if c.Reply != nil && c.Reply.Reason != "" {
			reason = c.Reply.Reason
		}
		return &commandError{Err: ErrRefused, Reason: reason}
	case StatusExpired:
		return &commandError{Err: errExpired, Reason: c.Error}
	case StatusFailed:
		return &commandError{Err: errFailed, Reason: c.Error}
	}
	return &commandError{Err: errExpired, Reason: "still " + string(c.Status)}
}

// commandError is a command that did not succeed, with the reason for people.
type commandError struct {
	Err    error // ErrRefused, errExpired or errFailed
	Reason string
}

func (e *commandError) Error() string { return e.Err.Error() + ": " + e.Reason }
func (e *commandError) Unwrap() error { return e.Err }

// EntryKind is the kind of a history entry.
type EntryKind string

// History entry kinds.
const (
	EntryCommand EntryKind = "command" // a command we sent (Status follows it)
	EntryReply   EntryKind = "reply"   // the thing's answer to one
	EntryEvent   EntryKind = "event"   // something the thing told on its own
	EntryMessage EntryKind = "message" // other verified text (the welcome)
	EntryPaired  EntryKind = "paired"  // the pairing itself
)

// Entry is one line of a thing's history.
type Entry struct {
	Seq   uint64    `json:"seq"`
	Thing string    `json:"thing"`
	Kind  EntryKind `json:"kind"`
	Time  time.Time `json:"time"`
	Text  string    `json:"text"`
	// CommandID links a command and its reply.
	CommandID string        `json:"cmd_id,omitempty"`
	Command   *wire.Command `json:"cmd,omitempty"`
	Status    CommandStatus `json:"status,omitempty"`
	Reply     *wire.Reply   `json:"reply,omitempty"`
	Event     *wire.Event   `json:"event,omitempty"`
	// Verified says the entry came in a message signed by the thing's key
	// (replies, events, messages) or was made here (commands).
	Verified  bool   `json:"verified"`
	MessageID string `json:"msg_id,omitempty"`
}

// HistoryQuery selects history entries, newest first.
type HistoryQuery struct {
	// Before is a cursor: only entries with a smaller Seq (0: from the newest).
	Before uint64
	// Limit is the page size (0: 50; at most 1000).
	Limit int
	// Kinds restricts the kinds (nil: all).
	Kinds []EntryKind
	// Since and Until bound the time (zero: open).
	Since, Until time.Time
	// Contains filters on the text, case-insensitively.
	Contains string
}

// HistoryPage is one page of history.
type HistoryPage struct {
	Entries []Entry `json:"entries"`
	// Next is the cursor for the next (older) page; 0 when there is none.
	Next uint64 `json:"next,omitempty"`
}

// Invite is a fresh invitation to a thing for another person.
type Invite struct {
	URL     string        `json:"url"`
	Role    wire.Role     `json:"role"`
	For     time.Duration `json:"for,omitempty"` // how long the role lasts; 0: no end
	Expires time.Time     `json:"expires"`       // when the code stops working
	QR      []byte        `json:"-"`             // PNG
}
