package smtpd

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/textproto"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/thingpost/thingpost/homenode/mailstore"
	"github.com/thingpost/thingpost/homenode/ratelimit"
	"github.com/thingpost/thingpost/homenode/spool"
	"github.com/thingpost/thingpost/internal/testutil"
)

// The attacks of issue 15 on the SMTP side, each against a live server.

// rawConn is a hand-driven SMTP connection from a chosen loopback address
// (all of 127.0.0.0/8 is loopback on Linux), so that a test can stop in
// the middle of DATA or play several clients.
type rawConn struct {
	t    testing.TB
	conn net.Conn
	tp   *textproto.Conn
}

func dialRawFrom(t testing.TB, addr, src string) *rawConn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	return &rawConn{t: t, conn: conn, tp: textproto.NewConn(conn)}
}

// reply reads one reply and returns it as "code text".
func (r *rawConn) reply() (string, error) {
	code, msg, err := r.tp.ReadResponse(0)
	if code == 0 && err != nil {
		return "", err
	}
	return fmt.Sprintf("%d %s", code, msg), nil
}

// do sends a command and wants a reply with the given code.
func (r *rawConn) do(code int, format string, args ...any) string {
	r.t.Helper()
	if format != "" {
		if err := r.tp.PrintfLine(format, args...); err != nil {
			r.t.Fatal(err)
		}
	}
	got, err := r.reply()
	if err != nil || !strings.HasPrefix(got, fmt.Sprint(code)) {
		r.t.Fatalf("after %q: %q, %v; want %d", fmt.Sprintf(format, args...), got, err, code)
	}
	return got
}

// smtpFrom is a go-smtp client from the loopback address src.
func smtpFrom(t testing.TB, addr, src string) *smtp.Client {
	t.Helper()
	r := dialRawFrom(t, addr, src)
	c := smtp.NewClient(r.conn)
	t.Cleanup(func() { c.Close() })
	return c
}

func newMX(t testing.TB, opts MXOptions, users ...string) (*mailstore.Store, *Server) {
	t.Helper()
	st := testutil.OpenStore(t)
	for _, u := range users {
		addUser(t, st, u, "pw-"+u)
	}
	opts.Hostname, opts.Domains = "mx.home.test", []string{"home.test"}
	if opts.Logger == nil {
		opts.Logger = testLogger(&testutil.SyncBuffer{})
	}
	return st, NewMX(st, opts)
}

func heapInUse() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// Item 7: stalled DATA transfers of large bodies cost the node a spool file
// each, not their size in memory. The heap growth is held to a bound made
// from the budgets: per connection the spool's in-memory head and the
// connection's buffers, and nothing of the bodies.
func TestMXStalledTransfersMemory(t *testing.T) {
	sp, err := spool.New(t.TempDir(), spool.Limits{Disk: 1 << 30, Memory: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	_, srv := newMX(t, MXOptions{MaxSize: 32 << 20, Spool: sp}, "alice@home.test")
	addr := testutil.Serve(t, srv, nil)

	const n, size = 12, 4 << 20
	line := strings.Repeat("0123456789", 7) + "\r\n"
	body := []byte("From: carol@sender.example\r\nSubject: stall\r\n\r\n" + strings.Repeat(line, size/len(line)))
	perConn := int64(spool.SmallSize + 128<<10)
	bound := n*perConn + 4<<20
	before := heapInUse()
	for i := range n {
		r := dialRawFrom(t, addr, "127.0.0.1")
		r.do(220, "")
		r.do(250, "EHLO stall%d.example", i)
		r.do(250, "MAIL FROM:<carol@sender.example>")
		r.do(250, "RCPT TO:<alice@home.test>")
		r.do(354, "DATA")
		go r.conn.Write(body) // and never the end of data
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		grown := heapInUse() - before
		if grown > bound {
			t.Fatalf("heap grew by %d KiB with %d stalled %d KiB transfers, bound %d KiB", grown>>10, n, size>>10, bound>>10)
		}
		if sp.OnDisk() >= n*(int64(len(body))-spool.SmallSize) {
			t.Logf("heap grew by %d KiB with %d stalled %d KiB transfers (%d KiB on disk), bound %d KiB", grown>>10, n, size>>10, sp.OnDisk()>>10, bound>>10)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("bodies not received in 30 s: %d KiB on disk, heap +%d KiB", sp.OnDisk()>>10, grown>>10)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Item 10: a client that sends NOOPs (or nothing) is closed after the idle
// limit, before and after EHLO, however often it sends them.
func TestMXIdleSessionsClosed(t *testing.T) {
	_, srv := newMX(t, MXOptions{}, "alice@home.test")
	srv.timeouts.idle = 300 * time.Millisecond
	addr := testutil.Serve(t, srv, nil)
	for _, ehlo := range []bool{false, true} {
		t.Run(fmt.Sprintf("EHLO %v", ehlo), func(t *testing.T) {
			r := dialRawFrom(t, addr, "127.0.0.1")
			r.do(220, "")
			if ehlo {
				r.do(250, "EHLO idle.example")
			}
			start := time.Now()
			for time.Since(start) < 3*time.Second {
				if err := r.tp.PrintfLine("NOOP"); err != nil {
					break
				}
				got, err := r.reply()
				if err != nil {
					t.Fatalf("connection dropped without a reply after %v: %v", time.Since(start), err)
				}
				if strings.HasPrefix(got, "421") {
					t.Logf("closed after %v: %s", time.Since(start).Round(time.Millisecond), got)
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
			t.Fatalf("still open after %v of NOOPs, idle limit %v", time.Since(start).Round(time.Millisecond), srv.timeouts.idle)
		})
	}
}

// Item 7: a DATA transfer that trickles is cut off after the transfer
// deadline (a base plus a minimum rate), long before the command timeout.
func TestMXSlowTransferCutOff(t *testing.T) {
	st, srv := newMX(t, MXOptions{}, "alice@home.test")
	srv.timeouts.dataBase, srv.timeouts.dataRate = 300*time.Millisecond, 1<<20
	addr := testutil.Serve(t, srv, nil)
	r := dialRawFrom(t, addr, "127.0.0.1")
	r.do(220, "")
	r.do(250, "EHLO slow.example")
	r.do(250, "MAIL FROM:<carol@sender.example>")
	r.do(250, "RCPT TO:<alice@home.test>")
	r.do(354, "DATA")
	start := time.Now()
	go func() {
		for i := 0; time.Since(start) < 5*time.Second; i++ {
			if _, err := fmt.Fprintf(r.conn, "line %d\r\n", i); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	got, err := bufio.NewReader(r.conn).ReadString('\n')
	if time.Since(start) > 3*time.Second || !strings.HasPrefix(got, "4") {
		t.Fatalf("a trickling transfer got %q, %v after %v; want a 4xx within a few seconds", got, err, time.Since(start))
	}
	if n := len(testutil.Inbox(t, st, "alice@home.test")); n != 0 {
		t.Fatalf("%d messages stored from a cut-off transfer", n)
	}
}

// Item 7: a full spool answers 452 4.3.1 and stores nothing; an oversized
// body 552 5.3.4.
func TestMXSpoolFull(t *testing.T) {
	sp, err := spool.New(t.TempDir(), spool.Limits{Disk: 100 << 10, Memory: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	st, srv := newMX(t, MXOptions{MaxSize: 1 << 20, Spool: sp}, "alice@home.test")
	addr := testutil.Serve(t, srv, nil)
	c := dial(t, addr)
	big := message("carol@sender.example", "alice@home.test", "big", strings.Repeat("0123456789abcdef\r\n", 200<<10/18))
	err = send(c, "carol@sender.example", []string{"alice@home.test"}, big)
	if code(err) != 452 || enhanced(err) != "4.3.1" {
		t.Fatalf("body over the spool's disk budget: %v, want 452 4.3.1", err)
	}
	if err := send(c, "carol@sender.example", []string{"alice@home.test"}, message("carol@sender.example", "alice@home.test", "small", "x")); err != nil {
		t.Fatalf("small message after the refusals: %v", err)
	}
	if n := len(testutil.Inbox(t, st, "alice@home.test")); n != 1 {
		t.Fatalf("alice has %d messages, want the small one", n)
	}

	// A body that passes the size limit on the way to disk.
	_, small := newMX(t, MXOptions{MaxSize: 64 << 10}, "alice@home.test")
	c = dial(t, testutil.Serve(t, small, nil))
	if err := send(c, "carol@sender.example", []string{"alice@home.test"}, big); code(err) != 552 || enhanced(err) != "5.3.4" {
		t.Fatalf("body over the size limit: %v, want 552 5.3.4", err)
	}
}

// Item 4: one client flooding the MX with one sender's address is slowed
// down with 451 4.7.1; the same sender from another address is not, and
// the flooding client's other senders share its per-client budget.
func TestMXRateLimits(t *testing.T) {
	_, srv := newMX(t, MXOptions{Rate: RateLimits{
		PerClient: ratelimit.Rate{PerHour: 1, Burst: 5},
		PerSender: ratelimit.Rate{PerHour: 1, Burst: 3},
	}}, "alice@home.test")
	addr := testutil.Serve(t, srv, nil)
	msg := message("dave@sender.example", "alice@home.test", "flood", "x")
	flood := smtpFrom(t, addr, "127.0.0.1")
	var refused error
	for i := range 10 {
		if err := send(flood, "dave@sender.example", []string{"alice@home.test"}, msg); err != nil {
			if i != 3 {
				t.Fatalf("message %d refused (%v), want the 4th", i+1, err)
			}
			refused = err
			flood.Reset()
			break
		}
	}
	if code(refused) != 451 || enhanced(refused) != "4.7.1" {
		t.Fatalf("flood of one sender from one client: %v, want 451 4.7.1", refused)
	}
	real := smtpFrom(t, addr, "127.0.0.2")
	if err := send(real, "dave@sender.example", []string{"alice@home.test"}, msg); err != nil {
		t.Fatalf("the sender from another client: %v, want it accepted", err)
	}
	// The refused 4th message was charged to the client: one more fits.
	for i := range 2 {
		err := send(flood, fmt.Sprintf("other%d@sender.example", i), []string{"alice@home.test"}, msg)
		if i == 0 && err != nil || i == 1 && code(err) != 451 {
			t.Fatalf("other sender %d from the flooding client: %v; want 1 more within its budget, then 451", i, err)
		}
		flood.Reset()
	}
}

// Item 13: the MX refuses mail that claims a local sender in the envelope
// or in From; only submission sends as a local address.
func TestMXLocalSenderSpoofing(t *testing.T) {
	st, srv := newMX(t, MXOptions{}, "alice@home.test", "bob@home.test")
	addr := testutil.Serve(t, srv, nil)
	c := dial(t, addr)
	for _, tc := range []struct{ name, envFrom, from string }{
		{"envelope", "bob@home.test", "bob@home.test"},
		{"envelope, other case", "Bob@HOME.test", "carol@sender.example"},
		{"header From", "carol@sender.example", "bob@home.test"},
		{"header From with a name", "carol@sender.example", `"Bob" <BOB@home.test>`},
		{"header From, unknown local user", "", "nobody@home.test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := send(c, tc.envFrom, []string{"alice@home.test"}, message(tc.from, "alice@home.test", "spoof", "x"))
			if code(err) != 550 || enhanced(err) != "5.7.1" {
				t.Fatalf("got %v, want 550 5.7.1", err)
			}
			c.Reset()
		})
	}
	if n := len(testutil.Inbox(t, st, "alice@home.test")); n != 0 {
		t.Fatalf("alice has %d spoofed messages", n)
	}
	if err := send(c, "carol@sender.example", []string{"alice@home.test"}, message(`"bob@home.test" <carol@sender.example>`, "alice@home.test", "ok", "x")); err != nil {
		t.Fatalf("an outside sender: %v", err)
	}
}

// Item 13: at submission, the display name may not be another address and
// a Sender field must be the account's; item 12: bare CR is refused.
func TestSubmissionHeaderTricks(t *testing.T) {
	e := newSubmission(t, SubmissionOptions{AllowInsecureAuth: true}, false)
	c := e.login(t, "alice@home.test", "pw-alice")
	body := "To: bob@home.test\r\nSubject: s\r\n\r\nx\r\n"
	for _, tc := range []struct {
		name, msg string
		code      int
	}{
		{"display name is another address", `From: "bob@home.test" <alice@home.test>` + "\r\n" + body, 550},
		{"display name holds another address", `From: "Bob (bob@home.test)" <alice@home.test>` + "\r\n" + body, 550},
		{"encoded display name", "From: =?utf-8?q?bob=40home=2Etest?= <alice@home.test>\r\n" + body, 550},
		{"Sender of another user", "From: alice@home.test\r\nSender: bob@home.test\r\n" + body, 550},
		{"two Sender fields", "From: alice@home.test\r\nSender: alice@home.test\r\nSender: alice@home.test\r\n" + body, 550},
		{"bare CR in the body", "From: alice@home.test\r\n" + body + "line\r.\r\nMAIL FROM:<x@y>\r\n", 550},
		{"own address as display name", `From: "alice@home.test" <alice@home.test>` + "\r\n" + body, 0},
		{"plain display name", `From: "Alice at home" <alice@home.test>` + "\r\n" + body, 0},
		{"own Sender", "From: alice@home.test\r\nSender: Alice <alice@home.test>\r\n" + body, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := send(c, "alice@home.test", []string{"bob@home.test"}, tc.msg)
			if code(err) != tc.code {
				t.Fatalf("got %v, want %d", err, tc.code)
			}
			if err != nil {
				c.Reset()
			}
		})
	}
	if n := len(testutil.Inbox(t, e.st, "bob@home.test")); n != 3 {
		t.Fatalf("bob has %d messages, want the 3 allowed", n)
	}
}

// fullDisk is a store whose disk is full.
type fullDisk struct{}

func (fullDisk) HasUser(context.Context, string) (bool, error) { return true, nil }
func (fullDisk) Deliver(context.Context, []string, []byte) error {
	return fmt.Errorf("mailstore: commit: %w", syscall.ENOSPC)
}

// Item 4: a full disk is a 452 4.3.1, which the sender retries, never a 250.
func TestMXFullDisk(t *testing.T) {
	srv := NewMX(fullDisk{}, MXOptions{Domains: []string{"home.test"}, Logger: testLogger(&testutil.SyncBuffer{})})
	c := dial(t, testutil.Serve(t, srv, nil))
	err := send(c, "carol@sender.example", []string{"alice@home.test"}, message("carol@sender.example", "alice@home.test", "full", "x"))
	if code(err) != 452 || enhanced(err) != "4.3.1" {
		t.Fatalf("delivery to a full disk: %v, want 452 4.3.1", err)
	}
}
