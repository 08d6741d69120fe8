package mailstore

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestLayout1Bodies: a file of layout 1 (the bytes as values) is read,
// copied from, expunged from and dequeued from like a new one, and opening
// it marks it layout 2.
func TestLayout1Bodies(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	const a = "a@example.org"
	mustAddUser(t, s, a)
	if err := s.CreateMailbox(ctx, a, "Keep"); err != nil {
		t.Fatal(err)
	}
	if err := s.Deliver(ctx, []string{a}, []byte("new one")); err != nil {
		t.Fatal(err)
	}
	// What layout 1 wrote: a message (UID 2) and a queue item with the
	// bytes as plain values.
	var qid uint64
	err := s.db.Update(func(tx *bolt.Tx) error {
		mb, err := openMailbox(tx.Bucket(bucketUsers).Bucket([]byte(a)), a, Inbox)
		if err != nil {
			return err
		}
		uid, err := mb.msgs.NextSequence()
		if err != nil {
			return err
		}
		m := msgMeta{date: time.Now().UnixNano(), size: 7}
		if err := mb.msgs.Put(u32key(uint32(uid)), m.encode()); err != nil {
			return err
		}
		if err := mb.raw.Put(u32key(uint32(uid)), []byte("old one")); err != nil {
			return err
		}
		q := tx.Bucket(bucketQueue)
		if qid, err = q.NextSequence(); err != nil {
			return err
		}
		if err := q.Put(u64key(qid), []byte(`{"from":"a@example.org","rcpts":["x@remote.example"]}`)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketQueueRaw).Put(u64key(qid), []byte("old queued")); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keyFormat, []byte(formatMagicV1))
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(path)
	if err != nil {
		t.Fatalf("open a layout 1 file: %v", err)
	}
	defer s.Close()
	_ = s.db.View(func(tx *bolt.Tx) error {
		if got := string(tx.Bucket(bucketMeta).Get(keyFormat)); got != formatMagic {
			t.Errorf("format after open %q, want %q", got, formatMagic)
		}
		return nil
	})

	w, snap, err := s.Watch(ctx, a, Inbox, func([]Change) {})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	for uid, want := range map[uint32]string{1: "new one", 2: "old one"} {
		if raw, err := s.MessageRaw(ctx, a, snap.ID, uid); err != nil || string(raw) != want {
			t.Errorf("UID %d = %q, %v; want %q", uid, raw, err, want)
		}
	}
	res, err := s.Copy(ctx, a, snap.ID, []uint32{2}, "Keep")
	if err != nil {
		t.Fatal(err)
	}
	keep, err := s.Mailboxes(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	keepID := keep[slices.IndexFunc(keep, func(m MailboxInfo) bool { return m.Name == "Keep" })].ID
	if raw, err := s.MessageRaw(ctx, a, keepID, res.DestUIDs[0]); err != nil || string(raw) != "old one" {
		t.Errorf("copy of the old message = %q, %v", raw, err)
	}
	if _, err := s.UpdateFlags(ctx, a, snap.ID, []uint32{1, 2}, FlagsAdd, []string{FlagDeleted}, nil); err != nil {
		t.Fatal(err)
	}
	if gone, err := s.Expunge(ctx, a, snap.ID, nil); err != nil || !slices.Equal(gone, []uint32{1, 2}) {
		t.Fatalf("expunge = %v, %v", gone, err)
	}
	for _, uid := range []uint32{1, 2} {
		if _, err := s.MessageRaw(ctx, a, snap.ID, uid); !errors.Is(err, ErrNoSuchMessage) {
			t.Errorf("UID %d after expunge: %v", uid, err)
		}
	}
	if _, err := s.Enqueue(ctx, a, []string{"y@remote.example"}, []byte("new queued")); err != nil {
		t.Fatal(err)
	}
	due, err := s.QueueDue(ctx, time.Now().Add(time.Hour))
	if err != nil || len(due) != 2 {
		t.Fatalf("QueueDue = %+v, %v", due, err)
	}
	var raws []string
	for _, it := range due {
		raws = append(raws, string(it.Raw))
		if err := s.QueueRemove(ctx, it.ID); err != nil {
			t.Fatalf("remove queue item %d (%q): %v", it.ID, it.Raw, err)
		}
	}
	if slices.Sort(raws); !slices.Equal(raws, []string{"new queued", "old queued"}) {
		t.Errorf("queued bytes %q", raws)
	}
	_ = s.db.View(func(tx *bolt.Tx) error {
		if n := tx.Bucket(bucketQueueRaw).Stats().KeyN; n != 0 {
			t.Errorf("%d queued bodies left after removing all", n)
		}
		return nil
	})
}
