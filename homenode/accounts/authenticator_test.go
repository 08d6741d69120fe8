package accounts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/thingpost/thingpost/internal/testutil"

	"github.com/thingpost/thingpost/homenode/mailstore"
)

func newStore(t *testing.T) *mailstore.Store {
	t.Helper()
	st, err := mailstore.Open(filepath.Join(t.TempDir(), "mail.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func addUser(t *testing.T, st *mailstore.Store, addr, pw string) {
	t.Helper()
	h, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AddUser(context.Background(), addr, h); err != nil {
		t.Fatal(err)
	}
}

func tcp(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 40000} }

func TestAuthenticate(t *testing.T) {
	st := newStore(t)
	addUser(t, st, "alice@home.test", "sesame")
	var logs testutil.SyncBuffer
	a := NewAuthenticator(st, slog.New(slog.NewTextHandler(&logs, nil)))
	ctx := context.Background()

	for i, tc := range []struct {
		name, user, pass string
		want             error
	}{
		{"right", "alice@home.test", "sesame", nil},
		{"upper-case user", "Alice@Home.Test", "sesame", nil},
		{"wrong password", "alice@home.test", "sesam", ErrBadCredentials},
		{"unknown user", "bob@home.test", "sesame", ErrBadCredentials},
		{"malformed user", "not an address", "sesame", ErrBadCredentials},
		{"empty password", "alice@home.test", "", ErrBadCredentials},
		{"huge password", "alice@home.test", strings.Repeat("x", 5000), ErrBadCredentials},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A fresh address per case keeps the rate limit out of the way.
			addr, err := a.Authenticate(ctx, tcp(fmt.Sprintf("192.0.2.%d", i+1)), tc.user, tc.pass)
			if tc.want == nil {
				if err != nil || addr != "alice@home.test" {
					t.Fatalf("got %q, %v; want alice@home.test", addr, err)
				}
				return
			}
			if !errors.Is(err, tc.want) || addr != "" {
				t.Fatalf("got %q, %v; want %v", addr, err, tc.want)
			}
		})
	}
	if !strings.Contains(logs.String(), `msg="login refused"`) || !strings.Contains(logs.String(), "bob@home.test") {
		t.Errorf("refused logins not logged:\n%s", logs.String())
	}
}

func TestAuthenticateRateLimit(t *testing.T) {
	st := newStore(t)
	addUser(t, st, "alice@home.test", "sesame")
	var logs testutil.SyncBuffer
	a := NewAuthenticator(st, slog.New(slog.NewTextHandler(&logs, nil)))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a.now = func() time.Time { return now }
	ctx := context.Background()
	attacker, owner := tcp("198.51.100.9"), tcp("203.0.113.5")

	for i := range 5 {
		if _, err := a.Authenticate(ctx, attacker, "alice@home.test", "guess"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("guess %d: %v, want ErrBadCredentials", i+1, err)
		}
	}
	// Locked: even the right password is refused without a check.
	if _, err := a.Authenticate(ctx, attacker, "alice@home.test", "sesame"); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("after 5 failures: %v, want ErrRateLimited", err)
	}
	if errors.Is(ErrRateLimited, ErrBadCredentials) || errors.Is(ErrBadCredentials, ErrRateLimited) {
		t.Fatal("ErrRateLimited and ErrBadCredentials must be distinct")
	}
	// The owner, from elsewhere, is not locked out of the account.
	if addr, err := a.Authenticate(ctx, owner, "alice@home.test", "sesame"); err != nil || addr != "alice@home.test" {
		t.Fatalf("owner from another address: %q, %v", addr, err)
	}
	// An IPv6 attacker cannot escape by changing the interface identifier.
	for i := range 5 {
		a.Authenticate(ctx, tcp(fmt.Sprintf("2001:db8:0:1::%x", i+1)), "alice@home.test", "guess")
	}
	if _, err := a.Authenticate(ctx, tcp("2001:db8:0:1::ffff"), "alice@home.test", "sesame"); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("same /64: %v, want ErrRateLimited", err)
	}
	// After the lock the attacker may try again; success forgives.
	now = now.Add(2 * time.Second)
	if _, err := a.Authenticate(ctx, attacker, "alice@home.test", "sesame"); err != nil {
		t.Fatalf("after the lock: %v", err)
	}
	if n := strings.Count(logs.String(), "rate limited"); n != 2 {
		t.Errorf("%d rate-limited log lines, want 2:\n%s", n, logs.String())
	}
}

// TestAuthenticateConcurrent runs logins from many goroutines under -race.
func TestAuthenticateConcurrent(t *testing.T) {
	st := newStore(t)
	addUser(t, st, "alice@home.test", "sesame")
	a := NewAuthenticator(st, slog.New(slog.DiscardHandler))
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pw := "sesame"
			if i%2 == 1 {
				pw = "wrong"
			}
			_, err := a.Authenticate(context.Background(), tcp("10.0.0.1"), "alice@home.test", pw)
			if pw == "sesame" && err != nil && !errors.Is(err, ErrRateLimited) {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestAuthenticateCorruptHash(t *testing.T) {
	st := newStore(t)
	if err := st.AddUser(context.Background(), "eve@home.test", "$argon2id$v=19$m=99999999,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA"); err != nil {
		t.Fatal(err)
	}
	a := NewAuthenticator(st, slog.New(slog.DiscardHandler))
	_, err := a.Authenticate(context.Background(), tcp("10.0.0.2"), "eve@home.test", "x")
	if err == nil || !errors.Is(err, ErrBadHash) {
		t.Fatalf("corrupt stored hash: %v, want ErrBadHash (fail closed)", err)
	}
}

func BenchmarkAuthenticate(b *testing.B) {
	st, err := mailstore.Open(filepath.Join(b.TempDir(), "mail.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	h, _ := HashPassword("sesame")
	st.AddUser(context.Background(), "alice@home.test", h)
	a := NewAuthenticator(st, slog.New(slog.DiscardHandler))
	// check: every login hashes (nothing remembered); repeat: the same
	// client logs in again within the hour.
	for _, repeat := range []bool{false, true} {
		b.Run(map[bool]string{false: "check", true: "repeat"}[repeat], func(b *testing.B) {
			for b.Loop() {
				if !repeat {
					a.verified = newVerified()
				}
				if _, err := a.Authenticate(context.Background(), tcp("10.0.0.3"), "alice@home.test", "sesame"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
