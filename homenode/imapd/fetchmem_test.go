package imapd

import (
	"context"
	"errors"
	"testing"

	"github.com/emersion/go-imap/v2"
)

func TestFetchBudgetShares(t *testing.T) {
	const total = 1 << 20
	b := newFetchBudget(total)
	steps := []struct {
		user string
		size int64
		ok   bool
	}{
		{"alice", 400 << 10, true},
		{"alice", 200 << 10, false}, // over her half
		{"alice", fetchFree, true},  // small ones need no room
		{"bob", 512 << 10, true},
		{"carol", 200 << 10, false}, // over the total
		{"carol", 100 << 10, true},
	}
	for i, s := range steps {
		if got := s.size <= fetchFree || b.tryTake(s.user, s.size); got != s.ok {
			t.Fatalf("step %d: %s takes %d: %v, want %v", i, s.user, s.size, got, s.ok)
		}
	}
	b.give("bob", 512<<10)
	if !b.tryTake("bob", 500<<10) {
		t.Fatal("bob after giving back his share")
	}
}

// A message larger than the whole budget takes all of it when it is free,
// and a FETCH that finds no room gives up with a temporary failure.
func TestFetchBudgetTake(t *testing.T) {
	b := newFetchBudget(1 << 20)
	release, err := b.take(context.Background(), "alice", 8<<20)
	if err != nil {
		t.Fatalf("a message over the budget, budget free: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = b.take(ctx, "bob", 100<<10)
	var ie *imap.Error
	if !errors.As(err, &ie) || ie.Code != imap.ResponseCodeUnavailable {
		t.Fatalf("no room: %v, want NO [UNAVAILABLE]", err)
	}
	release()
	release() // once only
	if b.used != 0 || len(b.byUser) != 0 {
		t.Fatalf("after release: used %d, by user %v", b.used, b.byUser)
	}
	if _, err := b.take(ctx, "bob", 100<<10); err != nil {
		t.Fatalf("room again: %v", err)
	}
}
