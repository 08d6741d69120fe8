package imapd

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/thingpost/thingpost/homenode/mailstore"
)

const pushTimeout = 5 * time.Second

func startIdle(t testing.TB, c *imapclient.Client) *imapclient.IdleCommand {
	t.Helper()
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	return idle
}

func stopIdle(t testing.TB, idle *imapclient.IdleCommand) {
	t.Helper()
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
}

// Two connections idle on INBOX; a delivery through the store reaches both.
func TestIdlePushToEveryConnection(t *testing.T) {
	e := newEnv(t, Options{AllowInsecureAuth: true})
	u1, u2 := newUpdates(), newUpdates()
	c1, _ := e.selectInbox(alice, u1)
	c2, _ := e.selectInbox(alice, u2)
	uOther := newUpdates()
	cOther, _ := e.selectInbox(bob, uOther)
	i1, i2, iOther := startIdle(t, c1), startIdle(t, c2), startIdle(t, cOther)

	for n := uint32(1); n <= 3; n++ {
		e.deliver(alice, plainMsg)
		u1.waitExists(t, n, pushTimeout)
		u2.waitExists(t, n, pushTimeout)
	}
	// One transaction for two recipients: both users' sessions hear it.
	if err := e.store.Deliver(context.Background(), []string{alice, bob}, []byte(plainMsg)); err != nil {
		t.Fatal(err)
	}
	u1.waitExists(t, 4, pushTimeout)
	uOther.waitExists(t, 1, pushTimeout)
	stopIdle(t, i1)
	stopIdle(t, i2)
	stopIdle(t, iOther)
}

// THE RACE TEST (see the package doc): start IDLE, deliver the moment the
// server has answered "+ idling", and require the EXISTS within 5 s, every
// time. With go-imap's own SessionTracker.Idle 5-10 % of these were missed.
func TestIdleRaceDeliverRightAfterIdling(t *testing.T) {
	iterations := 1000
	if testing.Short() {
		iterations = 100
	}
	e := newEnv(t, Options{AllowInsecureAuth: true})
	u := newUpdates()
	c, _ := e.selectInbox(alice, u)
	start := time.Now()
	for i := 1; i <= iterations; i++ {
		idle := startIdle(t, c) // returns after "+ idling"
		e.deliver(alice, plainMsg)
		u.nextExists(t, uint32(i), fmt.Sprintf("iteration %d: delivery (missed?)", i))
		stopIdle(t, idle)
	}
	t.Logf("%d deliveries right after + idling, all pushed, %v", iterations, time.Since(start))
}

// The same race, hit every time: the delivery commits inside the window
// between "+ idling" and the start of the wait, through a test hook.
func TestIdleRaceWindowDeterministic(t *testing.T) {
	e := newEnv(t, Options{AllowInsecureAuth: true})
	u := newUpdates()
	c, _ := e.selectInbox(alice, u)
	e.srv.idleHook = func() {
		if err := e.store.Deliver(context.Background(), []string{alice}, []byte(plainMsg)); err != nil {
			t.Error(err)
		}
	}
	for i := 1; i <= 200; i++ {
		idle := startIdle(t, c)
		u.nextExists(t, uint32(i), fmt.Sprintf("iteration %d: delivery inside the IDLE window", i))
		stopIdle(t, idle)
	}
}

// Changes made by one connection reach the others: FETCH FLAGS, EXPUNGE,
// EXISTS from APPEND and COPY, and BYE when the mailbox is deleted.
func TestUpdatesBetweenConnections(t *testing.T) {
	e := newEnv(t, Options{AllowInsecureAuth: true})
	for i := 0; i < 3; i++ {
		e.deliver(alice, plainMsg)
	}
	c1, _ := e.selectInbox(alice, nil)
	u2 := newUpdates()
	c2, _ := e.selectInbox(alice, u2)
	idle := startIdle(t, c2)

	// Flags: c1 stores, idling c2 hears FETCH FLAGS; .SILENT only silences c1.
	if err := c1.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	u2.nextFetch(t, 2, imap.FlagFlagged, "flag change pushed to c2")

	// Expunge by c1: c2 hears EXPUNGE 1.
	if err := c1.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	<-u2.fetches
	if _, err := c1.Expunge().Collect(); err != nil {
		t.Fatal(err)
	}
	select {
	case seq := <-u2.expunges:
		if seq != 1 {
			t.Fatalf("EXPUNGE %d pushed, want 1", seq)
		}
	case <-time.After(pushTimeout):
		t.Fatal("expunge not pushed")
	}

	// APPEND by c1 into INBOX: c2 hears EXISTS 3.
	cmd := c1.Append("INBOX", int64(len(plainMsg)), nil)
	cmd.Write([]byte(plainMsg))
	cmd.Close()
	if _, err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	u2.waitExists(t, 3, pushTimeout)
	stopIdle(t, idle)

	// Not idling: the update waits for the next command (NOOP).
	if err := c1.Store(imap.SeqSetNum(3), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c2.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	u2.nextFetch(t, 3, imap.FlagSeen, "flag change sent after NOOP")

	// c2 selects a folder that c1 deletes: c2 is told BYE.
	if err := c1.Create("Tmp", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Select("Tmp", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle = startIdle(t, c2)
	if err := c1.Delete("Tmp").Wait(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c2.Closed():
	case <-time.After(pushTimeout):
		t.Fatal("connection with a deleted mailbox selected stayed open")
	}
	_ = idle.Close()
}

// Sequence numbers stay right for a connection that has not yet been told
// about another connection's expunge: its FETCH and STORE use its own view.
func TestStaleViewSequenceNumbers(t *testing.T) {
	e := newEnv(t, Options{AllowInsecureAuth: true})
	for i := 1; i <= 3; i++ {
		e.deliver(alice, fmt.Sprintf("Subject: m%d\r\n\r\nx\r\n", i))
	}
	c1, _ := e.selectInbox(alice, nil)
	u2 := newUpdates()
	c2, _ := e.selectInbox(alice, u2)

	// c1 expunges message 1 (UID 1); c2 is not told until it may be.
	if err := c1.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.Expunge().Collect(); err != nil {
		t.Fatal(err)
	}
	// c2's message 3 is still UID 3: FETCH (no EXPUNGE allowed during it)
	// and STORE must act on UID 3, not on UID 3's neighbour.
	msgs, err := c2.Fetch(imap.SeqSetNum(3), &imap.FetchOptions{UID: true}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].UID != 3 {
		t.Fatalf("c2 FETCH 3 = %+v, %v", msgs, err)
	}
	if len(u2.expunges) != 0 {
		t.Fatal("EXPUNGE sent during FETCH")
	}
	if err := c2.Store(imap.SeqSetNum(3), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{"$Mark"}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	infos, _ := e.store.Messages(context.Background(), alice, mailboxID(t, e, alice, "INBOX"), nil)
	for _, in := range infos {
		if marked := slices.Contains(in.Flags, "$Mark"); marked != (in.UID == 3) {
			t.Fatalf("UID %d marked=%v", in.UID, marked)
		}
	}
	// NOOP may carry the EXPUNGE: now message 3 becomes 2.
	if err := c2.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	select {
	case seq := <-u2.expunges:
		if seq != 1 {
			t.Fatalf("EXPUNGE %d", seq)
		}
	case <-time.After(pushTimeout):
		t.Fatal("no EXPUNGE after NOOP")
	}
	msgs, err = c2.Fetch(imap.SeqSetNum(2), &imap.FetchOptions{UID: true}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].UID != 3 {
		t.Fatalf("c2 FETCH 2 after EXPUNGE = %+v, %v", msgs, err)
	}
}

// Restart: close server and store, reopen; UIDVALIDITY is the same and new
// mail gets new UIDs.
func TestRestart(t *testing.T) {
	e := newEnv(t, Options{AllowInsecureAuth: true})
	e.deliver(alice, plainMsg)
	e.deliver(alice, plainMsg)
	c, before := e.selectInbox(alice, nil)
	if err := c.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Expunge().Collect(); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}

	st, err := mailstore.Open(e.path)
	if err != nil {
		t.Fatal(err)
	}
	e.store = st
	e.start(Options{AllowInsecureAuth: true})
	e.deliver(alice, plainMsg)
	c, after := e.selectInbox(alice, nil)
	if after.UIDValidity != before.UIDValidity || after.UIDNext != 4 || after.NumMessages != 2 {
		t.Fatalf("after restart %+v, before %+v", after, before)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(2), &imap.FetchOptions{UID: true}).Collect()
	if err != nil || msgs[0].UID != 3 {
		t.Fatalf("new message UID = %+v, %v (UID 2 must not be reused)", msgs, err)
	}
}

// Close ends idling connections and returns; later Serve calls fail.
func TestServerClose(t *testing.T) {
	e := newEnv(t, Options{AllowInsecureAuth: true})
	c, _ := e.selectInbox(alice, nil)
	_ = startIdle(t, c)
	c2 := e.dial(nil)
	if err := c2.WaitGreeting(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.srv.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	for _, cl := range []*imapclient.Client{c, c2} {
		select {
		case <-cl.Closed():
		case <-time.After(pushTimeout):
			t.Fatal("client still connected after Close")
		}
	}
	if err := e.srv.Serve(nil); err != ErrServerClosed {
		t.Fatalf("Serve after Close = %v", err)
	}
}

// BenchmarkDeliverToIdlePush: store.Deliver (fsynced) until the idling
// client has read the EXISTS.
func BenchmarkDeliverToIdlePush(b *testing.B) {
	e := newEnv(b, Options{AllowInsecureAuth: true})
	u := newUpdates()
	c, _ := e.selectInbox(alice, u)
	idle := startIdle(b, c)
	msg := []byte(plainMsg)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		start := time.Now()
		if err := e.store.Deliver(context.Background(), []string{alice}, msg); err != nil {
			b.Fatal(err)
		}
		select {
		case <-u.exists:
		case <-time.After(pushTimeout):
			b.Fatalf("delivery %d not pushed", i)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	stopIdle(b, idle)
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
