package mailstore

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openTemp(t testing.TB) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mail.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// openWithUsers opens a fresh store with the users addrs.
func openWithUsers(t testing.TB, addrs ...string) *Store {
	t.Helper()
	s, _ := openTemp(t)
	for _, a := range addrs {
		mustAddUser(t, s, a)
	}
	return s
}

func mustAddUser(t testing.TB, s *Store, addr string) {
	t.Helper()
	if err := s.AddUser(context.Background(), addr, "hash-of-"+addr); err != nil {
		t.Fatal(err)
	}
}

// mustDeliver delivers raw to addr n times.
func mustDeliver(t testing.TB, s *Store, addr, raw string, n int) {
	t.Helper()
	for range n {
		if err := s.Deliver(context.Background(), []string{addr}, []byte(raw)); err != nil {
			t.Fatal(err)
		}
	}
}

func inboxMessages(t testing.TB, s *Store, addr string) []MessageInfo {
	t.Helper()
	ctx := context.Background()
	w, snap, err := s.Watch(ctx, addr, Inbox, func([]Change) {})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	return snap.Messages
}

func TestOpenCreatesFile0600(t *testing.T) {
	_, path := openTemp(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Fatalf("mode = %o, want 600", got)
	}
}

func TestOpenTightensMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mail.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	fi, _ := os.Stat(path)
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Fatalf("mode = %o, want 600", got)
	}
}

func TestOpenBadFiles(t *testing.T) {
	dir := t.TempDir()
	foreignBolt := filepath.Join(dir, "foreign.db")
	db, err := bolt.Open(foreignBolt, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err }); err != nil {
		t.Fatal(err)
	}
	db.Close()

	otherVersion := filepath.Join(dir, "v9.db")
	db, err = bolt.Open(otherVersion, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		return b.Put(keyFormat, []byte("thingpost-mailstore/9"))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	good := filepath.Join(dir, "good.db")
	s, err := Open(good)
	if err != nil {
		t.Fatal(err)
	}
	mustAddUser(t, s, "a@example.org")
	s.Close()
	goodBytes, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	// Both meta pages (the first two 4 KiB pages) overwritten.
	damaged := slices.Clone(goodBytes)
	for i := 16; i < 2*4096 && i < len(damaged); i++ {
		damaged[i] ^= 0x5a
	}

	tests := []struct {
		name    string
		content []byte // nil: use path as is
		path    string
		want    error
	}{
		{name: "text file", content: []byte("hello, this is not a database\n"), want: ErrNotMailstore},
		{name: "random bytes", content: bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 4096), want: ErrNotMailstore},
		{name: "short file", content: []byte{1, 2, 3}, want: ErrNotMailstore},
		{name: "bbolt file of another program", path: foreignBolt, want: ErrNotMailstore},
		{name: "mailstore of another layout version", path: otherVersion, want: ErrNotMailstore},
		{name: "damaged meta pages", content: damaged, want: ErrNotMailstore},
		{name: "directory", path: dir, want: ErrNotMailstore},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = filepath.Join(t.TempDir(), "mail.db")
				if err := os.WriteFile(path, tc.content, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			before, _ := os.ReadFile(path)
			s, err := Open(path)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, tc.want) && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Fatal("Open changed a file it refused")
			}
		})
	}
}

func TestOpenLockedByAnotherHandle(t *testing.T) {
	_, path := openTemp(t)
	start := time.Now()
	_, err := Open(path)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("second Open took %v", d)
	}
}

func TestClosedStore(t *testing.T) {
	s, _ := openTemp(t)
	s.Close()
	ctx := context.Background()
	if err := s.AddUser(ctx, "a@example.org", "h"); !errors.Is(err, ErrClosed) {
		t.Fatalf("AddUser after Close: %v", err)
	}
	if _, err := s.Users(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Users after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestUsers(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	tests := []struct {
		name string
		run  func() error
		want error
	}{
		{"add", func() error { return s.AddUser(ctx, "Alice@Example.ORG", "h1") }, nil},
		{"add again, other case", func() error { return s.AddUser(ctx, "alice@example.org", "h2") }, ErrUserExists},
		{"add bob", func() error { return s.AddUser(ctx, " bob@example.org ", "hb") }, nil},
		{"add malformed", func() error { return s.AddUser(ctx, "no-at-sign", "h") }, ErrInvalidAddress},
		{"add empty local part", func() error { return s.AddUser(ctx, "@example.org", "h") }, ErrInvalidAddress},
		{"add with space", func() error { return s.AddUser(ctx, "a b@example.org", "h") }, ErrInvalidAddress},
		{"set password", func() error { return s.SetPasswordHash(ctx, "ALICE@example.org", "h3") }, nil},
		{"set password unknown", func() error { return s.SetPasswordHash(ctx, "carol@example.org", "h") }, ErrNoSuchUser},
		{"delete unknown", func() error { return s.DeleteUser(ctx, "carol@example.org") }, ErrNoSuchUser},
	}
	for _, tc := range tests {
		if err := tc.run(); !errors.Is(err, tc.want) {
			t.Fatalf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	if h, err := s.PasswordHash(ctx, "alice@EXAMPLE.org"); err != nil || h != "h3" {
		t.Fatalf("PasswordHash = %q, %v", h, err)
	}
	if _, err := s.PasswordHash(ctx, "carol@example.org"); !errors.Is(err, ErrNoSuchUser) {
		t.Fatalf("PasswordHash unknown: %v", err)
	}
	users, err := s.Users(ctx)
	if err != nil || !slices.Equal(users, []string{"alice@example.org", "bob@example.org"}) {
		t.Fatalf("Users = %v, %v", users, err)
	}
	for addr, want := range map[string]bool{"BOB@example.org": true, "carol@example.org": false, "garbage": false} {
		if got, err := s.HasUser(ctx, addr); err != nil || got != want {
			t.Fatalf("HasUser(%q) = %v, %v", addr, got, err)
		}
	}
	mbs, err := s.Mailboxes(ctx, "alice@example.org")
	if err != nil || len(mbs) != 1 || mbs[0].Name != Inbox || !mbs[0].Subscribed || mbs[0].UIDValidity == 0 {
		t.Fatalf("Mailboxes of a new user = %+v, %v", mbs, err)
	}

	if err := s.Deliver(ctx, []string{"bob@example.org"}, []byte("Subject: x\r\n\r\nhi\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, "bob@example.org"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.HasUser(ctx, "bob@example.org"); ok {
		t.Fatal("bob still exists")
	}
	// Re-created, bob starts empty.
	mustAddUser(t, s, "bob@example.org")
	if msgs := inboxMessages(t, s, "bob@example.org"); len(msgs) != 0 {
		t.Fatalf("re-created user has %d messages", len(msgs))
	}
}

func TestDeliver(t *testing.T) {
	ctx := context.Background()
	s := openWithUsers(t, "a@example.org", "b@example.org")
	raw := []byte("From: x@example.net\r\nSubject: hello\r\n\r\nbody\r\n")

	if err := s.Deliver(ctx, []string{"A@example.org", "b@example.org", "a@EXAMPLE.org"}, raw); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"a@example.org", "b@example.org"} {
		msgs := inboxMessages(t, s, addr)
		if len(msgs) != 1 || msgs[0].UID != 1 || msgs[0].Size != int64(len(raw)) || len(msgs[0].Flags) != 0 {
			t.Fatalf("%s: messages = %+v", addr, msgs)
		}
		if time.Since(msgs[0].InternalDate) > time.Minute {
			t.Fatalf("internal date %v", msgs[0].InternalDate)
		}
	}

	// One unknown recipient: nothing is stored for anyone.
	err := s.Deliver(ctx, []string{"a@example.org", "nobody@example.org"}, raw)
	if !errors.Is(err, ErrNoSuchUser) {
		t.Fatalf("err = %v, want ErrNoSuchUser", err)
	}
	if !bytes.Contains([]byte(err.Error()), []byte("nobody@example.org")) {
		t.Fatalf("error does not name the address: %v", err)
	}
	if msgs := inboxMessages(t, s, "a@example.org"); len(msgs) != 1 {
		t.Fatalf("a has %d messages after a refused delivery", len(msgs))
	}
	if err := s.Deliver(ctx, nil, raw); err == nil {
		t.Fatal("Deliver without recipients succeeded")
	}
	if err := s.Deliver(ctx, []string{"not an address"}, raw); !errors.Is(err, ErrInvalidAddress) {
		t.Fatalf("Deliver to a malformed address: %v", err)
	}
}

func TestQueue(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }

	id1, err := s.Enqueue(ctx, "a@example.org", []string{"x@remote.example", "y@remote.example"}, []byte("one"))
	if err != nil {
		t.Fatal(err)
	}
	id2, err := s.Enqueue(ctx, "", []string{"z@remote.example"}, []byte("bounce"))
	if err != nil {
		t.Fatal(err)
	}
	if id1 == id2 || id1 == 0 {
		t.Fatalf("ids %d %d", id1, id2)
	}
	if _, err := s.Enqueue(ctx, "a@example.org", nil, []byte("x")); err == nil {
		t.Fatal("Enqueue without recipients succeeded")
	}
	if n, err := s.QueueLen(ctx); err != nil || n != 2 {
		t.Fatalf("QueueLen = %d, %v", n, err)
	}
	due, err := s.QueueDue(ctx, now)
	if err != nil || len(due) != 2 {
		t.Fatalf("QueueDue = %+v, %v", due, err)
	}
	if due[0].ID != id1 || string(due[0].Raw) != "one" || !due[0].Created.Equal(now) || due[0].Attempts != 0 {
		t.Fatalf("first due = %+v", due[0])
	}

	it := due[0]
	it.Rcpts = []string{"y@remote.example"}
	it.Attempts = 1
	it.NextAttempt = now.Add(10 * time.Minute)
	it.LastError = "451 try later"
	if err := s.QueueUpdate(ctx, it); err != nil {
		t.Fatal(err)
	}
	due, _ = s.QueueDue(ctx, now)
	if len(due) != 1 || due[0].ID != id2 {
		t.Fatalf("due after postponing = %+v", due)
	}
	due, _ = s.QueueDue(ctx, now.Add(time.Hour))
	if len(due) != 2 || due[1].ID != id1 || !slices.Equal(due[1].Rcpts, []string{"y@remote.example"}) ||
		due[1].Attempts != 1 || due[1].LastError != "451 try later" || due[1].From != "a@example.org" || string(due[1].Raw) != "one" {
		t.Fatalf("due later = %+v", due)
	}

	tests := []struct {
		name string
		err  error
		want error
	}{
		{"update unknown", s.QueueUpdate(ctx, QueueItem{ID: 999, Rcpts: []string{"x@y.z"}}), ErrNoSuchQueueItem},
		{"remove", s.QueueRemove(ctx, id1), nil},
		{"remove again", s.QueueRemove(ctx, id1), ErrNoSuchQueueItem},
	}
	for _, tc := range tests {
		if !errors.Is(tc.err, tc.want) {
			t.Fatalf("%s: %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	if err := s.QueueUpdate(ctx, QueueItem{ID: id2}); err == nil {
		t.Fatal("QueueUpdate with no recipients succeeded")
	}
	if n, _ := s.QueueLen(ctx); n != 1 {
		t.Fatalf("QueueLen = %d after remove", n)
	}
}
