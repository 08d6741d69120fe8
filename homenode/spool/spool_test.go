package spool

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func newSpool(t *testing.T, l Limits) (*Spool, string) {
	t.Helper()
	dir := t.TempDir() + "/spool"
	s, err := New(dir, l)
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

func TestReceiveAndLoad(t *testing.T) {
	tests := []struct {
		name   string
		size   int
		limit  int64
		want   error
		onDisk bool
	}{
		{"empty", 0, 100, nil, false},
		{"small", 100, 1000, nil, false},
		{"exactly small size", SmallSize, 1 << 20, nil, false},
		{"one over small size", SmallSize + 1, 1 << 20, nil, true},
		{"large", 300 << 10, 1 << 20, nil, true},
		{"at the limit", 50, 50, nil, false},
		{"small over the limit", 51, 50, ErrTooLarge, false},
		{"large at the limit", 100 << 10, 100 << 10, nil, true},
		{"large over the limit", 100<<10 + 1, 100 << 10, ErrTooLarge, false},
		{"over the disk budget", 2 << 20, 4 << 20, ErrFull, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, dir := newSpool(t, Limits{Disk: 1 << 20, Memory: 1 << 20})
			msg := bytes.Repeat([]byte("0123456789abcdef"), tt.size/16+1)[:tt.size]
			b, err := s.Receive(bytes.NewReader(msg), tt.limit)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Receive: %v, want %v", err, tt.want)
			}
			if err != nil {
				if s.OnDisk() != 0 {
					t.Errorf("a refused body holds %d bytes of disk", s.OnDisk())
				}
				return
			}
			defer b.Close()
			if got := s.OnDisk() > 0; got != tt.onDisk {
				t.Errorf("on disk: %v (%d bytes), want %v", got, s.OnDisk(), tt.onDisk)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("spool directory holds %v: bodies must be unlinked at once", entries)
			}
			buf, release, err := b.Load(context.Background(), 7)
			if err != nil {
				t.Fatal(err)
			}
			defer release()
			if b.Size() != int64(tt.size) || len(buf) != 7+tt.size || !bytes.Equal(buf[7:], msg) {
				t.Fatalf("loaded %d bytes (size %d), want %d + 7 headroom", len(buf), b.Size(), tt.size)
			}
			b.Close()
			if s.OnDisk() != 0 {
				t.Errorf("closed body still holds %d bytes of disk", s.OnDisk())
			}
		})
	}
}

// Bodies in transfer share the disk budget; closing one makes room.
func TestDiskBudgetIsShared(t *testing.T) {
	s, _ := newSpool(t, Limits{Disk: 200 << 10, Memory: 1 << 20})
	big := strings.Repeat("x", 120<<10)
	a, err := s.Receive(strings.NewReader(big), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Receive(strings.NewReader(big), 1<<20); !errors.Is(err, ErrFull) {
		t.Fatalf("second body: %v, want ErrFull", err)
	}
	if s.OnDisk() != 120<<10 {
		t.Fatalf("on disk %d after a refused body, want %d", s.OnDisk(), 120<<10)
	}
	a.Close()
	b, err := s.Receive(strings.NewReader(big), 1<<20)
	if err != nil {
		t.Fatalf("after closing the first: %v", err)
	}
	b.Close()
}

// Load waits while the memory budget is taken, and a body larger than the
// budget takes all of it instead of waiting forever.
func TestLoadWaitsForMemory(t *testing.T) {
	s, _ := newSpool(t, Limits{Disk: 1 << 20, Memory: 64 << 10})
	body := func(n int) *Body {
		b, err := s.Receive(strings.NewReader(strings.Repeat("y", n)), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}
	_, releaseBig, err := body(100<<10).Load(context.Background(), 0)
	if err != nil {
		t.Fatalf("a body over the budget: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	small := body(10)
	if _, _, err := small.Load(ctx, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Load while the budget is taken: %v, want a wait until the deadline", err)
	}
	releaseBig()
	releaseBig() // once only
	_, release, err := small.Load(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	release()
}

func TestNewRefusesBadLimits(t *testing.T) {
	for _, l := range []Limits{{}, {Disk: 1}, {Memory: 1}, {Disk: -1, Memory: 1}} {
		if _, err := New(t.TempDir(), l); err == nil {
			t.Errorf("New accepted %+v", l)
		}
	}
}
