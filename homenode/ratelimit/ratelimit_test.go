package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestAllow(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	l, err := New(Rate{PerHour: 60, Burst: 3}, 10, c.now)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		advance time.Duration
		key     string
		want    bool
	}{
		{0, "a", true}, {0, "a", true}, {0, "a", true},
		{0, "a", false},                // burst used up
		{0, "b", true},                 // other keys have their own
		{30 * time.Second, "a", false}, // half a token
		{30 * time.Second, "a", true},  // one token a minute
		{0, "a", false},
		{time.Hour, "a", true}, {0, "a", true}, {0, "a", true}, // refilled to the burst, no more
		{0, "a", false},
	}
	for i, s := range steps {
		c.t = c.t.Add(s.advance)
		if got := l.Allow(s.key); got != s.want {
			t.Fatalf("step %d (%s): Allow = %v, want %v", i, s.key, got, s.want)
		}
	}
}

// The key cap bounds memory: full buckets go first, then the least
// recently used one.
func TestKeyCap(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	l, err := New(Rate{PerHour: 1, Burst: 1}, 3, c.now)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		c.t = c.t.Add(time.Second)
		if !l.Allow(fmt.Sprint("k", i)) {
			t.Fatalf("first use of k%d refused", i)
		}
		if l.Len() > 3 {
			t.Fatalf("%d keys held, cap 3", l.Len())
		}
	}
	if l.Allow("k99") || l.Allow("k98") {
		t.Fatal("recent keys forgot their use")
	}
	c.t = c.t.Add(2 * time.Hour) // all full again: evicted first
	l.Allow("new")
	if l.Len() != 1 {
		t.Fatalf("%d keys after full buckets were evicted, want 1", l.Len())
	}
}

func TestNewRefusesBadLimits(t *testing.T) {
	for _, r := range []Rate{{}, {PerHour: 1}, {Burst: 1}, {PerHour: -1, Burst: 1}} {
		if _, err := New(r, 1, nil); err == nil {
			t.Errorf("New accepted %+v", r)
		}
	}
	if _, err := New(Rate{PerHour: 1, Burst: 1}, 0, nil); err == nil {
		t.Error("New accepted a key cap of 0")
	}
}
