package app_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/thingpost/thingpost/app"
	"github.com/thingpost/thingpost/transport"
	"github.com/thingpost/thingpost/wire"
)

// relay moves the mail that arrives in one mailbox (from) to another (to)
// by IMAP, in an order it chooses, as a mail server delivering in parallel
// may: a person's app that watches "to" sees that order. order gets the
// messages waiting so far (oldest first, by how many were relayed before)
// and returns how many of them to pass on now, and in which order (indexes
// into waiting).
type relay struct {
	t        *testing.T
	from, to transport.Account
	order    func(relayed int, waiting [][]byte) []int

	mu      sync.Mutex
	relayed int
}

func (r *relay) login(acct transport.Account) *imapclient.Client {
	c, err := imapclient.DialInsecure(acct.IMAP.HostPort, nil)
	if err != nil {
		r.t.Error(err)
		return nil
	}
	user := acct.IMAP.User
	if user == "" {
		user = acct.Address
	}
	pw := acct.IMAP.Password
	if pw == "" {
		pw = acct.Password
	}
	if err := c.Login(user, pw).Wait(); err != nil {
		r.t.Error(err)
		return nil
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		r.t.Error(err)
		return nil
	}
	return c
}

// run relays every 20 ms until ctx ends.
func (r *relay) run(ctx context.Context) {
	src, dst := r.login(r.from), r.login(r.to)
	if src == nil || dst == nil {
		return
	}
	defer src.Close()
	defer dst.Close()
	for ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
		if err := src.Noop().Wait(); err != nil {
			r.t.Error(err)
			return
		}
		if src.Mailbox().NumMessages == 0 {
			continue
		}
		section := &imap.FetchItemBodySection{Peek: true}
		msgs, err := src.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}},
			&imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
		if err != nil {
			r.t.Error(err)
			return
		}
		slices.SortFunc(msgs, func(a, b *imapclient.FetchMessageBuffer) int { return int(a.UID) - int(b.UID) })
		waiting := make([][]byte, len(msgs))
		for i, m := range msgs {
			waiting[i] = m.FindBodySection(section)
		}
		r.mu.Lock()
		pick := r.order(r.relayed, waiting)
		r.mu.Unlock()
		var done imap.UIDSet
		for _, i := range pick {
			raw := waiting[i]
			cmd := dst.Append("INBOX", int64(len(raw)), nil)
			if _, err := cmd.Write(raw); err != nil {
				r.t.Error(err)
				return
			}
			if err := cmd.Close(); err != nil {
				r.t.Error(err)
				return
			}
			if _, err := cmd.Wait(); err != nil {
				r.t.Error(err)
				return
			}
			done.AddNum(msgs[i].UID)
		}
		if len(pick) == 0 {
			continue
		}
		if err := src.Store(done, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
			r.t.Error(err)
			return
		}
		if err := src.UIDExpunge(done).Close(); err != nil {
			r.t.Error(err)
			return
		}
		r.mu.Lock()
		r.relayed += len(pick)
		r.mu.Unlock()
	}
}

// TestPairWelcomeBeforeConfirm: the thing's welcome (with our role in
// machine form) reaches the app before its vc-contact-confirm. The pairing
// completes, and the role comes from the welcome.
func TestPairWelcomeBeforeConfirm(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	d, alice, lamp := ownerOfLight(t, app.Options{})
	inv, err := alice.Invite(ctx, lamp.ID, wire.RoleGuest, "1h")
	if err != nil {
		t.Fatal(err)
	}

	// Bob's app watches a spool mailbox; his own mailbox, where the thing
	// writes to him, is relayed to it with the confirm and the welcome
	// swapped.
	bobAcct, err := d.Home.AddAccount(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	spool, err := d.Home.AddAccount(ctx, "bob-spool")
	if err != nil {
		t.Fatal(err)
	}
	watched := bobAcct
	watched.IMAP.User, watched.IMAP.Password = spool.Address, spool.Password
	r := &relay{t: t, from: bobAcct, to: spool, order: func(relayed int, waiting [][]byte) []int {
		switch {
		case relayed == 0: // the thing's key (vc-auth-required or vc-pubkey)
			return []int{0}
		case relayed == 1 && len(waiting) >= 2: // vc-contact-confirm, then the welcome
			return []int{1, 0}
		case relayed >= 3:
			all := make([]int, len(waiting))
			for i := range all {
				all[i] = i
			}
			return all
		}
		return nil
	}}
	rctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); r.run(rctx) }()
	t.Cleanup(func() { stop(); wg.Wait() })

	bob := person(t, "Bob", watched, app.Options{})
	ev := watchEvents(t, bob)
	th, err := bob.Pair(ctx, inv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if th.Role != wire.RoleGuest || th.RoleExpires.IsZero() {
		t.Fatalf("bob's role %q until %v", th.Role, th.RoleExpires)
	}
	// The welcome is in his history, verified, before the describe reply.
	if _, kinds := history(t, bob, th.ID); !slices.Contains(kinds, app.EntryMessage) || !slices.Contains(kinds, app.EntryPaired) {
		t.Fatalf("history %v", kinds)
	}
	ev.wait(5*time.Second, "the welcome as a message event", func(e app.Event) bool {
		return e.Kind == app.EventThingEvent && e.Entry.Kind == app.EntryMessage && e.Entry.Reply != nil && len(e.Entry.Reply.Users) == 1
	})
	if _, err := do(ctx, bob, th.ID, "on"); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.relayed < 4 {
		t.Fatalf("relayed %d messages", r.relayed)
	}
}
