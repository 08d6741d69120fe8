package accounts

import (
	"net"
	"sync"
	"time"
)

// limiter counts failed logins per client key. The first `free` failures cost
// nothing; each failure after that locks the key for base*2^(n-free), capped
// at max. Attempts while locked are refused without a password check and do
// not extend the lock, so a flood cannot keep a shared address locked longer.
type limiter struct {
	free       int
	base, max  time.Duration
	forget     time.Duration // quiet time after which a key starts over
	maxEntries int

	mu      sync.Mutex
	entries map[string]*failState
}

type failState struct {
	failures int
	until    time.Time // attempts before this are refused
	last     time.Time // last failure
}

func newLimiter(free int) *limiter {
	return &limiter{
		free:       free,
		base:       time.Second,
		max:        15 * time.Minute,
		forget:     time.Hour,
		maxEntries: 4096,
		entries:    make(map[string]*failState),
	}
}

// allow reports whether key may try a password now, and if not, how long it
// has to wait.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st, ok := l.entries[key]
	if !ok {
		return true, 0
	}
	if l.stale(st, now) {
		delete(l.entries, key)
		return true, 0
	}
	if now.Before(st.until) {
		return false, st.until.Sub(now)
	}
	return true, 0
}

// fail records a failed login and returns the failure count.
func (l *limiter) fail(key string, now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	st, ok := l.entries[key]
	if ok && l.stale(st, now) {
		ok = false
	}
	if !ok {
		if len(l.entries) >= l.maxEntries {
			l.evict(now)
		}
		st = &failState{}
		l.entries[key] = st
	}
	st.failures++
	st.last = now
	if over := st.failures - l.free; over >= 0 {
		d := l.max
		if over < 30 && l.base<<over < l.max {
			d = l.base << over
		}
		st.until = now.Add(d)
	}
	return st.failures
}

// forgive takes n failures off key's count (those of a client that has now
// logged in). A count back under the free allowance lifts the lock.
func (l *limiter) forgive(key string, n int) {
	if n <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	st, ok := l.entries[key]
	if !ok {
		return
	}
	st.failures -= n
	switch {
	case st.failures <= 0:
		delete(l.entries, key)
	case st.failures < l.free:
		st.until = time.Time{}
	}
}

func (l *limiter) stale(st *failState, now time.Time) bool {
	return !now.Before(st.until) && now.Sub(st.last) >= l.forget
}

// evict makes room: stale entries go first; if none are stale, the entry whose
// last failure is oldest goes, so memory stays bounded under an attack from
// many addresses while recent offenders stay limited.
func (l *limiter) evict(now time.Time) {
	var oldestKey string
	var oldest time.Time
	for k, st := range l.entries {
		if l.stale(st, now) {
			delete(l.entries, k)
			continue
		}
		if oldestKey == "" || st.last.Before(oldest) {
			oldestKey, oldest = k, st.last
		}
	}
	if len(l.entries) >= l.maxEntries {
		delete(l.entries, oldestKey)
	}
}

// clientKey is the rate-limit key for a remote address: the IP for IPv4, the
// /64 prefix for IPv6 (one subscriber usually holds a whole /64).
func clientKey(remote net.Addr) string {
	var ip net.IP
	switch a := remote.(type) {
	case *net.TCPAddr:
		if a != nil {
			ip = a.IP
		}
	case *net.UDPAddr:
		if a != nil {
			ip = a.IP
		}
	case nil:
		return "unknown"
	default:
		host, _, err := net.SplitHostPort(a.String())
		if err != nil {
			return a.Network() + ":" + a.String()
		}
		ip = net.ParseIP(host)
		if ip == nil {
			return a.Network() + ":" + host
		}
	}
	if v4 := ip.To4(); v4 != nil {
		return v4.String()
	}
	if len(ip) == net.IPv6len {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return "unknown"
}
