package accounts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"time"

	"github.com/thingpost/thingpost/homenode/mailstore"
)

// Sentinel errors callers decide on.
var (
	// ErrBadCredentials means the user does not exist or the password is wrong.
	ErrBadCredentials = errors.New("accounts: bad credentials")
	// ErrRateLimited means the client address, or logins to the account from
	// addresses it has not logged in from, failed too often; it must wait.
	ErrRateLimited = errors.New("accounts: too many failed logins, try later")
)

// PasswordStore is what the Authenticator needs from the mail store
// (*mailstore.Store). PasswordHash must return an error wrapping
// mailstore.ErrNoSuchUser for an unknown address (or ErrInvalidAddress for
// one that cannot exist).
type PasswordStore interface {
	PasswordHash(ctx context.Context, addr string) (string, error)
}

// maxCredential bounds user names and passwords so a client cannot make the
// node hash or log megabytes.
const maxCredential = 1024

// maxConcurrentHashes bounds memory: each argon2id computation holds 7 MiB
// (more for a hash made with higher parameters). One at a time keeps a
// router's peak low; a check takes some 30 ms, so logins still flow.
const maxConcurrentHashes = 1

// Authenticator checks logins against the store, rate-limited per client
// address and per account. It is safe for concurrent use by every front end.
type Authenticator struct {
	store PasswordStore
	log   *slog.Logger
	lim   *guard
	sem   chan struct{}
	now   func() time.Time
	// verified skips the hash for a password that matched a moment ago.
	verified *verified
	// verify is VerifyPassword (tests count its calls).
	verify func(hash, pw string) (bool, error)
	// dummy is verified for unknown users so that a miss costs as much time
	// as a wrong password and does not reveal which accounts exist.
	dummy string
}

// NewAuthenticator returns an Authenticator over store. A nil log means
// slog.Default().
func NewAuthenticator(store PasswordStore, log *slog.Logger) *Authenticator {
	if log == nil {
		log = slog.Default()
	}
	a := &Authenticator{
		store:    store,
		log:      log,
		lim:      newGuard(),
		sem:      make(chan struct{}, maxConcurrentHashes),
		now:      time.Now,
		verified: newVerified(),
		verify:   VerifyPassword,
	}
	// A fixed valid hash of nothing anyone can type; its parameters equal
	// HashPassword's so the timing matches.
	a.dummy = phc{memory: hashMemory, time: hashTime, threads: hashThreads,
		salt: make([]byte, saltLen), key: make([]byte, keyLen)}.String()
	return a
}

// Authenticate checks user and pass for a client at remote. On success it
// returns the account address (lower case). A wrong user or password gives an
// error wrapping ErrBadCredentials, a limited client one wrapping
// ErrRateLimited; anything else is a store failure.
func (a *Authenticator) Authenticate(ctx context.Context, remote net.Addr, user, pass string) (string, error) {
	key := clientKey(remote)
	addr := strings.ToLower(strings.TrimSpace(user))
	acct := a.lim.accountKey(addr)
	if ok, wait, limit := a.lim.allow(key, acct, a.now()); !ok {
		wait = wait.Round(time.Second) + time.Second
		a.log.Warn("login refused", "user", logSafe(user), "client", key, "reason", "rate limited", "limit", limit, "retry_after", wait)
		return "", fmt.Errorf("%w (retry in %s)", ErrRateLimited, wait)
	}

	hash := a.dummy
	known := addr != "" && len(addr) <= maxCredential && pass != "" && len(pass) <= maxCredential
	if known {
		h, err := a.store.PasswordHash(ctx, addr)
		switch {
		case errors.Is(err, mailstore.ErrNoSuchUser), errors.Is(err, mailstore.ErrInvalidAddress):
			known = false
		case err != nil:
			return "", fmt.Errorf("authenticate %s: %w", logSafe(addr), err)
		default:
			hash = h
		}
	}

	if known && a.verified.has(addr, hash, pass, a.now()) {
		a.lim.succeed(key, acct, a.now())
		return addr, nil
	}

	select {
	case a.sem <- struct{}{}:
	case <-ctx.Done():
		return "", fmt.Errorf("authenticate %s: %w", logSafe(addr), ctx.Err())
	}
	ok, err := a.verify(hash, pass)
	// The hash's memory is garbage now. Collect it and hand it back to the
	// OS at once (about a millisecond): otherwise the heap goal the GC set
	// while it was live lets the heap grow to twice its size before the next
	// collection, and the resident size stays there.
	debug.FreeOSMemory()
	<-a.sem
	if err != nil {
		// A corrupt stored hash: fail closed, and say so to the operator.
		a.log.Error("login refused", "user", logSafe(addr), "client", key, "reason", "stored hash unusable", "err", err)
		return "", fmt.Errorf("authenticate %s: %w", logSafe(addr), err)
	}
	if !ok || !known {
		n, na := a.lim.fail(key, acct, a.now())
		a.log.Warn("login refused", "user", logSafe(user), "client", key, "reason", "bad credentials", "failures", n, "account_failures", na)
		return "", ErrBadCredentials
	}
	a.lim.succeed(key, acct, a.now())
	a.verified.add(addr, hash, pass, a.now())
	return addr, nil
}

// logSafe shortens attacker-chosen strings before they reach a log line.
func logSafe(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}
