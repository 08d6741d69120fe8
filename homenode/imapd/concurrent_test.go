package imapd

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// Several connections fetch, flag, expunge and move while mail is
// delivered. imapclient counts messages from our EXISTS and EXPUNGE
// responses, so one mis-numbered response leaves a client's count or UID
// list different from the store's. Run with -race.
func TestConcurrentClients(t *testing.T) {
	e := newEnv(t, Options{AllowInsecureAuth: true})
	const clients, rounds, deliveries = 3, 25, 60
	if err := e.store.CreateMailbox(context.Background(), alice, "Old"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 30; i++ {
		e.deliver(alice, fmt.Sprintf("Subject: before %d\r\n\r\nx\r\n", i))
	}
	var cs []*imapclient.Client
	for i := 0; i < clients; i++ {
		c, _ := e.selectInbox(alice, nil)
		cs = append(cs, c)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < deliveries; i++ {
			if err := e.store.Deliver(context.Background(), []string{alice}, fmt.Appendf(nil, "Subject: %d\r\n\r\nx\r\n", i)); err != nil {
				errs <- err
				return
			}
		}
	}()
	for ci, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true}).Collect()
				if err != nil {
					errs <- fmt.Errorf("client %d FETCH: %w", ci, err)
					return
				}
				if len(msgs) == 0 {
					continue
				}
				pick := msgs[(r*7+ci)%len(msgs)]
				switch r % 3 {
				case 0:
					err = c.Store(imap.UIDSetNum(pick.UID), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close()
					if err == nil {
						_, err = c.Expunge().Collect()
					}
				case 1:
					_, err = c.Move(imap.UIDSetNum(pick.UID), "Old").Wait()
				default:
					err = c.Store(imap.SeqSetNum(pick.SeqNum), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close()
				}
				if err != nil {
					errs <- fmt.Errorf("client %d round %d: %w", ci, r, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	infos, err := e.store.Messages(context.Background(), alice, mailboxID(t, e, alice, "INBOX"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var want []imap.UID
	for _, in := range infos {
		want = append(want, imap.UID(in.UID))
	}
	for i, c := range cs {
		if err := c.Noop().Wait(); err != nil {
			t.Fatal(err)
		}
		if n := c.Mailbox().NumMessages; n != uint32(len(want)) {
			t.Errorf("client %d counts %d messages, store has %d", i, n, len(want))
		}
		msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true}).Collect()
		if err != nil {
			t.Fatal(err)
		}
		var got []imap.UID
		for j, m := range msgs {
			if m.SeqNum != uint32(j+1) {
				t.Errorf("client %d: message %d has sequence number %d", i, j+1, m.SeqNum)
			}
			got = append(got, m.UID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("client %d sees UIDs %v, store has %v", i, got, want)
		}
	}
}
