package queue

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/thingpost/thingpost/internal/testutil"
)

// TestRunStopsDuringDelivery: cancelling Run while a remote server hangs
// returns promptly and still records the attempt.
func TestRunStopsDuringDelivery(t *testing.T) {
	home := newStore(t, "alice@home.test")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c // say nothing, ever
		}
	}()
	q := New(home, Options{StaticMX: map[string]string{"remote.test": l.Addr().String()}, Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	q.Enqueue(context.Background(), "alice@home.test", []string{"dave@remote.test"}, msgText("alice@home.test", "dave@remote.test", "hang"))
	select {
	case c := <-accepted:
		defer c.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("the queue never connected")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel while a delivery hung")
	}
	if it := queued(t, home); it.Attempts != 1 {
		t.Fatalf("after an interrupted attempt: %d attempts recorded, want 1", it.Attempts)
	}
}

// TestManyItems: several items and recipients delivered concurrently, each
// exactly once.
func TestManyItems(t *testing.T) {
	home := newStore(t, "alice@home.test")
	remote, remoteAddr := remoteMX(t, "remote.test", nil, "dave@remote.test", "erin@remote.test")
	q := New(home, Options{StaticMX: map[string]string{"remote.test": remoteAddr}, Concurrency: 3, Logger: slog.New(slog.DiscardHandler)})
	run(t, q)
	const n = 25
	for i := range n {
		if _, err := q.Enqueue(context.Background(), "alice@home.test", []string{"dave@remote.test", "erin@remote.test"}, msgText("alice@home.test", "dave@remote.test", fmt.Sprintf("m%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "all deliveries", func() bool { return queueLen(t, home) == 0 })
	for _, who := range []string{"dave@remote.test", "erin@remote.test"} {
		got := testutil.Inbox(t, remote, who)
		seen := map[string]bool{}
		for _, m := range got {
			id := header(m, "Message-ID")
			if seen[id] {
				t.Errorf("%s got %s twice", who, id)
			}
			seen[id] = true
		}
		if len(seen) != n {
			t.Errorf("%s got %d distinct messages, want %d", who, len(seen), n)
		}
	}
}
