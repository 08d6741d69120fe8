package imapd

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/thingpost/thingpost/homenode/spool"
)

func newSpool(tb testing.TB, l spool.Limits) *spool.Spool {
	tb.Helper()
	sp, err := spool.New(filepath.Join(tb.TempDir(), "spool"), l)
	if err != nil {
		tb.Fatal(err)
	}
	return sp
}

// bigMessage is a well-formed message of exactly n bytes (n >= 100).
func bigMessage(n int) []byte {
	head := "From: carol@far.example\r\nTo: alice@home.example\r\nSubject: big\r\n\r\n"
	line := "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n"
	b := []byte(head + strings.Repeat(line, (n-len(head))/len(line)+1))[:n]
	copy(b[n-2:], "\r\n")
	return b
}

// startAppend sends an APPEND of a size-byte literal and waits for the
// continuation; a tagged answer instead (a refusal) is returned.
func (rc *rawConn) startAppend(size int) (status string) {
	rc.t.Helper()
	rc.tag++
	rc.c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := fmt.Fprintf(rc.c, "R%d APPEND INBOX {%d}\r\n", rc.tag, size); err != nil {
		rc.t.Fatal(err)
	}
	line, err := rc.readLine()
	if err != nil {
		rc.t.Fatalf("APPEND continuation: %v", err)
	}
	if strings.HasPrefix(line, "+") {
		return ""
	}
	return strings.TrimPrefix(line, fmt.Sprintf("R%d ", rc.tag))
}

// finishAppend sends the rest of the literal and returns the tagged status.
func (rc *rawConn) finishAppend(rest []byte) string {
	rc.t.Helper()
	if _, err := rc.c.Write(append(rest, "\r\n"...)); err != nil {
		rc.t.Fatal(err)
	}
	tag := fmt.Sprintf("R%d ", rc.tag)
	for {
		line, err := rc.readLine()
		if err != nil {
			rc.t.Fatalf("APPEND status: %v", err)
		}
		if status, ok := strings.CutPrefix(line, tag); ok {
			return status
		}
	}
}

// appendRaw APPENDs msg over rc and returns the tagged status.
func (rc *rawConn) appendRaw(msg []byte) string {
	rc.t.Helper()
	if st := rc.startAppend(len(msg)); st != "" {
		return st
	}
	return rc.finishAppend(msg)
}

// heapNow is the live heap after a collection, goroutine stacks included.
func heapNow() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc + ms.StackInuse)
}

// stalledAppends starts n APPENDs of size-byte literals as alice, sends the
// first sent bytes of each and stalls. It waits until the server has taken
// in what was sent (in the spool, or on the heap, where the unfixed server
// allocated whole literals) and returns how much the heap has grown.
func stalledAppends(tb testing.TB, e *env, sp *spool.Spool, n, size, sent int) (conns []*rawConn, grown int64) {
	tb.Helper()
	base := heapNow()
	chunk := bigMessage(sent)
	for range n {
		rc := e.raw(alice)
		if st := rc.startAppend(size); st != "" {
			tb.Fatalf("APPEND of %d bytes refused: %s", size, st)
		}
		if _, err := rc.c.Write(chunk); err != nil {
			tb.Fatal(err)
		}
		conns = append(conns, rc)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		grown = heapNow() - base
		if sp.OnDisk() >= int64(n*sent) || grown >= int64(n*size) {
			return conns, grown
		}
		if time.Now().After(deadline) {
			tb.Fatalf("after 30 s the spool holds %d bytes and the heap grew %d: the server did not take the literals in", sp.OnDisk(), grown)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Attack 8: N authenticated connections each start an APPEND of a large
// literal and stall. The server must hold their bodies on disk, not in
// memory: the heap may grow by a few buffers per connection, not by the
// literal sizes.
func TestStalledAppendsKeepMemoryBounded(t *testing.T) {
	const n, size, sent = 8, 16 << 20, 2 << 20
	limits := spool.Limits{Disk: 256 << 20, Memory: 8 << 20}
	sp := newSpool(t, limits)
	e := newEnv(t, Options{AllowInsecureAuth: true, AppendLimit: size, Spool: sp})

	conns, grown := stalledAppends(t, e, sp, n, size, sent)
	// Per connection: the spool's in-memory head (SmallSize, in a buffer
	// that may double), a copy buffer and imapserver's buffers; plus the
	// spool's whole memory budget and slack for the runtime.
	bound := int64(n*(4*spool.SmallSize+128<<10)) + limits.Memory + 4<<20
	if grown > bound {
		t.Fatalf("%d stalled APPENDs of %d MiB literals (%d MiB sent each): heap grew by %.1f MiB, bound %.1f MiB",
			n, size>>20, sent>>20, float64(grown)/(1<<20), float64(bound)/(1<<20))
	}
	t.Logf("%d stalled APPENDs: heap grew by %.2f MiB (bound %.1f MiB), spool holds %d MiB on disk",
		n, float64(grown)/(1<<20), float64(bound)/(1<<20), sp.OnDisk()>>20)

	// Hanging up frees the spool and stores nothing.
	for _, rc := range conns {
		rc.c.Close()
	}
	waitFor(t, "the spool to be empty after the clients hung up", func() bool { return sp.OnDisk() == 0 })
	if st, err := e.store.MailboxStatus(t.Context(), alice, "INBOX"); err != nil || st.Messages != 0 {
		t.Fatalf("INBOX after aborted APPENDs: %+v, %v; want empty", st, err)
	}
}

// Attack 8, the other way: connections that FETCH a large message and do
// not read the answer. The server must not hold a copy per connection.
func TestStalledFetchesKeepMemoryBounded(t *testing.T) {
	const n, size, budget = 8, 8 << 20, 16 << 20
	e := newEnv(t, Options{AllowInsecureAuth: true, FetchMemory: budget})
	e.deliver(alice, string(bigMessage(size)))
	base := heapNow()
	bound := int64(budget + n*256<<10 + 4<<20)
	for range n {
		rc := e.raw(alice)
		if _, st := rc.cmd("SELECT INBOX"); !strings.HasPrefix(st, "OK") {
			t.Fatal(st)
		}
		fmt.Fprintf(rc.c, "F FETCH 1 BODY.PEEK[]\r\n") // and never read
	}
	// One FETCH holds the budget while it writes, the others wait for it;
	// the unfixed server loaded the message for each of them at once.
	var grown int64
	waitFor(t, "the FETCHes to stall", func() bool {
		grown = heapNow() - base
		return e.srv.fetchMem.waiting.Load() == n-1 || grown > bound
	})
	if grown > bound {
		t.Fatalf("%d stalled FETCHes of a %d MiB message: heap grew by %.1f MiB, bound %.1f MiB",
			n, size>>20, float64(grown)/(1<<20), float64(bound)/(1<<20))
	}
	t.Logf("%d stalled FETCHes: heap grew by %.2f MiB (bound %.1f MiB)", n, float64(grown)/(1<<20), float64(bound)/(1<<20))

	// Alice holds her half of the budget; bob's large message and alice's
	// small ones still come.
	bobMsg := bigMessage(size)
	e.deliver(bob, string(bobMsg))
	small := bigMessage(4 << 10)
	e.deliver(alice, string(small))
	for _, tc := range []struct {
		user string
		seq  uint32
		want []byte
	}{{bob, 1, bobMsg}, {alice, 2, small}} {
		c, _ := e.selectInbox(tc.user, nil)
		msgs, err := c.Fetch(imap.SeqSetNum(tc.seq), &imap.FetchOptions{
			BodySection: []*imap.FetchItemBodySection{{Peek: true}},
		}).Collect()
		if err != nil || len(msgs) != 1 || !bytes.Equal(msgs[0].BodySection[0].Bytes, tc.want) {
			t.Fatalf("%s's message %d while alice's FETCHes stall: %d messages, %v", tc.user, tc.seq, len(msgs), err)
		}
	}
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatalf("waited 10 s for %s", what)
		}
	}
}

// Attack 8: while stalled transfers hold the spool's disk budget, an APPEND
// that does not fit is refused with a temporary-failure code and nothing is
// stored; a small APPEND still works, and the stalled one, once finished,
// is stored intact.
func TestAppendWhenSpoolFull(t *testing.T) {
	sp := newSpool(t, spool.Limits{Disk: 1 << 20, Memory: 8 << 20})
	e := newEnv(t, Options{AllowInsecureAuth: true, Spool: sp})

	held := e.raw(alice)
	big := bigMessage(900 << 10)
	if st := held.startAppend(len(big)); st != "" {
		t.Fatalf("first APPEND: %s", st)
	}
	if _, err := held.c.Write(big[:800<<10]); err != nil {
		t.Fatal(err)
	}
	// The unfixed server has no spool: give it the same moment to read.
	for deadline := time.Now().Add(2 * time.Second); sp.OnDisk() < 800<<10 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}

	other := e.raw(alice)
	if st := other.startAppend(DefaultAppendLimit + 1); !strings.HasPrefix(st, "NO [TOOBIG]") {
		t.Fatalf("APPEND over the limit: %q, want NO [TOOBIG] before the literal", st)
	}
	st := other.appendRaw(bigMessage(400 << 10))
	if !strings.HasPrefix(st, "NO ["+string(imap.ResponseCodeUnavailable)+"]") {
		t.Fatalf("APPEND while the spool is full: %q, want NO [UNAVAILABLE]", st)
	}
	if ms, err := e.store.MailboxStatus(t.Context(), alice, "INBOX"); err != nil || ms.Messages != 0 {
		t.Fatalf("INBOX after the refused APPEND: %+v, %v; want empty", ms, err)
	}

	small := bigMessage(2 << 10)
	if st := other.appendRaw(small); !strings.HasPrefix(st, "OK") {
		t.Fatalf("small APPEND while the spool is full: %q", st)
	}
	if st := held.finishAppend(big[800<<10:]); !strings.HasPrefix(st, "OK") {
		t.Fatalf("the stalled APPEND, finished: %q", st)
	}
	if sp.OnDisk() != 0 {
		t.Fatalf("spool holds %d bytes after the APPENDs ended", sp.OnDisk())
	}

	c, _ := e.selectInbox(alice, nil)
	msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{
		BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]byte{small, big}
	if len(msgs) != len(want) {
		t.Fatalf("INBOX holds %d messages, want %d", len(msgs), len(want))
	}
	for i, m := range msgs {
		if got := m.BodySection[0].Bytes; !bytes.Equal(got, want[i]) {
			t.Errorf("message %d: %d bytes, differs from the %d appended", i+1, len(got), len(want[i]))
		}
	}
}

// Attack 10: an unauthenticated connection that sends NOOP after NOOP is
// closed when the login timeout runs out; a logged-in one is not.
func TestLoginTimeoutNotResetByNoop(t *testing.T) {
	const timeout = 400 * time.Millisecond
	e := newEnv(t, Options{AllowInsecureAuth: true, LoginTimeout: timeout})

	loggedIn := e.raw(alice)
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	r := bufio.NewReader(c)
	c.SetDeadline(start.Add(10 * time.Second))
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	sawBye := false
	for i := 0; ; i++ {
		if time.Since(start) > 10*timeout {
			t.Fatalf("an unauthenticated client still NOOPs after %v with a login timeout of %v", time.Since(start).Round(time.Millisecond), timeout)
		}
		if _, err := fmt.Fprintf(c, "N%d NOOP\r\n", i); err != nil {
			break // closed
		}
		line, err := r.ReadString('\n')
		if err != nil {
			break
		}
		if strings.HasPrefix(line, "* BYE") {
			sawBye = true
		}
		time.Sleep(timeout / 8)
	}
	if elapsed := time.Since(start); elapsed < timeout {
		t.Fatalf("closed after %v, before the login timeout of %v", elapsed, timeout)
	}
	if !sawBye {
		t.Error("closed without * BYE")
	}
	if _, st := loggedIn.cmd("NOOP"); !strings.HasPrefix(st, "OK") {
		t.Fatalf("a logged-in connection after the login timeout: %q", st)
	}
}

// A client that stalls mid-literal is cut off when the whole-transfer
// deadline runs out, well before imapserver's five minutes; nothing is
// stored and its spool space is freed.
func TestStalledAppendIsCutOff(t *testing.T) {
	sp := newSpool(t, spool.Limits{Disk: 1 << 20, Memory: 1 << 20})
	e := newEnv(t, Options{AllowInsecureAuth: true, Spool: sp, literalGrace: 300 * time.Millisecond})
	for _, size := range []int{1000, 64 << 10} { // in memory, and spooled to disk
		rc := e.raw(alice)
		if st := rc.startAppend(size); st != "" {
			t.Fatal(st)
		}
		rc.c.Write(bigMessage(size)[:size/2])
		start := time.Now()
		rc.c.SetDeadline(start.Add(10 * time.Second))
		line, _ := rc.r.ReadString('\n')
		if _, err := rc.r.ReadByte(); err != io.EOF || !strings.HasPrefix(line, "* BYE") {
			t.Fatalf("%d-byte literal stalled halfway: %q, then %v; want * BYE and EOF", size, line, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("cut off after %v", d)
		}
	}
	waitFor(t, "the spool to be empty", func() bool { return sp.OnDisk() == 0 })
	if ms, err := e.store.MailboxStatus(t.Context(), alice, "INBOX"); err != nil || ms.Messages != 0 {
		t.Fatalf("INBOX after stalled APPENDs: %+v, %v; want empty", ms, err)
	}
}

// Literals in commands other than APPEND are read into memory by go-imap,
// which refuses those over 4 KiB: it sends no continuation, and a client
// that sends the data anyway is cut off after maxCommandSize (50 KiB).
func TestLiteralsOutsideAppendAreRefused(t *testing.T) {
	e := newEnv(t, Options{AllowInsecureAuth: true})
	for _, tc := range []struct {
		user, cmd string
	}{
		{"", "A LOGIN {1000000}"},
		{alice, "A SEARCH TEXT {1000000}"},
		{alice, "A CREATE {1000000}"},
	} {
		var rc *rawConn
		if tc.user == "" {
			c, err := net.Dial("tcp", e.addr)
			if err != nil {
				t.Fatal(err)
			}
			rc = &rawConn{t: t, c: c, r: bufio.NewReader(c)}
			if _, err := rc.r.ReadString('\n'); err != nil {
				t.Fatal(err)
			}
		} else {
			rc = e.raw(tc.user)
		}
		rc.c.SetDeadline(time.Now().Add(300 * time.Millisecond))
		fmt.Fprintf(rc.c, "%s\r\n", tc.cmd)
		if line, err := rc.r.ReadString('\n'); err == nil {
			t.Errorf("%s: %q, want no continuation", tc.cmd, line)
		}
		rc.c.SetDeadline(time.Now().Add(5 * time.Second))
		rc.c.Write(bytes.Repeat([]byte("x"), 200<<10))
		_, err := io.Copy(io.Discard, rc.r)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Errorf("%s: the server still reads after 200 KiB of literal", tc.cmd)
		}
		rc.c.Close()
	}
}

// BenchmarkStalledAppends reports how much the heap grows while 8
// connections each hold an APPEND of a 16 MiB literal after its first 2 MiB.
func BenchmarkStalledAppends(b *testing.B) {
	const n, size, sent = 8, 16 << 20, 2 << 20
	sp := newSpool(b, spool.Limits{Disk: 256 << 20, Memory: 8 << 20})
	e := newEnv(b, Options{AllowInsecureAuth: true, AppendLimit: size, Spool: sp})
	var peak int64
	for b.Loop() {
		conns, grown := stalledAppends(b, e, sp, n, size, sent)
		peak = max(peak, grown)
		for _, rc := range conns {
			rc.c.Close()
		}
		waitFor(b, "the stalled sessions to end", func() bool {
			e.srv.mu.Lock()
			defer e.srv.mu.Unlock()
			return len(e.srv.conns) == 0
		})
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}

// BenchmarkAppend: one APPEND of a message, over a logged-in connection.
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{4 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			e := newEnv(b, Options{AllowInsecureAuth: true})
			rc := e.raw(alice)
			msg := bigMessage(size)
			b.SetBytes(int64(size))
			for b.Loop() {
				if st := rc.appendRaw(msg); !strings.HasPrefix(st, "OK") {
					b.Fatal(st)
				}
			}
		})
	}
}

// BenchmarkIdleConnections reports the heap (and stacks) one connection
// costs, server and test client together: unauthenticated, and logged in with INBOX selected and idling
// (what each thing on the router keeps open).
func BenchmarkIdleConnections(b *testing.B) {
	const n = 100
	for _, idling := range []bool{false, true} {
		b.Run(map[bool]string{false: "unauthenticated", true: "idling"}[idling], func(b *testing.B) {
			e := newEnv(b, Options{AllowInsecureAuth: true})
			var per float64
			for b.Loop() {
				base := heapNow()
				var conns []net.Conn
				for range n {
					if !idling {
						c, err := net.Dial("tcp", e.addr)
						if err != nil {
							b.Fatal(err)
						}
						if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
							b.Fatal(err)
						}
						conns = append(conns, c)
						continue
					}
					rc := e.raw(alice)
					if _, st := rc.cmd("SELECT INBOX"); !strings.HasPrefix(st, "OK") {
						b.Fatal(st)
					}
					fmt.Fprintf(rc.c, "I IDLE\r\n")
					if line, err := rc.r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "+") {
						b.Fatalf("IDLE: %q %v", line, err)
					}
					conns = append(conns, rc.c)
				}
				per = float64(heapNow()-base) / n
				for _, c := range conns {
					c.Close()
				}
				waitFor(b, "the sessions to end", func() bool {
					e.srv.mu.Lock()
					defer e.srv.mu.Unlock()
					return len(e.srv.conns) == 0
				})
			}
			b.ReportMetric(per/1024, "heap-KiB/conn")
		})
	}
}
