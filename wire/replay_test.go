package wire

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

func openDB(t testing.TB, path string) *bbolt.DB {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func newStore(t testing.TB, db *bbolt.DB) *BoltSeen {
	t.Helper()
	s, err := NewBoltSeen(db, "seen")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// guardOn is a guard with the default window and skew on the "seen" bucket
// of db, reading the time from clk.
func guardOn(t testing.TB, db *bbolt.DB, clk *clock) *Guard {
	t.Helper()
	g := NewGuard(newStore(t, db))
	g.Now = clk.now
	return g
}

// testGuard is guardOn a fresh file, with its clock at t0.
func testGuard(t testing.TB) (*Guard, *clock) {
	t.Helper()
	db := openDB(t, filepath.Join(t.TempDir(), "thing.db"))
	t.Cleanup(func() { db.Close() })
	clk := &clock{t: t0}
	return guardOn(t, db, clk), clk
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) add(d time.Duration) { c.set(c.now().Add(d)) }

func TestGuardCheck(t *testing.T) {
	ctx := context.Background()
	g, _ := testGuard(t)
	// Steps run in order on one guard and one store.
	steps := []struct {
		name string
		id   string
		date time.Time
		want error
	}{
		{"fresh", "<a1@example.org>", t0, nil},
		{"replayed", "<a1@example.org>", t0, ErrReplayed},
		{"replayed without brackets", "a1@example.org", t0, ErrReplayed},
		{"replayed with white space", "  <a1@example.org> ", t0, ErrReplayed},
		{"replayed with another date", "<a1@example.org>", t0.Add(-time.Minute), ErrReplayed},
		{"missing id", "", t0, ErrNoMessageID},
		{"empty brackets", " <> ", t0, ErrNoMessageID},
		{"space in id", "<a b@example.org>", t0, ErrBadMessageID},
		{"control in id", "<a\x00b@example.org>", t0, ErrBadMessageID},
		{"non-ASCII id", "<ä@example.org>", t0, ErrBadMessageID},
		{"nested brackets", "<<a@example.org>>", t0, ErrBadMessageID},
		{"no date", "<a2@example.org>", time.Time{}, ErrNoDate},
		{"just inside window", "<a3@example.org>", t0.Add(-DefaultWindow), nil},
		{"just outside window", "<a4@example.org>", t0.Add(-DefaultWindow - time.Second), ErrTooOld},
		{"a day old", "<a5@example.org>", t0.Add(-24 * time.Hour), ErrTooOld},
		{"1970", "<a6@example.org>", time.Unix(0, 0), ErrTooOld},
		{"skew allowed", "<a7@example.org>", t0.Add(DefaultSkew), nil},
		{"too far in future", "<a8@example.org>", t0.Add(DefaultSkew + time.Second), ErrInFuture},
		{"year 3000", "<a9@example.org>", time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), ErrInFuture},
		{"refused ids are not recorded", "<a4@example.org>", t0, nil},
		{"other zone, same instant", "<a10@example.org>", t0.In(time.FixedZone("CET", 3600)), nil},
	}
	for _, s := range steps {
		err := g.Check(ctx, s.id, s.date)
		if s.want == nil && err != nil || s.want != nil && !errors.Is(err, s.want) {
			t.Errorf("%s: Check(%q, %v) = %v, want %v", s.name, s.id, s.date, err, s.want)
		}
	}
}

// TestGuardFresh: Fresh holds a time to the same window as Check and
// records nothing, so the message can still pass Check.
func TestGuardFresh(t *testing.T) {
	g, _ := testGuard(t)
	for _, tt := range []struct {
		date time.Time
		want error
	}{
		{t0, nil},
		{t0.Add(-DefaultWindow), nil},
		{t0.Add(-DefaultWindow - time.Second), ErrTooOld},
		{t0.Add(DefaultSkew), nil},
		{t0.Add(DefaultSkew + time.Second), ErrInFuture},
		{time.Time{}, ErrNoDate},
	} {
		if err := g.Fresh(tt.date); tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("Fresh(%v) = %v, want %v", tt.date, err, tt.want)
		}
	}
	if err := g.Check(context.Background(), "<f1@example.org>", t0); err != nil {
		t.Fatalf("Check after Fresh: %v", err)
	}
	if err := (&Guard{Store: g.Store}).Fresh(t0); err == nil {
		t.Error("Fresh without a window accepted")
	}
}

func TestGuardReplayAfterReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "thing.db")
	clk := &clock{t: t0}
	db := openDB(t, path)
	g := guardOn(t, db, clk)
	if err := g.Check(ctx, "<cmd1@example.org>", t0); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// A restarted agent opens the same file: the id is still there.
	clk.add(3 * time.Minute)
	db = openDB(t, path)
	defer db.Close()
	g = guardOn(t, db, clk)
	if err := g.Check(ctx, "<cmd1@example.org>", t0); !errors.Is(err, ErrReplayed) {
		t.Fatalf("replay after reopen: %v, want ErrReplayed", err)
	}
	if err := g.Check(ctx, "<cmd2@example.org>", t0); err != nil {
		t.Fatalf("new id after reopen: %v", err)
	}
}

// TestGuardNeverAcceptsTwice replays one message at every second from its
// acceptance until well after the window, while other messages keep the
// store pruning: it must be refused every time, first by the store
// (ErrReplayed), then by the window (ErrTooOld); and once the window has
// passed, the store has forgotten it.
func TestGuardNeverAcceptsTwice(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range []struct{ window, skew time.Duration }{
		{DefaultWindow, DefaultSkew},
		{time.Minute, 0},
		{90 * time.Second, 30 * time.Second},
	} {
		t.Run(fmt.Sprintf("window %s skew %s", cfg.window, cfg.skew), func(t *testing.T) {
			db := openDB(t, filepath.Join(t.TempDir(), "thing.db"))
			defer db.Close()
			store := newStore(t, db)
			clk := &clock{t: t0}
			g := &Guard{Store: store, Window: cfg.window, Skew: cfg.skew, Now: clk.now}
			// Dated as far ahead as the skew allows: it stays acceptable longest.
			date := t0.Add(cfg.skew).Add(-time.Nanosecond)
			if err := g.Check(ctx, "victim@example.org", date); err != nil {
				t.Fatal(err)
			}
			sawReplayed := false
			end := cfg.window + 2*cfg.skew + time.Minute
			// One-second steps around the two edges (the window, the prune
			// cutoff), coarser elsewhere: every step costs an fsync.
			near := func(step time.Duration) bool {
				at := t0.Add(step)
				for _, edge := range []time.Time{date.Add(cfg.window), date.Add(cfg.window + cfg.skew)} {
					if d := at.Sub(edge); d > -15*time.Second && d < 15*time.Second {
						return true
					}
				}
				return false
			}
			for step := time.Duration(0); step <= end; {
				clk.set(t0.Add(step))
				if err := g.Check(ctx, fmt.Sprintf("other-%d@example.org", step/time.Second), clk.now()); err != nil {
					t.Fatalf("at +%s: fresh message refused: %v", step, err)
				}
				err := g.Check(ctx, "victim@example.org", date)
				switch {
				case err == nil:
					t.Fatalf("at +%s: replay accepted", step)
				case errors.Is(err, ErrReplayed):
					sawReplayed = true
				case errors.Is(err, ErrTooOld):
				default:
					t.Fatalf("at +%s: %v", step, err)
				}
				if inWindow := clk.now().Sub(date) <= cfg.window; inWindow && !errors.Is(err, ErrReplayed) {
					t.Fatalf("at +%s: date in window but %v", step, err)
				}
				if near(step) {
					step += time.Second
				} else {
					step += 10 * time.Second
				}
			}
			if !sawReplayed {
				t.Fatal("the store never caught the replay")
			}
			if ok, err := store.Contains(ctx, "victim@example.org"); err != nil || ok {
				t.Fatalf("after the window the id is still kept (%v, %v): prune does not work", ok, err)
			}
			n, err := store.Len(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// Only ids within window+skew of now remain (at most one per second).
			if limit := int((cfg.window+cfg.skew)/time.Second) + 2; n > limit {
				t.Fatalf("%d ids kept, want at most %d", n, limit)
			}
		})
	}
}

func TestGuardConcurrent(t *testing.T) {
	ctx := context.Background()
	g, _ := testGuard(t)
	const n = 16
	var ok, replayed atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			switch err := g.Check(ctx, "<same@example.org>", t0); {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, ErrReplayed):
				replayed.Add(1)
			default:
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			if err := g.Check(ctx, fmt.Sprintf("<distinct-%d@example.org>", i), t0); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 || replayed.Load() != n-1 {
		t.Fatalf("same id from %d goroutines: %d accepted, %d replayed; want 1 and %d", n, ok.Load(), replayed.Load(), n-1)
	}
}

func TestGuardFailsClosed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := openDB(t, filepath.Join(dir, "thing.db"))
	store := newStore(t, db)
	clk := &clock{t: t0}

	for name, g := range map[string]*Guard{
		"no store":       {Window: DefaultWindow, Now: clk.now},
		"no window":      {Store: store, Now: clk.now},
		"negative skew":  {Store: store, Window: DefaultWindow, Skew: -1, Now: clk.now},
		"canceled":       {Store: store, Window: DefaultWindow, Now: clk.now},
		"nil id checked": {Store: store, Window: DefaultWindow, Now: clk.now},
	} {
		c := ctx
		if name == "canceled" {
			cc, cancel := context.WithCancel(ctx)
			cancel()
			c = cc
		}
		id := "<x@example.org>"
		if name == "nil id checked" {
			id = ""
		}
		if err := g.Check(c, id, t0); err == nil {
			t.Errorf("%s: Check accepted", name)
		}
	}

	// A damaged bucket refuses rather than accepting everything.
	if err := db.Update(func(tx *bbolt.Tx) error { return tx.Bucket([]byte("seen")).DeleteBucket(idsBucket) }); err != nil {
		t.Fatal(err)
	}
	g := NewGuard(store)
	g.Now = clk.now
	if err := g.Check(ctx, "<y@example.org>", t0); err == nil {
		t.Error("damaged bucket: Check accepted")
	}

	// An unsynced or read-only database is refused up front.
	db.NoSync = true
	if _, err := NewBoltSeen(db, "other"); err == nil {
		t.Error("NewBoltSeen accepted a NoSync database")
	}
	if err := store.Record(ctx, "z@example.org", t0, t0); err == nil {
		t.Error("Record wrote to a NoSync database")
	}
	db.NoSync = false
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := bbolt.Open(filepath.Join(dir, "thing.db"), 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := NewBoltSeen(ro, "seen"); err == nil {
		t.Error("NewBoltSeen accepted a read-only database")
	}
	if _, err := NewBoltSeen(nil, "seen"); err == nil {
		t.Error("NewBoltSeen accepted no database")
	}
}

func TestBoltSeenPruneBatch(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, filepath.Join(t.TempDir(), "thing.db"))
	defer db.Close()
	s := newStore(t, db)
	old := t0.Add(-time.Hour)
	const n = pruneBatch + 10
	for i := range n {
		if err := s.Record(ctx, fmt.Sprintf("old-%d", i), old, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	// An id dated exactly at the cutoff is kept; older ones go, a batch at a time.
	if err := s.Record(ctx, "edge", t0, time.Time{}); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if err := s.Record(ctx, fmt.Sprintf("new-%d", i), t0, t0); err != nil {
			t.Fatal(err)
		}
		got, err := s.Len(ctx)
		if err != nil {
			t.Fatal(err)
		}
		old := max(0, n-(i+1)*pruneBatch)
		if want := old + 1 + i + 1; got != want {
			t.Fatalf("after %d prunes: %d ids, want %d", i+1, got, want)
		}
		if old == 0 {
			break
		}
	}
	if ok, _ := s.Contains(ctx, "edge"); !ok {
		t.Fatal("the id dated at the cutoff was pruned")
	}
	if ok, _ := s.Contains(ctx, "old-0"); ok {
		t.Fatal("old ids were not pruned")
	}
	// Dates before 1970 sort before later ones and are pruned first.
	if err := s.Record(ctx, "ancient", time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Record(ctx, "now", t0, t0.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Contains(ctx, "ancient"); ok {
		t.Fatal("an id dated 1900 was not pruned")
	}
	if ok, _ := s.Contains(ctx, "edge"); !ok {
		t.Fatal("an id dated after the cutoff was pruned")
	}
}

// TestGuardClockStepBack: ids are kept for window+skew, not just the window,
// so that a clock stepping back (NTP correcting a clock that ran ahead) by up
// to the skew does not make a pruned id acceptable again.
func TestGuardClockStepBack(t *testing.T) {
	ctx := context.Background()
	g, clk := testGuard(t)
	if err := g.Check(ctx, "victim@example.org", t0); err != nil {
		t.Fatal(err)
	}
	// The clock runs ahead; a fresh message prunes what it deems old.
	clk.set(t0.Add(DefaultWindow + DefaultSkew/2 + time.Second))
	if err := g.Check(ctx, "other@example.org", clk.now()); err != nil {
		t.Fatal(err)
	}
	// NTP steps it back into the victim's window.
	clk.set(t0.Add(DefaultWindow - time.Second))
	if err := g.Check(ctx, "victim@example.org", t0); !errors.Is(err, ErrReplayed) {
		t.Fatalf("after the clock stepped back: %v, want ErrReplayed", err)
	}
}

// TestBoltSeenRecordTx: the id commits or rolls back with the caller's own
// writes in the same transaction.
func TestBoltSeenRecordTx(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "thing.db")
	db := openDB(t, path)
	s := newStore(t, db)
	journal := []byte("journal")
	record := func(id string, fail bool) error {
		return db.Update(func(tx *bbolt.Tx) error {
			if err := s.RecordTx(tx, id, t0, t0.Add(-time.Hour)); err != nil {
				return err
			}
			b, err := tx.CreateBucketIfNotExists(journal)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(id), []byte("plan")); err != nil {
				return err
			}
			if fail {
				return errors.New("caller fails after recording")
			}
			return nil
		})
	}
	if err := record("rolled-back@example.org", true); err == nil {
		t.Fatal("the failing transaction committed")
	}
	if ok, _ := s.Contains(ctx, "rolled-back@example.org"); ok {
		t.Fatal("id recorded although the caller's transaction rolled back")
	}
	if err := record("rolled-back@example.org", false); err != nil {
		t.Fatalf("id refused after a rollback: %v", err)
	}
	if err := record("rolled-back@example.org", false); !errors.Is(err, ErrReplayed) {
		t.Fatalf("second record: %v, want ErrReplayed", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openDB(t, path)
	defer db.Close()
	s = newStore(t, db)
	err := db.View(func(tx *bbolt.Tx) error {
		if tx.Bucket(journal).Get([]byte("rolled-back@example.org")) == nil {
			return errors.New("caller's write lost")
		}
		if err := s.RecordTx(tx, "x@example.org", t0, t0); err == nil {
			return errors.New("RecordTx wrote in a read-only transaction")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Contains(ctx, "rolled-back@example.org"); !ok {
		t.Fatal("id lost after reopening")
	}
	other := openDB(t, filepath.Join(t.TempDir(), "other.db"))
	defer other.Close()
	if err := other.Update(func(tx *bbolt.Tx) error { return s.RecordTx(tx, "y@example.org", t0, t0) }); err == nil {
		t.Fatal("RecordTx wrote into another file's transaction")
	}
}
