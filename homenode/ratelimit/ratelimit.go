// Package ratelimit is a set of token buckets by key (a client address, a
// sender at a client) with a cap on how many keys it remembers, so that
// memory stays bounded whatever the number of keys an attacker uses.
package ratelimit

import (
	"fmt"
	"sync"
	"time"
)

// Rate is a bucket's shape: Burst tokens at most, refilled at PerHour.
type Rate struct {
	PerHour int
	Burst   int
}

func (r Rate) validate() error {
	if r.PerHour <= 0 || r.Burst <= 0 {
		return fmt.Errorf("ratelimit: per hour (%d) and burst (%d) must be > 0", r.PerHour, r.Burst)
	}
	return nil
}

// Limiter holds one bucket per key. It is safe for concurrent use.
type Limiter struct {
	rate    Rate
	maxKeys int
	now     func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// New returns a limiter that remembers at most maxKeys keys. now is the
// clock (nil: time.Now).
func New(r Rate, maxKeys int, now func() time.Time) (*Limiter, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	if maxKeys <= 0 {
		return nil, fmt.Errorf("ratelimit: key cap %d must be > 0", maxKeys)
	}
	if now == nil {
		now = time.Now
	}
	return &Limiter{rate: r, maxKeys: maxKeys, now: now, buckets: make(map[string]*bucket)}, nil
}

// Allow takes a token from key's bucket and reports whether there was one.
func (l *Limiter) Allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.maxKeys {
			l.evict(now)
		}
		b = &bucket{tokens: float64(l.rate.Burst), last: now}
		l.buckets[key] = b
	}
	b.tokens = l.refill(b, now)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (l *Limiter) refill(b *bucket, now time.Time) float64 {
	t := b.tokens + now.Sub(b.last).Hours()*float64(l.rate.PerHour)
	return min(t, float64(l.rate.Burst))
}

// evict makes room for a key: buckets that have filled up again are the
// same as no bucket and go first; if none has, the least recently used one
// goes, which gives its key a fresh burst (the cap is what bounds memory;
// it is set well above the keys a home node sees in normal use).
func (l *Limiter) evict(now time.Time) {
	var oldest string
	var oldestAt time.Time
	for k, b := range l.buckets {
		if l.refill(b, now) >= float64(l.rate.Burst) {
			delete(l.buckets, k)
			continue
		}
		if oldest == "" || b.last.Before(oldestAt) {
			oldest, oldestAt = k, b.last
		}
	}
	if len(l.buckets) >= l.maxKeys {
		delete(l.buckets, oldest)
	}
}

// Len is how many keys the limiter holds now.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
