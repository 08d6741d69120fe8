package accounts

import (
	"hash/maphash"
	"strconv"
	"sync"
	"time"
)

// guard is the login limit: failures are counted per client address and
// per account, so that neither many guesses from one address nor guesses
// at one account spread over many addresses get far.
//
// A success forgives only what that client failed at that account: an
// attacker who logs in to an account of his own keeps the failures he made
// at others, and the owner's logins do not forgive a stranger's guesses at
// her account.
//
// While an account is locked, clients that logged in to it within trustFor
// still may try (the per-address limit still holds them), so that guessing
// at an account does not lock its owner's devices out.
type guard struct {
	clients  *limiter // by clientKey
	accounts *limiter // by accountKey
	trustFor time.Duration
	// maxPairs bounds pairs and trusted each (memory under a flood).
	maxPairs int
	seed     maphash.Seed

	mu      sync.Mutex
	pairs   map[pair]*pairFailures
	trusted map[pair]time.Time // last success
}

// pair is one client at one account.
type pair struct{ client, account string }

type pairFailures struct {
	n    int
	last time.Time
}

// Allowances: an address gets five free failures; an account ten, since
// its owner's several devices may each mistype.
const (
	freePerClient  = 5
	freePerAccount = 10
)

func newGuard() *guard {
	return &guard{
		clients:  newLimiter(freePerClient),
		accounts: newLimiter(freePerAccount),
		trustFor: 7 * 24 * time.Hour,
		maxPairs: 4096,
		seed:     maphash.MakeSeed(),
		pairs:    make(map[pair]*pairFailures),
		trusted:  make(map[pair]time.Time),
	}
}

// accountKey is the key of a login name: a keyed hash, so that every name,
// however long, costs the same few bytes.
func (g *guard) accountKey(user string) string {
	return strconv.FormatUint(maphash.String(g.seed, user), 36)
}

// allow reports whether client may try a password for account now; if not,
// how long it has to wait and which limit holds it ("address" or
// "account").
func (g *guard) allow(client, account string, now time.Time) (ok bool, wait time.Duration, limit string) {
	if ok, wait := g.clients.allow(client, now); !ok {
		return false, wait, "address"
	}
	if ok, wait := g.accounts.allow(account, now); !ok && !g.isTrusted(pair{client, account}, now) {
		return false, wait, "account"
	}
	return true, 0, ""
}

// fail records a failed login and returns the failure counts of the client
// and of the account.
func (g *guard) fail(client, account string, now time.Time) (byClient, byAccount int) {
	p := pair{client, account}
	g.mu.Lock()
	pf, ok := g.pairs[p]
	if !ok {
		if len(g.pairs) >= g.maxPairs {
			evictOldest(g.pairs, func(pf *pairFailures) time.Time { return pf.last })
		}
		pf = &pairFailures{}
		g.pairs[p] = pf
	}
	pf.n++
	pf.last = now
	g.mu.Unlock()
	return g.clients.fail(client, now), g.accounts.fail(account, now)
}

// succeed forgives what client failed at account and trusts the client
// for that account.
func (g *guard) succeed(client, account string, now time.Time) {
	p := pair{client, account}
	g.mu.Lock()
	n := 0
	if pf, ok := g.pairs[p]; ok {
		// Failures the limiters have forgotten are not taken off again.
		if now.Sub(pf.last) < g.clients.forget {
			n = pf.n
		}
		delete(g.pairs, p)
	}
	if _, ok := g.trusted[p]; !ok && len(g.trusted) >= g.maxPairs {
		evictOldest(g.trusted, func(t time.Time) time.Time { return t })
	}
	g.trusted[p] = now
	g.mu.Unlock()
	g.clients.forgive(client, n)
	g.accounts.forgive(account, n)
}

func (g *guard) isTrusted(p pair, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	t, ok := g.trusted[p]
	return ok && now.Sub(t) < g.trustFor
}

// evictOldest removes the entry of m whose time is oldest.
func evictOldest[V any](m map[pair]V, at func(V) time.Time) {
	var oldest pair
	var oldestAt time.Time
	first := true
	for k, v := range m {
		if t := at(v); first || t.Before(oldestAt) {
			oldest, oldestAt, first = k, t, false
		}
	}
	delete(m, oldest)
}
