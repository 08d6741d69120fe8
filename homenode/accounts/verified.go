package accounts

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"time"
)

// Mail clients log in again and again with the same password: Delta Chat
// and thingd open a connection for nearly every message they send. Each
// argon2id check takes 7 MiB and some 30 ms of a router's CPU (seconds on a
// slow one), so a login that succeeded is remembered for a while, as
// Dovecot's auth cache does: what is kept is a keyed hash (HMAC-SHA256 with
// a key made at start) of the stored hash and the password, never the
// password. A changed password changes the stored hash, so it misses; a
// wrong password misses and gets the full check; an unknown user never
// gets here.
const (
	// verifiedTTL is how long a check stands, from the check (a hit does
	// not extend it).
	verifiedTTL = time.Hour
	// maxVerified bounds the entries; a home has a few dozen accounts.
	maxVerified = 256
)

// verified remembers recent successful password checks per address.
type verified struct {
	key []byte
	mu  sync.Mutex
	m   map[string]verifiedEntry
}

type verifiedEntry struct {
	mac [sha256.Size]byte
	at  time.Time
}

func newVerified() *verified {
	key := make([]byte, 32)
	rand.Read(key) // never fails (crypto/rand)
	return &verified{key: key, m: make(map[string]verifiedEntry)}
}

func (v *verified) mac(hash, pass string) [sha256.Size]byte {
	h := hmac.New(sha256.New, v.key)
	h.Write([]byte(hash))
	h.Write([]byte{0}) // a PHC string holds no NUL
	h.Write([]byte(pass))
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// has reports whether pass was checked against hash for addr within
// verifiedTTL.
func (v *verified) has(addr, hash, pass string, now time.Time) bool {
	mac := v.mac(hash, pass)
	v.mu.Lock()
	e, ok := v.m[addr]
	v.mu.Unlock()
	return ok && now.Sub(e.at) < verifiedTTL && now.Sub(e.at) >= 0 && hmac.Equal(e.mac[:], mac[:])
}

// add records that pass matched hash for addr at now.
func (v *verified) add(addr, hash, pass string, now time.Time) {
	mac := v.mac(hash, pass)
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.m[addr]; !ok && len(v.m) >= maxVerified {
		v.evict(now)
	}
	v.m[addr] = verifiedEntry{mac: mac, at: now}
}

// evict drops the expired entries, or if none has expired the oldest.
func (v *verified) evict(now time.Time) {
	var oldest string
	for a, e := range v.m {
		if now.Sub(e.at) >= verifiedTTL {
			delete(v.m, a)
		} else if oldest == "" || e.at.Before(v.m[oldest].at) {
			oldest = a
		}
	}
	if len(v.m) >= maxVerified {
		delete(v.m, oldest)
	}
}
