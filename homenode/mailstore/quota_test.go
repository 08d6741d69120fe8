package mailstore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func usageOf(t *testing.T, s *Store, addr string) Usage {
	t.Helper()
	use, err := s.Usage(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	return use
}

func boxID(t *testing.T, s *Store, addr, name string) uint64 {
	t.Helper()
	boxes, err := s.Mailboxes(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range boxes {
		if b.Name == name {
			return b.ID
		}
	}
	t.Fatalf("no mailbox %q", name)
	return 0
}

func storeUsage(t *testing.T, s *Store) Usage {
	t.Helper()
	var use Usage
	if err := s.view(context.Background(), func(tx *bolt.Tx) error {
		use = readUsage(tx.Bucket(bucketMeta))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return use
}

func TestQuotaDeliver(t *testing.T) {
	ctx := context.Background()
	s := openWithUsers(t, "alice@home.test", "bob@home.test", "lamp@home.test")
	s.SetLimits(Limits{
		Default:  Quota{Bytes: 1000, Messages: 5},
		Accounts: map[string]Quota{"lamp@home.test": {Bytes: 10000, MaxMessageSize: 300}},
	})
	msg := strings.Repeat("x", 300)
	mustDeliver(t, s, "alice@home.test", msg, 3)
	if use := usageOf(t, s, "alice@home.test"); use != (Usage{900, 3}) {
		t.Fatalf("usage after 3 x 300 bytes = %+v", use)
	}
	// The fourth does not fit alice: nothing is stored, not even for bob.
	err := s.Deliver(ctx, []string{"bob@home.test", "alice@home.test"}, []byte(msg))
	if !errors.Is(err, ErrQuota) || errors.Is(err, ErrMessageTooBig) || !strings.Contains(err.Error(), "alice@home.test") {
		t.Fatalf("delivery over alice's quota: %v, want ErrQuota naming her", err)
	}
	if n := len(inboxMessages(t, s, "bob@home.test")); n != 0 {
		t.Fatalf("bob got %d messages of a failed delivery", n)
	}
	if err := s.CheckQuota(ctx, "alice@home.test", 300); !errors.Is(err, ErrQuota) {
		t.Errorf("CheckQuota(300) for the full alice: %v", err)
	}
	if err := s.CheckQuota(ctx, "alice@home.test", 0); err != nil {
		t.Errorf("CheckQuota(unknown size) with 100 bytes left: %v", err)
	}
	if err := s.CheckQuota(ctx, "bob@home.test", 300); err != nil {
		t.Errorf("CheckQuota for bob: %v", err)
	}
	// Larger than the whole quota: never fits.
	err = s.Deliver(ctx, []string{"bob@home.test"}, []byte(strings.Repeat("y", 1001)))
	if !errors.Is(err, ErrMessageTooBig) || !errors.Is(err, ErrQuota) {
		t.Errorf("message over the whole quota: %v, want ErrMessageTooBig and ErrQuota", err)
	}
	// The per-account size limit.
	err = s.Deliver(ctx, []string{"lamp@home.test"}, []byte(msg+"z"))
	if !errors.Is(err, ErrMessageTooBig) || errors.Is(err, ErrQuota) {
		t.Errorf("message over lamp's max size: %v, want ErrMessageTooBig only", err)
	}
	if err := s.CheckQuota(ctx, "lamp@home.test", 301); !errors.Is(err, ErrMessageTooBig) {
		t.Errorf("CheckQuota over lamp's max size: %v", err)
	}
	// The message count.
	mustDeliver(t, s, "bob@home.test", "m", 5)
	if err := s.Deliver(ctx, []string{"bob@home.test"}, []byte("m")); !errors.Is(err, ErrQuota) {
		t.Errorf("sixth message at a 5-message quota: %v", err)
	}
	if use := storeUsage(t, s); use != (Usage{905, 8}) {
		t.Errorf("store usage = %+v, want {905 8}", use)
	}
}

func TestQuotaAppendCopyMoveExpunge(t *testing.T) {
	ctx := context.Background()
	s := openWithUsers(t, "alice@home.test")
	s.SetLimits(Limits{Default: Quota{Bytes: 1000}})
	if err := s.CreateMailbox(ctx, "alice@home.test", "Archive"); err != nil {
		t.Fatal(err)
	}
	msg := []byte(strings.Repeat("x", 300))
	for range 3 {
		if _, _, err := s.Append(ctx, "alice@home.test", Inbox, msg, nil, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.Append(ctx, "alice@home.test", Inbox, msg, nil, time.Time{}); !errors.Is(err, ErrQuota) {
		t.Fatalf("APPEND over quota: %v", err)
	}
	inbox := boxID(t, s, "alice@home.test", Inbox)
	if _, err := s.Copy(ctx, "alice@home.test", inbox, []uint32{1}, "Archive"); !errors.Is(err, ErrQuota) {
		t.Fatalf("COPY over quota: %v", err)
	}
	if _, err := s.Move(ctx, "alice@home.test", inbox, []uint32{1, 2}, "Archive"); err != nil {
		t.Fatalf("MOVE at the limit: %v", err)
	}
	if use := usageOf(t, s, "alice@home.test"); use != (Usage{900, 3}) {
		t.Fatalf("usage after MOVE = %+v, want {900 3}", use)
	}
	if _, err := s.UpdateFlags(ctx, "alice@home.test", inbox, []uint32{3}, FlagsAdd, []string{FlagDeleted}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Expunge(ctx, "alice@home.test", inbox, nil); err != nil {
		t.Fatal(err)
	}
	if use := usageOf(t, s, "alice@home.test"); use != (Usage{600, 2}) {
		t.Fatalf("usage after EXPUNGE = %+v, want {600 2}", use)
	}
	if _, err := s.Copy(ctx, "alice@home.test", boxID(t, s, "alice@home.test", "Archive"), []uint32{1}, Inbox); err != nil {
		t.Fatalf("COPY after EXPUNGE: %v", err)
	}
	if err := s.DeleteMailbox(ctx, "alice@home.test", "Archive"); err != nil {
		t.Fatal(err)
	}
	if use := usageOf(t, s, "alice@home.test"); use != (Usage{300, 1}) {
		t.Fatalf("usage after DELETE of Archive = %+v, want {300 1}", use)
	}
	if err := s.DeleteUser(ctx, "alice@home.test"); err != nil {
		t.Fatal(err)
	}
	if use := storeUsage(t, s); use != (Usage{}) {
		t.Fatalf("store usage with no users = %+v", use)
	}
}

func TestQuotaStoreFull(t *testing.T) {
	ctx := context.Background()
	s := openWithUsers(t, "alice@home.test", "bob@home.test")
	s.SetLimits(Limits{StoreBytes: 500})
	mustDeliver(t, s, "alice@home.test", strings.Repeat("x", 400), 1)
	if err := s.Deliver(ctx, []string{"bob@home.test"}, []byte(strings.Repeat("x", 200))); !errors.Is(err, ErrStoreFull) {
		t.Fatalf("delivery past the store cap: %v", err)
	}
	// Two recipients count twice.
	s.SetLimits(Limits{StoreBytes: 1000})
	if err := s.Deliver(ctx, []string{"alice@home.test", "bob@home.test"}, []byte(strings.Repeat("x", 350))); !errors.Is(err, ErrStoreFull) {
		t.Fatalf("delivery of 2 x 350 bytes next to 400 at a 1000-byte cap: %v", err)
	}
	if _, ok := diskFree(s.path); ok {
		s.SetLimits(Limits{MinFreeDisk: 1 << 60})
		if err := s.CheckQuota(ctx, "bob@home.test", 1); !errors.Is(err, ErrStoreFull) {
			t.Fatalf("CheckQuota with an exabyte reserve: %v", err)
		}
		if err := s.Deliver(ctx, []string{"bob@home.test"}, []byte("x")); !errors.Is(err, ErrStoreFull) {
			t.Fatalf("delivery with an exabyte reserve: %v", err)
		}
		if _, err := s.Enqueue(ctx, "bob@home.test", []string{"carol@far.test"}, []byte("x")); !errors.Is(err, ErrStoreFull) {
			t.Fatalf("enqueue with an exabyte reserve: %v", err)
		}
	}
}

// TestQuotaCountsOldFiles: a file written before usage was recorded is
// counted when opened.
func TestQuotaCountsOldFiles(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	mustAddUser(t, s, "alice@home.test")
	mustDeliver(t, s, "alice@home.test", "12345", 3)
	if err := s.CreateMailbox(ctx, "alice@home.test", "Sent"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Append(ctx, "alice@home.test", "Sent", []byte("1234567"), nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.update(ctx, func(tx *bolt.Tx, _ *events) error {
		if err := tx.Bucket(bucketMeta).Delete(keyUsage); err != nil {
			return err
		}
		return tx.Bucket(bucketUsers).Bucket([]byte("alice@home.test")).Delete(keyUsage)
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if use := usageOf(t, s, "alice@home.test"); use != (Usage{22, 4}) {
		t.Fatalf("recounted usage = %+v, want {22 4}", use)
	}
	if use := storeUsage(t, s); use != (Usage{22, 4}) {
		t.Fatalf("recounted store usage = %+v, want {22 4}", use)
	}
}
