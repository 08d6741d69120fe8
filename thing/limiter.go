package thing

import (
	"bufio"
	"bytes"
	"sync"
	"time"

	"github.com/emersion/go-message/textproto"

	"github.com/thingpost/thingpost/securejoin"
)

// limiter is a token bucket per sender: rate per minute, burst at once.
type limiter struct {
	mu      sync.Mutex
	rate    float64 // tokens per second
	burst   float64
	now     func() time.Time
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(perMinute, burst int, now func() time.Time) *limiter {
	return &limiter{rate: float64(perMinute) / 60, burst: float64(burst), now: now, buckets: map[string]*bucket{}}
}

// allow takes a token from key's bucket; false when there is none.
func (l *limiter) allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.refill(key)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// ready reports whether allow would let key through now, taking nothing:
// the agent asks before the replay guard and charges with allow only a
// message that passed it, so that refused copies cost the person they
// imitate nothing.
func (l *limiter) ready(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.refill(key).tokens >= 1
}

// refill returns key's bucket with the tokens earned since it was last
// looked at; l.mu must be held.
func (l *limiter) refill(key string) *bucket {
	now := l.now()
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = min(l.burst, b.tokens+elapsed.Seconds()*l.rate)
		b.last = now
	}
	return b
}

// plainStep is the Secure-Join header of a message's outer header: only a
// legacy vc-request carries one there.
func plainStep(raw []byte) (string, error) {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return "", err
	}
	return h.Get(securejoin.HeaderStep), nil
}
