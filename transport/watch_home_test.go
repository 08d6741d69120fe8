package transport

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// testHome is a running mail server pair on loopback.
type testHome interface {
	account() Account
	// deliver puts a message into INBOX without SMTP (it works while the
	// servers are down).
	deliver(raw []byte)
	// restart kills the servers and all their connections, waits, and
	// starts them again on the same ports with the same mail.
	restart(down time.Duration)
}

type homeKind struct {
	name string
	new  func(t testing.TB, sec Security) testHome
}

// homes are the servers every watcher test runs against: the project's
// home node (MOVE, UIDPLUS), and imapmemserver without MOVE, which takes the
// COPY + \Deleted + EXPUNGE path.
var homes = []homeKind{
	{"homenode", func(t testing.TB, sec Security) testHome { return newNodeHome(t, sec) }},
	{"memserver-no-move", func(t testing.TB, sec Security) testHome {
		return newMemHome(t, memOpts{sec: sec, caps: imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIdle: {}}})
	}},
}

// waitSaved waits until the watcher has recorded uid as processed, that is,
// its disposition is applied.
func waitSaved(t testing.TB, store *MemoryState, uid uint32) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, _ := store.LoadState(ctxT(t, time.Second))
		if s.LastUID >= uid {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("UID %d not recorded as processed; state %+v", uid, s)
		}
		time.Sleep(time.Millisecond)
	}
}

func forEachHome(t *testing.T, f func(t *testing.T, k homeKind)) {
	for _, k := range homes {
		t.Run(k.name, func(t *testing.T) { f(t, k) })
	}
}

// forEachHomeIn runs f on a fresh home of every kind in each of the
// security modes, as the subtests kind/mode.
func forEachHomeIn(t *testing.T, secs []Security, f func(t *testing.T, h testHome)) {
	forEachHome(t, func(t *testing.T, k homeKind) {
		for _, sec := range secs {
			t.Run(string(sec), func(t *testing.T) { f(t, k.new(t, sec)) })
		}
	})
}

// wantCount fails the test unless folder holds n messages.
func wantCount(t testing.TB, a Account, folder string, n int) {
	t.Helper()
	if got := len(folderBodies(t, a, folder)); got != n {
		t.Errorf("%s has %d messages, want %d", folder, got, n)
	}
}

// folderBodies reads a folder with an independent client.
func folderBodies(t testing.TB, a Account, folder string) [][]byte {
	t.Helper()
	c, _, err := connectIMAP(ctxT(t, 10*time.Second), &a, &imapclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sel, err := c.Select(folder, nil).Wait()
	if err != nil {
		t.Fatalf("select %s: %v", folder, err)
	}
	if sel.NumMessages == 0 {
		return nil
	}
	section := &imap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{
		BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		t.Fatalf("fetch %s: %v", folder, err)
	}
	var out [][]byte
	for _, m := range msgs {
		out = append(out, m.FindBodySection(section))
	}
	return out
}

func uidValidity(t testing.TB, a Account) uint32 {
	t.Helper()
	c, _, err := connectIMAP(ctxT(t, 10*time.Second), &a, &imapclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	return sel.UIDValidity
}

func subjects(msgs [][]byte) []string {
	var s []string
	for _, m := range msgs {
		for _, line := range strings.Split(string(m), "\r\n") {
			if strings.HasPrefix(line, "Subject: ") {
				s = append(s, strings.TrimPrefix(line, "Subject: "))
			}
		}
	}
	return s
}

func TestWatchDeliversEachMessageOnce(t *testing.T) {
	forEachHomeIn(t, []Security{SecurityTLS, SecurityPlain}, func(t *testing.T, h testHome) {
		a := h.account()
		for i := 0; i < 3; i++ {
			h.deliver(testMessage(i, "present before start"))
		}
		rec := newRecorder(func(Msg) (Disposition, error) { return Move("Processed"), nil })
		st := newStatusLog()
		o := fastOpts(t, st)
		o.CreateFolders = []string{"Processed", "Quarantine"}
		store := &MemoryState{}
		stop := startWatch(t, a, store, rec.handle, o)

		rec.await(t, 3, 10*time.Second)
		st.waitFor(t, StateIdle, nil, 5*time.Second)
		for i := 3; i < 6; i++ {
			if err := Send(ctxT(t, 10*time.Second), a, a.Address, []string{a.Address}, testMessage(i, "sent")); err != nil {
				t.Fatalf("Send: %v", err)
			}
		}
		rec.await(t, 3, 10*time.Second)
		rec.quiet(t, 300*time.Millisecond)
		stop()

		rec.handledOnce(t)
		for i, m := range rec.msgs {
			if i > 0 && m.UID <= rec.msgs[i-1].UID {
				t.Errorf("UIDs out of order: %d after %d", m.UID, rec.msgs[i-1].UID)
			}
			if m.Size != int64(len(m.Raw)) || !bytes.Contains(m.Raw, []byte("Subject: test ")) {
				t.Errorf("message %d: size %d, raw %q", i, m.Size, m.Raw)
			}
		}
		wantCount(t, a, "INBOX", 0)
		if got := subjects(folderBodies(t, a, "Processed")); len(got) != 6 {
			t.Errorf("Processed has %v", got)
		}
		wantCount(t, a, "Quarantine", 0)
		s, _ := store.LoadState(ctxT(t, time.Second))
		if s.LastUID != rec.msgs[len(rec.msgs)-1].UID || s.UIDValidity != rec.msgs[0].UIDValidity {
			t.Errorf("saved state %+v, last message UID %d", s, rec.msgs[len(rec.msgs)-1].UID)
		}
		st.waitFor(t, StateStopped, nil, time.Second)
	})
}

func TestWatchRestartDoesNotRedeliver(t *testing.T) {
	forEachHome(t, func(t *testing.T, k homeKind) {
		h := k.new(t, SecurityTLS)
		a := h.account()
		h.deliver(testMessage(1, "one"))
		h.deliver(testMessage(2, "two"))
		store := &MemoryState{}
		rec := newRecorder(nil) // Keep: the messages stay in INBOX
		stop := startWatch(t, a, store, rec.handle, fastOpts(t, nil))
		rec.await(t, 2, 10*time.Second)
		stop()

		st := newStatusLog()
		startWatch(t, a, store, rec.handle, fastOpts(t, st))
		st.waitFor(t, StateIdle, nil, 10*time.Second)
		rec.quiet(t, 300*time.Millisecond)
		if err := Send(ctxT(t, 10*time.Second), a, a.Address, []string{a.Address}, testMessage(3, "three")); err != nil {
			t.Fatal(err)
		}
		got := rec.await(t, 1, 10*time.Second)
		if !bytes.Contains(got[0].Raw, []byte("Subject: test 3")) {
			t.Errorf("after restart got %q", got[0].Raw)
		}
		rec.quiet(t, 300*time.Millisecond)
		rec.handledOnce(t)
		wantCount(t, a, "INBOX", 3)
	})
}

func TestWatchReconnectsAfterServerRestart(t *testing.T) {
	forEachHome(t, func(t *testing.T, k homeKind) {
		h := k.new(t, SecurityTLS)
		a := h.account()
		rec := newRecorder(func(Msg) (Disposition, error) { return Delete(), nil })
		st := newStatusLog()
		store := &MemoryState{}
		startWatch(t, a, store, rec.handle, fastOpts(t, st))
		st.waitFor(t, StateIdle, nil, 10*time.Second)
		h.deliver(testMessage(1, "before the crash"))
		got := rec.await(t, 1, 10*time.Second)

		for round := 0; round < 3; round++ {
			// Kill mid-IDLE (a kill while a disposition is being applied
			// legitimately re-offers that message: at least once); mail
			// arrives while the watcher is disconnected.
			waitSaved(t, store, got[0].UID)
			h.restart(0)
			h.deliver(testMessage(10+round, "while down"))
			st.waitFor(t, StateReconnecting, nil, 10*time.Second)
			st.waitFor(t, StateIdle, nil, 10*time.Second)
			rec.await(t, 1, 10*time.Second)
			if err := Send(ctxT(t, 10*time.Second), a, a.Address, []string{a.Address}, testMessage(20+round, "after")); err != nil {
				t.Fatal(err)
			}
			got = rec.await(t, 1, 10*time.Second)
		}
		rec.quiet(t, 300*time.Millisecond)
		rec.handledOnce(t)
		wantCount(t, a, "INBOX", 0)
	})
}

// A connection that goes silent without closing (NAT timeout, power loss
// at the far end) is noticed by the IDLE watchdog.
func TestWatchWatchdogHalfDeadConnection(t *testing.T) {
	forEachHome(t, func(t *testing.T, k homeKind) {
		h := k.new(t, SecurityTLS)
		a := h.account()
		proxy := newStalling(t, a.IMAP.HostPort, nil)
		a.IMAP.HostPort = proxy.addr()
		rec := newRecorder(nil)
		st := newStatusLog()
		o := fastOpts(t, st)
		o.IdleRefresh = 300 * time.Millisecond
		o.CommandTimeout = 500 * time.Millisecond
		startWatch(t, a, &MemoryState{}, rec.handle, o)
		st.waitFor(t, StateIdle, nil, 10*time.Second)

		proxy.freeze()
		start := time.Now()
		s := st.waitFor(t, StateReconnecting, ErrTimeout, 5*time.Second)
		t.Logf("half-dead connection noticed after %v: %v", time.Since(start), s.Err)
		st.waitFor(t, StateIdle, nil, 5*time.Second)
		h.deliver(testMessage(1, "after the stall"))
		rec.await(t, 1, 5*time.Second)
	})
}

func TestWatchStopsCleanly(t *testing.T) {
	forEachHome(t, func(t *testing.T, k homeKind) {
		h := k.new(t, SecurityPlain) // plain, so the proxy can read the commands
		a := h.account()
		proxy := newStalling(t, a.IMAP.HostPort, nil)
		a.IMAP.HostPort = proxy.addr()
		st := newStatusLog()
		stop := startWatch(t, a, &MemoryState{}, newRecorder(nil).handle, fastOpts(t, st))
		st.waitFor(t, StateIdle, nil, 10*time.Second)
		stop()
		sent := proxy.clientSent()
		iIdle, iDone, iLogout := strings.LastIndex(sent, "IDLE\r\n"), strings.LastIndex(sent, "DONE\r\n"), strings.LastIndex(sent, "LOGOUT\r\n")
		if iIdle < 0 || iDone < iIdle || iLogout < iDone {
			t.Errorf("client did not end with IDLE, DONE, LOGOUT:\n%s", sent)
		}
		st.waitFor(t, StateStopped, nil, time.Second)
	})
}

// withoutIdle gives h's account through a proxy that hides the server's
// IDLE capability.
func withoutIdle(t *testing.T, h testHome) (Account, *stalling) {
	a := h.account()
	proxy := newStalling(t, a.IMAP.HostPort, func(b []byte) {
		copy(b, bytes.ReplaceAll(b, []byte(" IDLE"), []byte(" XDLE")))
	})
	a.IMAP.HostPort = proxy.addr()
	return a, proxy
}

// Without IDLE the watcher polls.
func TestWatchPollsWithoutIdle(t *testing.T) {
	forEachHome(t, func(t *testing.T, k homeKind) {
		h := k.new(t, SecurityPlain) // plain, so the proxy can hide IDLE
		a, proxy := withoutIdle(t, h)
		rec := newRecorder(nil)
		st := newStatusLog()
		o := fastOpts(t, st)
		o.PollInterval = 200 * time.Millisecond
		stop := startWatch(t, a, &MemoryState{}, rec.handle, o)
		st.waitFor(t, StateIdle, nil, 10*time.Second)
		for i := 0; i < 3; i++ {
			h.deliver(testMessage(i, "polled"))
			rec.await(t, 1, 5*time.Second)
		}
		stop()
		if sent := proxy.clientSent(); strings.Contains(sent, "IDLE\r\n") || !strings.Contains(sent, "NOOP\r\n") {
			t.Errorf("want NOOP polling and no IDLE; client sent:\n%s", sent)
		}
	})
}

// A polling watcher whose connection closes reconnects at once, not a poll
// interval later.
func TestWatchPollingNoticesClose(t *testing.T) {
	forEachHome(t, func(t *testing.T, k homeKind) {
		h := k.new(t, SecurityPlain) // plain, so the proxy can hide IDLE
		a, proxy := withoutIdle(t, h)
		st := newStatusLog()
		o := fastOpts(t, st)
		o.PollInterval = time.Minute
		startWatch(t, a, &MemoryState{}, newRecorder(nil).handle, o)
		st.waitFor(t, StateIdle, nil, 10*time.Second)
		proxy.drop()
		st.waitFor(t, StateReconnecting, nil, 5*time.Second)
	})
}

func TestWatchDispositions(t *testing.T) {
	forEachHome(t, func(t *testing.T, k homeKind) {
		h := k.new(t, SecurityTLS)
		a := h.account()
		for i, s := range []string{"keep", "delete", "quarantine", "keep", "newfolder", "toinbox"} {
			h.deliver(testMessage(i, s))
		}
		rec := newRecorder(func(m Msg) (Disposition, error) {
			switch {
			case bytes.Contains(m.Raw, []byte("delete")):
				return Delete(), nil
			case bytes.Contains(m.Raw, []byte("quarantine")):
				return Move("Quarantine"), nil
			case bytes.Contains(m.Raw, []byte("newfolder")):
				return Move("Not/Created/Before"), nil // TRYCREATE path
			case bytes.Contains(m.Raw, []byte("toinbox")):
				return Move("inbox"), nil // kept, not handed over again
			}
			return Keep(), nil
		})
		o := fastOpts(t, nil)
		o.CreateFolders = []string{"Quarantine"}
		stop := startWatch(t, a, &MemoryState{}, rec.handle, o)
		rec.await(t, 6, 10*time.Second)
		rec.quiet(t, 200*time.Millisecond)
		stop()
		if got := subjects(folderBodies(t, a, "INBOX")); strings.Join(got, ",") != "test 0,test 3,test 5" {
			t.Errorf("INBOX: %v", got)
		}
		if got := subjects(folderBodies(t, a, "Quarantine")); strings.Join(got, ",") != "test 2" {
			t.Errorf("Quarantine: %v", got)
		}
		if got := subjects(folderBodies(t, a, "Not/Created/Before")); strings.Join(got, ",") != "test 4" {
			t.Errorf("created folder: %v", got)
		}
	})
}

// A handler error means "not now": nothing is applied or recorded, and the
// message comes again after the backoff.
func TestWatchHandlerErrorRetries(t *testing.T) {
	forEachHome(t, func(t *testing.T, k homeKind) {
		h := k.new(t, SecurityTLS)
		a := h.account()
		h.deliver(testMessage(1, "first"))
		h.deliver(testMessage(2, "second"))
		failures := 2
		errBusy := errors.New("database busy")
		rec := newRecorder(func(m Msg) (Disposition, error) {
			if bytes.Contains(m.Raw, []byte("second")) && failures > 0 {
				failures--
				return Keep(), errBusy
			}
			return Move("Done"), nil
		})
		st := newStatusLog()
		store := &MemoryState{}
		startWatch(t, a, store, rec.handle, fastOpts(t, st))
		first := rec.await(t, 1, 10*time.Second)
		s := st.waitFor(t, StateReconnecting, errBusy, 10*time.Second)
		if !strings.Contains(s.Err.Error(), "handler") {
			t.Errorf("status error %v", s.Err)
		}
		second := rec.await(t, 1, 10*time.Second)
		if !bytes.Contains(first[0].Raw, []byte("first")) || !bytes.Contains(second[0].Raw, []byte("second")) {
			t.Errorf("order: %q then %q", first[0].Raw, second[0].Raw)
		}
		rec.quiet(t, 200*time.Millisecond)
		rec.handledOnce(t)
		if got := subjects(folderBodies(t, a, "Done")); len(got) != 2 {
			t.Errorf("Done: %v", got)
		}
	})
}

func TestWatchUIDValidityChange(t *testing.T) {
	forEachHome(t, func(t *testing.T, k homeKind) {
		for _, tc := range []struct {
			policy UIDValidityPolicy
			same   bool // same UIDVALIDITY, but UIDNEXT below the saved UID
			want   int
		}{{Reprocess, false, 2}, {SkipExisting, false, 0}, {Reprocess, true, 2}, {SkipExisting, true, 0}} {
			h := k.new(t, SecurityTLS)
			a := h.account()
			h.deliver(testMessage(1, "old"))
			h.deliver(testMessage(2, "old"))
			// State saved against another incarnation of the mailbox.
			real := uidValidity(t, a)
			saved := real + 1
			if tc.same {
				saved = real
			}
			store := &MemoryState{}
			store.SaveState(ctxT(t, time.Second), State{UIDValidity: saved, LastUID: 1000})
			rec := newRecorder(nil)
			st := newStatusLog()
			o := fastOpts(t, st)
			o.OnUIDValidityChange = tc.policy
			stop := startWatch(t, a, store, rec.handle, o)
			rec.await(t, tc.want, 10*time.Second)
			st.waitFor(t, StateIdle, nil, 10*time.Second)
			rec.quiet(t, 200*time.Millisecond)
			h.deliver(testMessage(3, "new"))
			got := rec.await(t, 1, 10*time.Second)
			if !bytes.Contains(got[0].Raw, []byte("Subject: test 3")) {
				t.Errorf("%+v: new message %q", tc, got[0].Raw)
			}
			stop()
			s, _ := store.LoadState(ctxT(t, time.Second))
			if s.UIDValidity != real || s.LastUID != got[0].UID {
				t.Errorf("%+v: saved state %+v", tc, s)
			}
		}
	})
}

func TestWatchPinMismatch(t *testing.T) {
	forEachHome(t, func(t *testing.T, k homeKind) {
		h := k.new(t, SecurityTLS)
		a := h.account()
		h.deliver(testMessage(1, "x"))
		a.PinSHA256 = strings.Repeat("ee", 32)
		rec := newRecorder(nil)
		st := newStatusLog()
		startWatch(t, a, &MemoryState{}, rec.handle, fastOpts(t, st))
		st.waitFor(t, StateReconnecting, ErrPinMismatch, 5*time.Second)
		st.waitFor(t, StateReconnecting, ErrPinMismatch, 5*time.Second) // and keeps refusing
		rec.quiet(t, 100*time.Millisecond)
	})
}

func TestWatchOversizedMessage(t *testing.T) {
	forEachHome(t, func(t *testing.T, k homeKind) {
		h := k.new(t, SecurityTLS)
		a := h.account()
		big := testMessage(1, strings.Repeat("0123456789abcdef", 1024))
		h.deliver(big)
		h.deliver(testMessage(2, "small"))
		rec := newRecorder(func(m Msg) (Disposition, error) {
			if m.Raw == nil {
				return Move("Quarantine"), nil
			}
			return Keep(), nil
		})
		o := fastOpts(t, nil)
		o.MaxMessageSize = 4096
		startWatch(t, a, &MemoryState{}, rec.handle, o)
		got := rec.await(t, 2, 10*time.Second)
		if got[0].Raw != nil || got[0].Size != int64(len(big)) {
			t.Errorf("oversized: raw %d bytes, size %d (want nil, %d)", len(got[0].Raw), got[0].Size, len(big))
		}
		if got[1].Raw == nil {
			t.Error("small message without Raw")
		}
	})
}
