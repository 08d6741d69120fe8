package accounts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"
)

// TestVerifiedLogins: a login that succeeded spares the next ones with the
// same password the argon2id check, until the password changes or the
// hour is over; anything else still gets the full check.
func TestVerifiedLogins(t *testing.T) {
	st := newStore(t)
	addUser(t, st, "alice@home.test", "sesame")
	a := NewAuthenticator(st, slog.New(slog.DiscardHandler))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a.now = func() time.Time { return now }
	hashes := 0
	a.verify = func(hash, pw string) (bool, error) { hashes++; return VerifyPassword(hash, pw) }
	ctx := context.Background()
	login := func(step, pw string, want error, wantHashes int) {
		t.Helper()
		before := hashes
		_, err := a.Authenticate(ctx, tcp("192.0.2.1"), "alice@home.test", pw)
		if !errors.Is(err, want) || (want == nil && err != nil) {
			t.Fatalf("%s: %v, want %v", step, err, want)
		}
		if got := hashes - before; got != wantHashes {
			t.Fatalf("%s: %d hash checks, want %d", step, got, wantHashes)
		}
	}
	login("first login", "sesame", nil, 1)
	login("again", "sesame", nil, 0)
	login("upper-case address", "sesame", nil, 0)
	login("wrong password", "sesam", ErrBadCredentials, 1)
	login("right again", "sesame", nil, 0)
	now = now.Add(verifiedTTL - time.Second)
	login("just before the hour", "sesame", nil, 0)
	now = now.Add(time.Second)
	login("the hour is over", "sesame", nil, 1)
	login("checked anew", "sesame", nil, 0)

	h, err := HashPassword("new secret")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetPasswordHash(ctx, "alice@home.test", h); err != nil {
		t.Fatal(err)
	}
	login("old password after a change", "sesame", ErrBadCredentials, 1)
	login("new password", "new secret", nil, 1)
	login("new password again", "new secret", nil, 0)
	if err := st.DeleteUser(ctx, "alice@home.test"); err != nil {
		t.Fatal(err)
	}
	login("deleted user", "new secret", ErrBadCredentials, 1)
}

// TestVerifiedBounded: the memory of checks never holds more than
// maxVerified addresses; the oldest go first.
func TestVerifiedBounded(t *testing.T) {
	v := newVerified()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range maxVerified + 10 {
		v.add(fmt.Sprintf("u%d@home.test", i), "hash", "pw", now.Add(time.Duration(i)*time.Second))
	}
	if len(v.m) != maxVerified {
		t.Fatalf("%d entries, want %d", len(v.m), maxVerified)
	}
	later := now.Add(time.Duration(maxVerified+10) * time.Second)
	if v.has("u0@home.test", "hash", "pw", later) || !v.has(fmt.Sprintf("u%d@home.test", maxVerified+9), "hash", "pw", later) {
		t.Fatal("evicted the wrong entries")
	}
	if v.has(fmt.Sprintf("u%d@home.test", maxVerified+9), "other hash", "pw", later) {
		t.Fatal("an entry matched another stored hash")
	}
}
