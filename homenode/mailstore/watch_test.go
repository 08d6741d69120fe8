package mailstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// recorder collects the changes a watcher receives.
type recorder struct {
	mu      sync.Mutex
	changes []Change
}

func (r *recorder) fn(cs []Change) {
	r.mu.Lock()
	r.changes = append(r.changes, cs...)
	r.mu.Unlock()
}

func (r *recorder) take() []Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.changes
	r.changes = nil
	return out
}

func (r *recorder) summary() []string {
	var out []string
	for _, c := range r.take() {
		out = append(out, fmt.Sprintf("%d:%d:%v", c.Kind, c.UID, c.Flags))
	}
	return out
}

func TestWatchChanges(t *testing.T) {
	ctx := context.Background()
	const a = "a@example.org"
	s := openWithUsers(t, a)
	if err := s.CreateMailbox(ctx, a, "Other"); err != nil {
		t.Fatal(err)
	}
	var r1, r2, rOther recorder
	w1, snap, err := s.Watch(ctx, a, "inbox", r1.fn)
	if err != nil {
		t.Fatal(err)
	}
	w2, _, err := s.Watch(ctx, a, "INBOX", r2.fn)
	if err != nil {
		t.Fatal(err)
	}
	wo, _, err := s.Watch(ctx, a, "Other", rOther.fn)
	if err != nil {
		t.Fatal(err)
	}
	defer wo.Close()
	if _, _, err := s.Watch(ctx, a, "Nope", r1.fn); !errors.Is(err, ErrNoSuchMailbox) {
		t.Fatalf("Watch of unknown mailbox: %v", err)
	}
	id := snap.ID

	steps := []struct {
		name   string
		run    func() error
		want1  []string
		want2  []string
		wantOt []string
	}{
		{"deliver", func() error { return s.Deliver(ctx, []string{a}, []byte("x")) },
			[]string{"1:1:[]"}, []string{"1:1:[]"}, nil},
		{"flags from w1 are not echoed to w1", func() error {
			_, err := s.UpdateFlags(ctx, a, id, []uint32{1}, FlagsAdd, []string{FlagSeen}, w1)
			return err
		}, nil, []string{`3:1:[\Seen]`}, nil},
		{"unchanged flags are not reported", func() error {
			_, err := s.UpdateFlags(ctx, a, id, []uint32{1}, FlagsAdd, []string{FlagSeen}, nil)
			return err
		}, nil, nil, nil},
		{"move to Other", func() error { _, err := s.Move(ctx, a, id, []uint32{1}, "Other"); return err },
			[]string{"2:1:[]"}, []string{"2:1:[]"}, []string{`1:1:[\Seen]`}},
		{"rename does not disturb the watch", func() error {
			if err := s.RenameMailbox(ctx, a, "Other", "Renamed"); err != nil {
				return err
			}
			_, _, err := s.Append(ctx, a, "Renamed", []byte("y"), nil, s.now())
			return err
		}, nil, nil, []string{"1:2:[]"}},
		{"delete mailbox", func() error { return s.DeleteMailbox(ctx, a, "Renamed") }, nil, nil, []string{"4:0:[]"}},
		{"closed watcher hears nothing", func() error {
			w2.Close()
			return s.Deliver(ctx, []string{a}, []byte("z"))
		}, []string{"1:2:[]"}, nil, nil},
		{"delete user", func() error { return s.DeleteUser(ctx, a) }, []string{"4:0:[]"}, nil, nil},
	}
	for _, st := range steps {
		if err := st.run(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		for i, c := range []struct {
			r    *recorder
			want []string
		}{{&r1, st.want1}, {&r2, st.want2}, {&rOther, st.wantOt}} {
			if got := c.r.summary(); !slices.Equal(got, c.want) && !(len(got) == 0 && len(c.want) == 0) {
				t.Fatalf("%s: watcher %d got %q, want %q", st.name, i, got, c.want)
			}
		}
	}
	w1.Close()
}

// A failing write in a batch is answered with its error and leaves nothing;
// its neighbours in the same transaction commit, and only their changes are
// published.
func TestBatchFailureIsolated(t *testing.T) {
	ctx := context.Background()
	const a = "a@example.org"
	s := openWithUsers(t, a)
	var rec recorder
	w, _, err := s.Watch(ctx, a, Inbox, rec.fn)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	deliverOp := func(addr string) *op {
		return &op{done: make(chan error, 1), fn: func(tx *bolt.Tx, ev *events) error {
			u, err := userBucket(tx, addr)
			if err != nil {
				return err
			}
			mb, err := openMailbox(u, addr, Inbox)
			if err != nil {
				return err
			}
			_, err = mb.appendMsg(ev, []byte("m"), flagSet{}, s.now())
			return err
		}}
	}
	// The middle op writes, then fails: its write must vanish.
	failing := &op{done: make(chan error, 1), fn: func(tx *bolt.Tx, ev *events) error {
		u, _ := userBucket(tx, a)
		mb, _ := openMailbox(u, a, Inbox)
		if _, err := mb.appendMsg(ev, []byte("half"), flagSet{}, s.now()); err != nil {
			return err
		}
		return errors.New("boom")
	}}
	batch := []*op{deliverOp(a), failing, deliverOp("nobody@example.org"), deliverOp(a)}
	s.runBatch(batch) // bbolt serialises it with the idle committer

	wantErrs := []error{nil, errors.New("boom"), ErrNoSuchUser, nil}
	for i, o := range batch {
		err := <-o.done
		switch {
		case wantErrs[i] == nil && err != nil,
			wantErrs[i] != nil && err == nil,
			errors.Is(wantErrs[i], ErrNoSuchUser) && !errors.Is(err, ErrNoSuchUser):
			t.Fatalf("op %d: err = %v, want %v", i, err, wantErrs[i])
		}
	}
	msgs := inboxMessages(t, s, a)
	if len(msgs) != 2 || msgs[0].UID != 1 || msgs[1].UID != 2 {
		t.Fatalf("messages after batch = %+v", msgs)
	}
	if got := rec.summary(); !slices.Equal(got, []string{"1:1:[]", "1:2:[]"}) {
		t.Fatalf("published %q", got)
	}
}

// Concurrent deliveries, watchers registering while mail flows, flag
// changes and expunges: every watcher's snapshot plus the changes it hears
// afterwards must rebuild exactly the mailbox's final UID list. Run with
// -race.
func TestConcurrentDeliverAndWatch(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	users := []string{"a@example.org", "b@example.org", "c@example.org"}
	for _, u := range users {
		mustAddUser(t, s, u)
	}
	const writers, perWriter = 8, 40

	// A view is what an IMAP session keeps: the snapshot, then the changes
	// heard (possibly starting before the snapshot was taken).
	type view struct {
		user    string
		mu      sync.Mutex
		changes []Change
		snap    *Snapshot
	}
	rebuild := func(v *view) ([]uint32, error) {
		var uids []uint32
		for _, m := range v.snap.Messages {
			uids = append(uids, m.UID)
		}
		next := v.snap.UIDNext
		for _, c := range v.changes {
			switch c.Kind {
			case MessageAdded:
				if c.UID < next {
					continue // already in the snapshot
				}
				if n := len(uids); n > 0 && uids[n-1] >= c.UID {
					return nil, fmt.Errorf("UID %d added after %d", c.UID, uids[n-1])
				}
				uids = append(uids, c.UID)
				next = c.UID + 1
			case MessageExpunged:
				if i := slices.Index(uids, c.UID); i >= 0 {
					uids = slices.Delete(uids, i, i+1)
				}
			}
		}
		return uids, nil
	}

	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter*2)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				rcpts := []string{users[(w+i)%3], users[(w+i+1)%3]}
				if err := s.Deliver(ctx, rcpts, fmt.Appendf(nil, "Subject: %d-%d\r\n\r\nx\r\n", w, i)); err != nil {
					errs <- err
				}
				if i%10 == 9 {
					// Some deliveries must fail without harming the others.
					if err := s.Deliver(ctx, []string{users[w%3], "ghost@example.org"}, []byte("x")); !errors.Is(err, ErrNoSuchUser) {
						errs <- fmt.Errorf("delivery to a ghost: %v", err)
					}
				}
			}
		}()
	}
	// A janitor expunging messages of user a while mail flows.
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, snap, err := s.Watch(ctx, users[0], Inbox, func([]Change) {})
		if err != nil {
			errs <- err
			return
		}
		for i := 0; i < 20; i++ {
			infos, err := s.Messages(ctx, users[0], snap.ID, nil)
			if err != nil {
				errs <- err
				return
			}
			var del []uint32
			for j, in := range infos {
				if j%3 == 0 {
					del = append(del, in.UID)
				}
			}
			if _, err := s.UpdateFlags(ctx, users[0], snap.ID, del, FlagsAdd, []string{FlagDeleted}, nil); err != nil {
				errs <- err
			}
			if _, err := s.Expunge(ctx, users[0], snap.ID, nil); err != nil {
				errs <- err
			}
		}
	}()
	// Watchers that register while all this happens.
	var views []*view
	var watchers []*Watcher
	var vmu sync.Mutex
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := &view{user: users[i%3]}
			w, snap, err := s.Watch(ctx, v.user, Inbox, func(cs []Change) {
				v.mu.Lock()
				v.changes = append(v.changes, cs...)
				v.mu.Unlock()
			})
			if err != nil {
				errs <- err
				return
			}
			v.mu.Lock()
			v.snap = snap
			v.mu.Unlock()
			vmu.Lock()
			views = append(views, v)
			watchers = append(watchers, w)
			vmu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, w := range watchers {
		w.Close()
	}
	for i, v := range views {
		var want []uint32
		for _, m := range inboxMessages(t, s, v.user) {
			want = append(want, m.UID)
		}
		got, err := rebuild(v)
		if err != nil {
			t.Errorf("view %d (%s): %v", i, v.user, err)
		} else if !slices.Equal(got, want) {
			t.Errorf("view %d (%s): rebuilt %v, mailbox has %v", i, v.user, got, want)
		}
	}
	total := 0
	for _, u := range users {
		st, _ := s.MailboxStatus(ctx, u, Inbox)
		total += int(st.UIDNext) - 1
	}
	if want := writers * perWriter * 2; total != want {
		t.Fatalf("%d messages delivered, want %d", total, want)
	}
}
