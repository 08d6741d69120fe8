package accounts

import (
	"net"
	"testing"
	"time"
)

func TestLimiterSchedule(t *testing.T) {
	l := newLimiter(5)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	// Five free failures, then locks of 1 s, 2 s, 4 s ... capped at 15 min.
	wantLock := []time.Duration{0, 0, 0, 0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}
	for i, want := range wantLock {
		if ok, wait := l.allow("a", now); !ok {
			t.Fatalf("failure %d: refused (wait %s) before the lock", i+1, wait)
		}
		l.fail("a", now)
		ok, wait := l.allow("a", now)
		if want == 0 {
			if !ok {
				t.Fatalf("after failure %d: locked for %s, want free", i+1, wait)
			}
			continue
		}
		if ok || wait != want {
			t.Fatalf("after failure %d: allow=%v wait=%s, want locked %s", i+1, ok, wait, want)
		}
		// Refused attempts do not extend the lock.
		l.allow("a", now.Add(want/2))
		if ok, _ := l.allow("a", now.Add(want)); !ok {
			t.Fatalf("after failure %d: still locked at the end of the lock", i+1)
		}
		now = now.Add(want)
	}
	for range 30 {
		l.fail("a", now)
	}
	if _, wait := l.allow("a", now); wait != l.max {
		t.Fatalf("lock after many failures = %s, want cap %s", wait, l.max)
	}
	// Another client is not affected.
	if ok, _ := l.allow("b", now); !ok {
		t.Fatal("client b refused because of client a")
	}
	// An hour of quiet after the lock ends forgives.
	later := now.Add(l.max + l.forget)
	if ok, _ := l.allow("a", later); !ok {
		t.Fatal("still refused after the forget time")
	}
	if n := l.fail("a", later); n != 1 {
		t.Fatalf("failure count after forgiveness = %d, want 1", n)
	}
	// Forgiving the failures lifts the lock at once; forgiving some of
	// them keeps the rest.
	for range 10 {
		l.fail("c", now)
	}
	l.forgive("c", 10)
	if ok, _ := l.allow("c", now); !ok {
		t.Fatal("refused after its failures were forgiven")
	}
	for range 10 {
		l.fail("c", now)
	}
	l.forgive("c", 4)
	if ok, _ := l.allow("c", now); ok {
		t.Fatal("6 failures left but not locked")
	}
	if n := l.fail("c", now.Add(time.Minute)); n != 7 {
		t.Fatalf("failure count after forgiving 4 of 10 = %d, want 7", n)
	}
}

func TestLimiterBoundedMemory(t *testing.T) {
	l := newLimiter(5)
	l.maxEntries = 10
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 100 {
		l.fail(net.IPv4(10, 0, byte(i>>8), byte(i)).String(), now.Add(time.Duration(i)*time.Millisecond))
	}
	if len(l.entries) > l.maxEntries {
		t.Fatalf("%d entries, want at most %d", len(l.entries), l.maxEntries)
	}
	// The most recent offender is still tracked.
	if _, ok := l.entries["10.0.0.99"]; !ok {
		t.Fatal("most recent offender evicted")
	}
}

func TestClientKey(t *testing.T) {
	for _, tc := range []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 1234}, "192.0.2.7"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.7"), Port: 1}, "192.0.2.7"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:3:4:5:6"), Port: 1}, "2001:db8:1:2::/64"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:ffff::1"), Port: 1}, "2001:db8:1:2::/64"},
		{&net.TCPAddr{IP: net.ParseIP("::1"), Port: 1}, "::/64"},
		{(*net.TCPAddr)(nil), "unknown"},
		{nil, "unknown"},
		{&net.UnixAddr{Name: "/run/x", Net: "unix"}, "unix:/run/x"},
	} {
		if got := clientKey(tc.addr); got != tc.want {
			t.Errorf("clientKey(%v) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}
