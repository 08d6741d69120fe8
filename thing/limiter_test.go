package thing

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := newLimiter(30, 3, func() time.Time { return now })
	steps := []struct {
		advance time.Duration
		key     string
		want    bool
	}{
		{0, "a", true}, {0, "a", true}, {0, "a", true}, // the burst
		{0, "a", false},                // empty
		{0, "b", true},                 // another sender has his own bucket
		{time.Second, "a", false},      // half a token back
		{time.Second, "a", true},       // one token after 2 s at 30/min
		{0, "a", false},                // and gone again
		{time.Hour, "a", true},         // refilled, but only to the burst
		{0, "a", true}, {0, "a", true}, //
		{0, "a", false},                          //
		{-time.Minute, "a", false},               // a clock stepping back adds nothing
		{time.Minute + 2*time.Second, "a", true}, // and takes nothing away
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		if got := l.allow(s.key); got != s.want {
			t.Fatalf("step %d (%s after %v): allow = %v, want %v", i, s.key, s.advance, got, s.want)
		}
	}
}

// TestLimiterReady: ready says what allow would, and takes nothing.
func TestLimiterReady(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := newLimiter(30, 2, func() time.Time { return now })
	for range 5 {
		if !l.ready("a") {
			t.Fatal("ready took a token")
		}
	}
	l.allow("a")
	l.allow("a")
	if l.ready("a") || l.allow("a") {
		t.Fatal("ready or allow with an empty bucket")
	}
	now = now.Add(2 * time.Second)
	if !l.ready("a") || !l.allow("a") || l.ready("a") {
		t.Fatal("the refilled token")
	}
}
