package mailstore

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func mailboxNames(t *testing.T, s *Store, addr string) []string {
	t.Helper()
	mbs, err := s.Mailboxes(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mb := range mbs {
		names = append(names, mb.Name)
	}
	return names
}

func TestMailboxOps(t *testing.T) {
	ctx := context.Background()
	const a = "a@example.org"
	s := openWithUsers(t, a, "b@example.org")

	steps := []struct {
		name string
		run  func() error
		want error
		list []string // mailboxes of a afterwards, if not nil
	}{
		{"create", func() error { return s.CreateMailbox(ctx, a, "Archive") }, nil, []string{"Archive", "INBOX"}},
		{"create exists", func() error { return s.CreateMailbox(ctx, a, "Archive") }, ErrMailboxExists, nil},
		{"create inbox other case", func() error { return s.CreateMailbox(ctx, a, "inbox") }, ErrMailboxExists, nil},
		{"create with trailing delimiter", func() error { return s.CreateMailbox(ctx, a, "Work/") }, nil, []string{"Archive", "INBOX", "Work"}},
		{"create creates parents", func() error { return s.CreateMailbox(ctx, a, "Lists/go/nuts") }, nil,
			[]string{"Archive", "INBOX", "Lists", "Lists/go", "Lists/go/nuts", "Work"}},
		{"create empty", func() error { return s.CreateMailbox(ctx, a, "") }, ErrInvalidMailboxName, nil},
		{"create empty level", func() error { return s.CreateMailbox(ctx, a, "a//b") }, ErrInvalidMailboxName, nil},
		{"create leading delimiter", func() error { return s.CreateMailbox(ctx, a, "/a") }, ErrInvalidMailboxName, nil},
		{"create wildcard", func() error { return s.CreateMailbox(ctx, a, "a*") }, ErrInvalidMailboxName, nil},
		{"create control char", func() error { return s.CreateMailbox(ctx, a, "a\x01") }, ErrInvalidMailboxName, nil},
		{"create for unknown user", func() error { return s.CreateMailbox(ctx, "x@example.org", "A") }, ErrNoSuchUser, nil},
		{"delete inbox", func() error { return s.DeleteMailbox(ctx, a, "Inbox") }, ErrCannotDeleteInbox, nil},
		{"delete with children", func() error { return s.DeleteMailbox(ctx, a, "Lists/go") }, ErrMailboxHasChildren, nil},
		{"delete unknown", func() error { return s.DeleteMailbox(ctx, a, "Nope") }, ErrNoSuchMailbox, nil},
		{"delete leaf", func() error { return s.DeleteMailbox(ctx, a, "Lists/go/nuts") }, nil,
			[]string{"Archive", "INBOX", "Lists", "Lists/go", "Work"}},
		{"rename with inferiors", func() error { return s.RenameMailbox(ctx, a, "Lists", "Old/Lists") }, nil,
			[]string{"Archive", "INBOX", "Old", "Old/Lists", "Old/Lists/go", "Work"}},
		{"rename onto existing", func() error { return s.RenameMailbox(ctx, a, "Work", "Archive") }, ErrMailboxExists, nil},
		{"rename unknown", func() error { return s.RenameMailbox(ctx, a, "Nope", "Yes") }, ErrNoSuchMailbox, nil},
		{"rename into itself", func() error { return s.RenameMailbox(ctx, a, "Work", "Work/sub") }, ErrInvalidMailboxName, nil},
		{"rename to INBOX", func() error { return s.RenameMailbox(ctx, a, "Work", "INBOX") }, ErrInvalidMailboxName, nil},
		{"subscribe", func() error { return s.SetSubscribed(ctx, a, "Work", true) }, nil, nil},
		{"subscribe unknown", func() error { return s.SetSubscribed(ctx, a, "Nope", true) }, ErrNoSuchMailbox, nil},
		{"rename moves subscription", func() error { return s.RenameMailbox(ctx, a, "Work", "Job") }, nil,
			[]string{"Archive", "INBOX", "Job", "Old", "Old/Lists", "Old/Lists/go"}},
	}
	for _, st := range steps {
		if err := st.run(); !errors.Is(err, st.want) {
			t.Fatalf("%s: err = %v, want %v", st.name, err, st.want)
		}
		if st.list != nil {
			if got := mailboxNames(t, s, a); !slices.Equal(got, st.list) {
				t.Fatalf("%s: mailboxes = %q, want %q", st.name, got, st.list)
			}
		}
	}
	subs, err := s.Subscriptions(ctx, a)
	if err != nil || !slices.Equal(subs, []string{"INBOX", "Job"}) {
		t.Fatalf("subscriptions = %q, %v", subs, err)
	}
	if err := s.SetSubscribed(ctx, a, "Job", false); err != nil {
		t.Fatal(err)
	}
	if subs, _ := s.Subscriptions(ctx, a); !slices.Equal(subs, []string{"INBOX"}) {
		t.Fatalf("subscriptions after unsubscribe = %q", subs)
	}
	// b's mailboxes are b's own.
	if got := mailboxNames(t, s, "b@example.org"); !slices.Equal(got, []string{"INBOX"}) {
		t.Fatalf("b's mailboxes = %q", got)
	}
}

func TestUIDValidityNewOnRecreate(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	fixed := time.Unix(1_800_000_000, 0)
	s.now = func() time.Time { return fixed } // the same second for every creation
	const a = "a@example.org"
	mustAddUser(t, s, a)
	seen := map[uint32]bool{}
	for i := 0; i < 3; i++ {
		if err := s.CreateMailbox(ctx, a, "Box"); err != nil {
			t.Fatal(err)
		}
		st, err := s.MailboxStatus(ctx, a, "Box")
		if err != nil {
			t.Fatal(err)
		}
		if seen[st.UIDValidity] {
			t.Fatalf("UIDVALIDITY %d reused", st.UIDValidity)
		}
		seen[st.UIDValidity] = true
		if err := s.DeleteMailbox(ctx, a, "Box"); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRenameInbox(t *testing.T) {
	ctx := context.Background()
	const a = "a@example.org"
	s := openWithUsers(t, a)
	mustDeliver(t, s, a, "Subject: m\r\n\r\nx\r\n", 3)
	before, _ := s.MailboxStatus(ctx, a, Inbox)
	if err := s.RenameMailbox(ctx, a, "inbox", "Old Inbox"); err != nil {
		t.Fatal(err)
	}
	in, _ := s.MailboxStatus(ctx, a, Inbox)
	old, _ := s.MailboxStatus(ctx, a, "Old Inbox")
	if in.Messages != 0 || old.Messages != 3 || in.UIDValidity != before.UIDValidity || in.UIDNext != before.UIDNext {
		t.Fatalf("after renaming INBOX: inbox %+v, old %+v (before %+v)", in, old, before)
	}
}

func TestStatusAppendFlagsExpunge(t *testing.T) {
	ctx := context.Background()
	const a = "a@example.org"
	s := openWithUsers(t, a)
	date := time.Date(2025, 7, 1, 8, 30, 0, 0, time.UTC)
	uidv, uid, err := s.Append(ctx, a, "INBOX", []byte("Subject: 1\r\n\r\none\r\n"), []string{`\seen`, "$Important", `\Recent`, "$important"}, date)
	if err != nil {
		t.Fatal(err)
	}
	if uid != 1 || uidv == 0 {
		t.Fatalf("Append = %d %d", uidv, uid)
	}
	if _, _, err := s.Append(ctx, a, "INBOX", []byte("Subject: 2\r\n\r\ntwo\r\n"), nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Append(ctx, a, "Nope", []byte("x"), nil, time.Time{}); !errors.Is(err, ErrNoSuchMailbox) {
		t.Fatalf("Append to unknown mailbox: %v", err)
	}
	if _, _, err := s.Append(ctx, a, "INBOX", []byte("x"), []string{"bad keyword"}, time.Time{}); err == nil {
		t.Fatal("Append with a bad keyword succeeded")
	}
	st, err := s.MailboxStatus(ctx, a, "inbox")
	if err != nil {
		t.Fatal(err)
	}
	want := MailboxStatus{Name: "INBOX", UIDValidity: uidv, UIDNext: 3, Messages: 2, Unseen: 1, Deleted: 0, Size: 38}
	if st != want {
		t.Fatalf("status = %+v, want %+v", st, want)
	}

	w, snap, err := s.Watch(ctx, a, "INBOX", func([]Change) {})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if len(snap.Messages) != 2 {
		t.Fatalf("snapshot %+v", snap)
	}
	m1 := snap.Messages[0]
	if !slices.Equal(m1.Flags, []string{`\Seen`, "$Important"}) || !m1.InternalDate.Equal(date) {
		t.Fatalf("message 1 = %+v", m1)
	}
	id := snap.ID

	flagSteps := []struct {
		op    FlagOp
		flags []string
		uids  []uint32
		want  [][]string // flags of UID 1 and 2 afterwards
	}{
		{FlagsAdd, []string{`\Deleted`, "Work"}, []uint32{2, 2, 99}, [][]string{{`\Seen`, "$Important"}, {`\Deleted`, "Work"}}},
		{FlagsRemove, []string{"$IMPORTANT", `\Seen`}, []uint32{1}, [][]string{{}, {`\Deleted`, "Work"}}},
		{FlagsReplace, []string{`\Flagged`, `\Answered`, `\Draft`}, []uint32{1}, [][]string{{`\Answered`, `\Flagged`, `\Draft`}, {`\Deleted`, "Work"}}},
		{FlagsReplace, nil, []uint32{1}, [][]string{{}, {`\Deleted`, "Work"}}},
	}
	for i, fs := range flagSteps {
		if _, err := s.UpdateFlags(ctx, a, id, fs.uids, fs.op, fs.flags, nil); err != nil {
			t.Fatal(err)
		}
		infos, err := s.Messages(ctx, a, id, nil)
		if err != nil {
			t.Fatal(err)
		}
		for j, in := range infos {
			if !slices.Equal(in.Flags, fs.want[j]) && !(len(in.Flags) == 0 && len(fs.want[j]) == 0) {
				t.Fatalf("step %d: UID %d flags %q, want %q", i, in.UID, in.Flags, fs.want[j])
			}
		}
	}

	// Expunge limited to UID 1 removes nothing (not \Deleted); then all.
	if gone, err := s.Expunge(ctx, a, id, []uint32{1}); err != nil || len(gone) != 0 {
		t.Fatalf("Expunge(1) = %v, %v", gone, err)
	}
	if gone, err := s.Expunge(ctx, a, id, nil); err != nil || !slices.Equal(gone, []uint32{2}) {
		t.Fatalf("Expunge = %v, %v", gone, err)
	}
	if _, err := s.MessageRaw(ctx, a, id, 2); !errors.Is(err, ErrNoSuchMessage) {
		t.Fatalf("raw of expunged: %v", err)
	}
	raw, err := s.MessageRaw(ctx, a, id, 1)
	if err != nil || string(raw) != "Subject: 1\r\n\r\none\r\n" {
		t.Fatalf("raw = %q, %v", raw, err)
	}
}

func TestCopyMove(t *testing.T) {
	ctx := context.Background()
	const a = "a@example.org"
	s := openWithUsers(t, a)
	if err := s.CreateMailbox(ctx, a, "Keep"); err != nil {
		t.Fatal(err)
	}
	date := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := 0; i < 3; i++ {
		if _, _, err := s.Append(ctx, a, Inbox, []byte{'m', byte('0' + i)}, []string{"k" + string(rune('0'+i))}, date); err != nil {
			t.Fatal(err)
		}
	}
	w, snap, err := s.Watch(ctx, a, Inbox, func([]Change) {})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	inbox := snap.ID
	keepSt, _ := s.MailboxStatus(ctx, a, "Keep")

	res, err := s.Copy(ctx, a, inbox, []uint32{3, 1, 42}, "Keep")
	if err != nil {
		t.Fatal(err)
	}
	if res.UIDValidity != keepSt.UIDValidity || !slices.Equal(res.SourceUIDs, []uint32{1, 3}) || !slices.Equal(res.DestUIDs, []uint32{1, 2}) {
		t.Fatalf("copy result %+v", res)
	}
	res, err = s.Move(ctx, a, inbox, []uint32{2}, "Keep")
	if err != nil || !slices.Equal(res.DestUIDs, []uint32{3}) {
		t.Fatalf("move = %+v, %v", res, err)
	}
	if _, err := s.Move(ctx, a, inbox, []uint32{1}, "INBOX"); !errors.Is(err, ErrSameMailbox) {
		t.Fatalf("move to self: %v", err)
	}
	if _, err := s.Copy(ctx, a, inbox, []uint32{1}, "Nope"); !errors.Is(err, ErrNoSuchMailbox) {
		t.Fatalf("copy to unknown: %v", err)
	}
	in, _ := s.MailboxStatus(ctx, a, Inbox)
	keep, _ := s.MailboxStatus(ctx, a, "Keep")
	if in.Messages != 2 || keep.Messages != 3 {
		t.Fatalf("inbox %+v keep %+v", in, keep)
	}
	w, snap, err = s.Watch(ctx, a, "Keep", func([]Change) {})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	wantFlags := []string{"k0", "k2", "k1"}
	for i, m := range snap.Messages {
		if !m.InternalDate.Equal(date) || !slices.Equal(m.Flags, []string{wantFlags[i]}) {
			t.Fatalf("copied message %d = %+v", i, m)
		}
	}
	raw, _ := s.MessageRaw(ctx, a, snap.ID, 3)
	if string(raw) != "m1" {
		t.Fatalf("moved raw = %q", raw)
	}
}

// Restart: UIDVALIDITY stays, UIDs are never reused, even after expunging
// the highest UID.
func TestRestartKeepsUIDs(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mail.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	const a = "a@example.org"
	mustAddUser(t, s, a)
	mustDeliver(t, s, a, "x", 3)
	before, _ := s.MailboxStatus(ctx, a, Inbox)
	w, snap, _ := s.Watch(ctx, a, Inbox, func([]Change) {})
	w.Close()
	if _, err := s.UpdateFlags(ctx, a, snap.ID, []uint32{3}, FlagsAdd, []string{FlagDeleted}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Expunge(ctx, a, snap.ID, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	after, _ := s.MailboxStatus(ctx, a, Inbox)
	if after.UIDValidity != before.UIDValidity || after.UIDNext != 4 || after.Messages != 2 {
		t.Fatalf("after restart %+v, before %+v", after, before)
	}
	if err := s.Deliver(ctx, []string{a}, []byte("y")); err != nil {
		t.Fatal(err)
	}
	msgs := inboxMessages(t, s, a)
	if got := msgs[len(msgs)-1].UID; got != 4 {
		t.Fatalf("new UID after restart = %d, want 4", got)
	}
}

// A damaged record inside a good file gives ErrCorrupt, not a crash, and
// leaves the rest readable.
func TestCorruptRecord(t *testing.T) {
	ctx := context.Background()
	const a = "a@example.org"
	s := openWithUsers(t, a, "b@example.org")
	if err := s.Deliver(ctx, []string{a, "b@example.org"}, []byte("x")); err != nil {
		t.Fatal(err)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		u := tx.Bucket(bucketUsers).Bucket([]byte(a))
		mb, err := openMailbox(u, a, Inbox)
		if err != nil {
			return err
		}
		return mb.msgs.Put(u32key(1), []byte{9, 9, 9})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.MailboxStatus(ctx, a, Inbox); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("MailboxStatus: %v", err)
	}
	if _, _, err := s.Watch(ctx, a, Inbox, func([]Change) {}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Watch: %v", err)
	}
	if _, err := s.UpdateFlags(ctx, a, 1, []uint32{1}, FlagsAdd, []string{FlagSeen}, nil); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("UpdateFlags: %v", err)
	}
	if st, err := s.MailboxStatus(ctx, "b@example.org", Inbox); err != nil || st.Messages != 1 {
		t.Fatalf("b's mailbox: %+v, %v", st, err)
	}
	if err := s.Deliver(ctx, []string{a}, []byte("y")); err != nil {
		t.Fatalf("delivery into a mailbox with a damaged record: %v", err)
	}
}
