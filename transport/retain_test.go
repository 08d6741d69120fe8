package transport

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/thingpost/thingpost/internal/testutil"
)

func TestRetentionKeep(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	msgs := func() []sample {
		var s []sample
		for i := 1; i <= 20; i++ {
			s = append(s, sample{uid: imap.UID(i), size: 100, at: t0.Add(time.Duration(i) * time.Minute)})
		}
		return s
	}
	now := func() time.Time { return t0.Add(21 * time.Minute) }
	cases := []struct {
		name string
		r    Retention
		keep int // the newest n stay
	}{
		{"no bound", Retention{}, 20},
		{"count, to seven eighths", Retention{MaxMessages: 16}, 14},
		{"small count, exact", Retention{MaxMessages: 5}, 5},
		{"bytes", Retention{MaxBytes: 800}, 7},
		{"age", Retention{MaxAge: 10*time.Minute + 30*time.Second, Now: now}, 10},
		{"all bounds, the tightest wins", Retention{MaxMessages: 100, MaxBytes: 10000, MaxAge: 3*time.Minute + time.Second, Now: now}, 3},
		{"one message over the bytes", Retention{MaxBytes: 50}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kept, drop := tc.r.keep(msgs())
			if kept.messages != tc.keep || len(drop) != 20-tc.keep || kept.bytes != int64(100*tc.keep) {
				t.Fatalf("kept %+v, dropped %v; want the newest %d", kept, drop, tc.keep)
			}
			for _, uid := range drop {
				if int(uid) > 20-tc.keep {
					t.Fatalf("dropped UID %d, one of the newest %d", uid, tc.keep)
				}
			}
			if tc.keep > 0 && !kept.oldest.Equal(t0.Add(time.Duration(21-tc.keep)*time.Minute)) {
				t.Errorf("oldest kept %v", kept.oldest)
			}
			if kept.due(&tc.r) {
				t.Error("due right after a trim")
			}
		})
	}
	// A message the server gave no INTERNALDATE is not taken for old.
	r := Retention{MaxAge: time.Minute, Now: now}
	if kept, drop := r.keep([]sample{{uid: 1, size: 1}}); kept.messages != 1 || len(drop) != 0 {
		t.Errorf("undated message: kept %+v, dropped %v", kept, drop)
	}
}

func TestRetentionArguments(t *testing.T) {
	h := newRecorder(nil)
	for _, r := range []Retention{{Folder: "INBOX"}, {Folder: "inbox"}, {}, {Folder: "Quarantine", MaxMessages: -1}} {
		err := Watch(context.Background(), validAccount(), &MemoryState{}, h.handle, WatchOptions{Retain: []Retention{r}})
		if err == nil || !strings.Contains(err.Error(), "retention") {
			t.Errorf("retention %+v: %v", r, err)
		}
	}
}

// TestWatchRetention: a handler moves every message to Quarantine, which
// keeps the newest three; mail kept in INBOX and mail in other folders is
// never touched. Then the clock moves on and the rest expire without new
// mail.
func TestWatchRetention(t *testing.T) {
	forEachHome(t, func(t *testing.T, k homeKind) {
		h := k.new(t, SecurityTLS)
		a := h.account()
		clk := &testutil.Clock{}
		o := fastOpts(t, nil)
		o.IdleRefresh = 100 * time.Millisecond
		o.CreateFolders = []string{"Quarantine", "Other"}
		o.Retain = []Retention{{Folder: "Quarantine", MaxMessages: 3, MaxAge: time.Hour, Now: clk.Now}}
		rec := newRecorder(func(m Msg) (Disposition, error) {
			switch {
			case strings.Contains(string(m.Raw), "keep"):
				return Keep(), nil
			case strings.Contains(string(m.Raw), "other"):
				return Move("Other"), nil
			}
			return Move("Quarantine"), nil
		})
		h.deliver(testMessage(0, "keep"))
		h.deliver(testMessage(1, "other"))
		for i := 2; i < 12; i++ {
			h.deliver(testMessage(i, "junk"))
		}
		stop := startWatch(t, a, &MemoryState{}, rec.handle, o)
		rec.await(t, 12, 10*time.Second)
		want := func(folder, subjects string) {
			t.Helper()
			deadline := time.Now().Add(5 * time.Second)
			got := ""
			for time.Now().Before(deadline) {
				if got = strings.Join(subjectsOf(t, a, folder), ","); got == subjects {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
			t.Fatalf("%s holds %q, want %q", folder, got, subjects)
		}
		want("Quarantine", "test 9,test 10,test 11")
		// One more comes in while the watcher runs.
		h.deliver(testMessage(12, "junk"))
		want("Quarantine", "test 10,test 11,test 12")
		clk.Advance(time.Hour + time.Minute)
		want("Quarantine", "")
		stop()
		want("INBOX", "test 0")
		want("Other", "test 1")
	})
}

func subjectsOf(t testing.TB, a Account, folder string) []string {
	t.Helper()
	return subjects(folderBodies(t, a, folder))
}

// TestWatchRetentionAtLogin: a watcher trims a folder filled before it
// started, before it hands over any mail.
func TestWatchRetentionAtLogin(t *testing.T) {
	forEachHome(t, func(t *testing.T, k homeKind) {
		h := k.new(t, SecurityTLS)
		a := h.account()
		toQuarantine := newRecorder(func(Msg) (Disposition, error) { return Move("Quarantine"), nil })
		first := startWatch(t, a, &MemoryState{}, toQuarantine.handle, WatchOptions{CreateFolders: []string{"Quarantine"}, Logger: testLogger(t)})
		for i := range 6 {
			h.deliver([]byte(fmt.Sprintf("Subject: test %d\r\n\r\n%s\r\n", i, strings.Repeat("x", 1000))))
		}
		toQuarantine.await(t, 6, 5*time.Second)
		deadline := time.Now().Add(5 * time.Second)
		for len(folderBodies(t, a, "Quarantine")) < 6 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		first()
		o := fastOpts(t, nil)
		o.Retain = []Retention{{Folder: "Quarantine", MaxBytes: 2500}}
		stop := startWatch(t, a, &MemoryState{}, newRecorder(nil).handle, o)
		for len(folderBodies(t, a, "Quarantine")) > 2 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		stop()
		if got := strings.Join(subjectsOf(t, a, "Quarantine"), ","); got != "test 4,test 5" {
			t.Fatalf("Quarantine holds %q, want the newest two", got)
		}
	})
}

// TestWatchRetentionRefused: a trim the server refuses (here: the folder
// does not exist) is logged and does not hold up the mail.
func TestWatchRetentionRefused(t *testing.T) {
	forEachHome(t, func(t *testing.T, k homeKind) {
		h := k.new(t, SecurityTLS)
		o := fastOpts(t, nil)
		o.Retain = []Retention{{Folder: "Missing", MaxMessages: 1}}
		rec := newRecorder(nil)
		h.deliver(testMessage(0, "first"))
		startWatch(t, h.account(), &MemoryState{}, rec.handle, o)
		rec.await(t, 1, 5*time.Second)
		h.deliver(testMessage(1, "second"))
		rec.await(t, 1, 5*time.Second)
	})
}
