package wire

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Replay guard defaults.
const (
	// DefaultWindow is how old a message's protected Date may be.
	DefaultWindow = 10 * time.Minute
	// DefaultSkew is how far in the future a Date may be (the sender's clock
	// running ahead).
	DefaultSkew = 2 * time.Minute
	// MaxMessageIDLen bounds a Message-ID (the RFC 5322 line limit).
	MaxMessageIDLen = 998
)

// Replay guard refusals. A refused message must not be executed.
var (
	ErrReplayed     = errors.New("wire: message was seen before")
	ErrTooOld       = errors.New("wire: message date is outside the replay window")
	ErrInFuture     = errors.New("wire: message date is too far in the future")
	ErrNoMessageID  = errors.New("wire: message has no Message-ID")
	ErrBadMessageID = errors.New("wire: malformed Message-ID")
	ErrNoDate       = errors.New("wire: message has no Date")
)

// SeenStore durably remembers the Message-IDs a thing has accepted.
type SeenStore interface {
	// Record atomically checks that id is new and records it with the
	// message's date, durably (fsynced) before it returns nil. In the same
	// step it may forget ids dated before pruneBefore. It returns an error
	// wrapping ErrReplayed, and changes nothing, when id is already recorded.
	// Record is safe for concurrent use.
	Record(ctx context.Context, id string, date, pruneBefore time.Time) error
}

// Guard refuses replayed and stale messages. Use NewGuard; the fields may be
// changed before first use. A Guard is safe for concurrent use.
type Guard struct {
	Store  SeenStore
	Window time.Duration    // how old a Date may be; must be > 0
	Skew   time.Duration    // how far in the future a Date may be; >= 0
	Now    func() time.Time // the clock; nil means time.Now
}

// NewGuard returns a Guard on store with DefaultWindow and DefaultSkew.
func NewGuard(store SeenStore) *Guard {
	return &Guard{Store: store, Window: DefaultWindow, Skew: DefaultSkew}
}

// Check decides whether a message with this protected Message-ID and Date
// may be executed. It returns nil only when the Date lies inside the window
// and the id was never accepted before; the id is then recorded, durably,
// before Check returns, so a crash after Check can lose a command but never
// run it twice. Refusals wrap ErrNoMessageID, ErrBadMessageID, ErrNoDate,
// ErrTooOld, ErrInFuture or ErrReplayed; any other error (the store failed)
// is a refusal too.
//
// Call Check only after the message has been decrypted and its signature,
// signer and recipients verified: otherwise anyone could record a
// Message-ID first and so block the real message.
//
// Ids are kept until their Date is older than the window plus the skew: a
// replay is caught by the store until the window refuses it, even after the
// clock steps back by up to the skew. A larger step back after a prune can
// reopen the window for a pruned id; a thing without a trustworthy clock
// should set a larger Skew.
func (g *Guard) Check(ctx context.Context, messageID string, date time.Time) error {
	id, err := normalizeMessageID(messageID)
	if err != nil {
		return err
	}
	if g.Store == nil {
		return errNotConfigured
	}
	t, err := g.fresh(date)
	if err != nil {
		return err
	}
	if err := g.Store.Record(ctx, id, date, t.Add(-g.Window-g.Skew)); err != nil {
		return fmt.Errorf("replay guard %s: %w", clip(id, 80), err)
	}
	return nil
}

// Fresh checks a time without recording anything: nil when date lies
// inside the window, else an error wrapping ErrNoDate, ErrTooOld or
// ErrInFuture. A caller holds a second time of the same message to the
// window with it (the signature's creation time beside the protected Date).
func (g *Guard) Fresh(date time.Time) error {
	_, err := g.fresh(date)
	return err
}

var errNotConfigured = errors.New("wire: replay guard is not configured")

// fresh is Fresh; it also returns the time it checked at.
func (g *Guard) fresh(date time.Time) (time.Time, error) {
	if g.Window <= 0 || g.Skew < 0 {
		return time.Time{}, errNotConfigured
	}
	if date.IsZero() {
		return time.Time{}, ErrNoDate
	}
	now := time.Now
	if g.Now != nil {
		now = g.Now
	}
	t := now()
	if age := t.Sub(date); age > g.Window {
		return t, fmt.Errorf("%w: dated %s, %s ago, window %s", ErrTooOld, date.UTC().Format(time.RFC3339), age.Round(time.Second), g.Window)
	}
	if ahead := date.Sub(t); ahead > g.Skew {
		return t, fmt.Errorf("%w: dated %s, %s ahead, allowed %s", ErrInFuture, date.UTC().Format(time.RFC3339), ahead.Round(time.Second), g.Skew)
	}
	return t, nil
}

// normalizeMessageID strips white space and the angle brackets, which
// carriers may add or drop, and refuses what no sender writes: spaces,
// control or non-ASCII characters inside, or more than MaxMessageIDLen bytes.
func normalizeMessageID(s string) (string, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "<") && strings.HasSuffix(s, ">") {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	if s == "" {
		return "", ErrNoMessageID
	}
	if len(s) > MaxMessageIDLen {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrBadMessageID, MaxMessageIDLen)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '<' || c == '>' {
			return "", fmt.Errorf("%w: %q", ErrBadMessageID, clip(s, 80))
		}
	}
	return s, nil
}
