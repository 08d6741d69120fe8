package imapd

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/thingpost/thingpost/homenode/spool"
)

// fetchBudget bounds the bytes of messages that FETCH holds in memory at
// once over all connections: a client that asks for a large message and
// does not read the answer holds one copy of it, and many such connections
// would otherwise hold one each. One user gets at most half the budget (or
// one message, however large), so that one account's slow reads cannot keep
// everyone else's large messages out.
type fetchBudget struct {
	total int64

	mu     sync.Mutex
	used   int64
	byUser map[string]int64

	waiting atomic.Int32 // FETCHes waiting for room now (for tests)
}

// Messages up to spool.SmallSize bypass the budget: each connection holds
// at most one at a time, and the common small ones never wait.
const fetchFree = spool.SmallSize

// fetchWait is how long a FETCH waits for room before it answers NO; a
// holder keeps its share at most for its literal deadline.
const fetchWait = 30 * time.Second

// fetchPoll is how often a waiting FETCH looks for room. Waiters poll
// rather than queue, so that a small message fits in beside a large one
// that is waiting.
const fetchPoll = 10 * time.Millisecond

func newFetchBudget(total int64) *fetchBudget {
	return &fetchBudget{total: total, byUser: make(map[string]int64)}
}

// take waits until size bytes of user's fit, and returns the function
// that gives them back.
func (b *fetchBudget) take(ctx context.Context, user string, size int64) (release func(), err error) {
	if size <= fetchFree {
		return func() {}, nil
	}
	n := min(size, b.total)
	if !b.tryTake(user, n) {
		b.waiting.Add(1)
		defer b.waiting.Add(-1)
		ctx, cancel := context.WithTimeout(ctx, fetchWait)
		defer cancel()
		t := time.NewTicker(fetchPoll)
		defer t.Stop()
		for !b.tryTake(user, n) {
			select {
			case <-ctx.Done():
				return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnavailable,
					Text: "Too many large messages being fetched, try again later"}
			case <-t.C:
			}
		}
	}
	return sync.OnceFunc(func() { b.give(user, n) }), nil
}

func (b *fetchBudget) tryTake(user string, n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	mine := b.byUser[user]
	if b.used+n > b.total || mine > 0 && mine+n > b.total/2 {
		return false
	}
	b.used += n
	b.byUser[user] = mine + n
	return true
}

func (b *fetchBudget) give(user string, n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	if b.byUser[user] -= n; b.byUser[user] <= 0 {
		delete(b.byUser, user)
	}
}
