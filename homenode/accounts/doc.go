// Package accounts checks logins for the home mail node: argon2id password
// hashes in the PHC string format, random passwords for new accounts, and an
// Authenticator that checks a login against the store, rate-limited per client
// address and per account.
//
// API:
//
//	HashPassword(pw string) (string, error)      // "$argon2id$v=19$m=7168,t=5,p=1$salt$hash"
//	VerifyPassword(hash, pw string) (bool, error) // constant-time; ErrBadHash for an unusable hash
//	GeneratePassword() (string, error)            // 120 random bits, e.g. "k3xq7m-..."
//	CheckPassword(pw string) error                // ErrWeakPassword (wrapped, saying why)
//	NewAuthenticator(store PasswordStore, log *slog.Logger) *Authenticator
//	(*Authenticator).Authenticate(ctx, remote net.Addr, user, pass string) (addr string, err error)
//
// Authenticate returns ErrBadCredentials for a wrong user or password and
// ErrRateLimited (wrapped, with the wait) when the client address failed too
// often; any other error is a store failure the front end reports as
// temporary. Failures are counted per client address (an IPv6 client by its
// /64) and per account name: an address gets five free failures, an account
// ten, then each further attempt waits 1 s, doubling up to 15 minutes; a
// count is forgotten after an hour without failures. A success forgives only
// the failures that address made at that account, so logging in to an
// account of one's own does not buy guesses at another. While an account is
// locked, addresses that logged in to it in the last 7 days may still try
// (held by their own per-address limit), so that guesses at an account do
// not lock its owner's devices out. Memory is bounded: each table keeps at
// most 4096 entries, the oldest going first. Every refused login is logged
// as one slog line.
//
// CheckPassword refuses passwords an account must not be given: shorter
// than MinPasswordLen, or on a list of common passwords (embedded), or one
// character repeated.
//
// The argon2id cost (7 MiB, 5 passes, 1 lane: the least memory among OWASP's
// equivalent recommended settings) suits a router; one hash is computed at a
// time so memory stays bounded under a flood of logins, and its memory goes
// back to the OS right after. A successful check is remembered for an hour
// (a keyed hash of the stored hash and the password, never the password), so
// that clients logging in again and again with the same password do not
// cost a check each time.
package accounts
