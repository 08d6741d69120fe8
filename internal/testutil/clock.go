package testutil

import (
	"sync"
	"time"
)

// Clock is the real time moved on by Advance, for code under test that
// takes a func() time.Time. The zero value is the real time.
type Clock struct {
	mu  sync.Mutex
	off time.Duration
}

// Now is the real time plus what was advanced.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}
