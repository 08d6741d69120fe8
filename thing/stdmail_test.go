package thing_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"

	"github.com/thingpost/thingpost/envelope"
	"github.com/thingpost/thingpost/internal/mailserver"
	"github.com/thingpost/thingpost/keystore"
	"github.com/thingpost/thingpost/thing"
	"github.com/thingpost/thingpost/transport"
)

// The tests in this file run the thing on a standard mail server instead of
// homenode: Debian's Postfix (submission, MX, delivery by LMTP) and Dovecot
// (IMAP, the mail store), a private instance on loopback.

// stdUser adds a mailbox to srv.
func stdUser(t testing.TB, srv *mailserver.Server, local string) mailserver.User {
	t.Helper()
	u, err := srv.AddUser(local)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// startStdThing runs a light whose mailbox is on srv, reached over implicit
// TLS with the server's self-signed certificate pinned. Its log goes to rec.
func startStdThing(t *testing.T, srv *mailserver.Server, local string, rec *recorder) (*home, mailserver.User) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	u := stdUser(t, srv, local)
	h := &home{t: t, ctx: ctx, acct: srv.Account(u, transport.SecurityTLS), dir: filepath.Join(t.TempDir(), local), log: slog.New(rec)}
	if _, err := thing.Init(h.dir, u.Address, "Test light"); err != nil {
		t.Fatal(err)
	}
	h.run("light")
	return h, u
}

// sendFromOutside delivers raw to the server's MX as mail from the internet
// arrives: no login, any envelope sender.
func sendFromOutside(t testing.TB, mx, from, to string, raw []byte) {
	t.Helper()
	c, err := smtp.Dial(mx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendMail(from, []string{to}, bytes.NewReader(raw)); err != nil {
		t.Fatalf("deliver from outside: %v", err)
	}
}

// folders reads u's mailbox straight from Dovecot: LIST of every folder,
// STATUS of each, and the Message-IDs (without angle brackets) in it.
func folders(t testing.TB, srv *mailserver.Server, u mailserver.User) map[string][]string {
	t.Helper()
	c, err := imapclient.DialInsecure(srv.IMAP, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(u.Address, u.Password).Wait(); err != nil {
		t.Fatalf("imap login %s: %v", u.Address, err)
	}
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatalf("imap list: %v", err)
	}
	out := map[string][]string{}
	for _, l := range list {
		st, err := c.Status(l.Mailbox, &imap.StatusOptions{NumMessages: true}).Wait()
		if err != nil || st.NumMessages == nil {
			t.Fatalf("imap status %s: %v", l.Mailbox, err)
		}
		ids := []string{}
		if *st.NumMessages > 0 {
			if _, err := c.Select(l.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
				t.Fatalf("imap examine %s: %v", l.Mailbox, err)
			}
			var all imap.SeqSet
			all.AddRange(1, 0)
			msgs, err := c.Fetch(all, &imap.FetchOptions{Envelope: true}).Collect()
			if err != nil {
				t.Fatalf("imap fetch %s: %v", l.Mailbox, err)
			}
			for _, m := range msgs {
				ids = append(ids, strings.Trim(m.Envelope.MessageID, "<>"))
			}
		}
		sort.Strings(ids)
		out[l.Mailbox] = ids
	}
	if err := c.Logout().Wait(); err != nil {
		t.Fatalf("imap logout: %v", err)
	}
	return out
}

// waitFolders polls u's folders on Dovecot until ok holds for them.
func waitFolders(t testing.TB, srv *mailserver.Server, u mailserver.User, what string, ok func(map[string][]string) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		f := folders(t, srv, u)
		if ok(f) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 20s; folders of %s: %v", what, u.Address, f)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func hasAll(ids []string, want ...string) bool {
	for _, w := range want {
		if !slices.Contains(ids, w) {
			return false
		}
	}
	return true
}

// TestStandardMailServer: a light whose mailbox is on Postfix + Dovecot
// (reached over TLS with a pinned self-signed certificate) pairs with a
// person by its factory code, v3 and legacy; the person (STARTTLS, or
// plain on loopback) switches it on and asks its status and gets verified
// replies. A stranger's commands, mailed to Postfix's MX from outside,
// change nothing, get no answer and end up in the Quarantine folder on
// Dovecot; handled mail ends up in the Processed folder, and the inbox is
// left empty.
func TestStandardMailServer(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Postfix + Dovecot and pairs over them, ~15 s; the full suite runs it")
	}
	srv := mailserver.StartForTest(t, "std.test")
	for _, tc := range []struct {
		name string
		v3   bool
		sec  transport.Security
	}{
		{"v3", true, transport.SecuritySTARTTLS},
		{"legacy", false, transport.SecurityPlain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // its own lamp and mailboxes on the shared server
			rec := newRecorder(testLogger(t).Handler())
			h, lamp := startStdThing(t, srv, "lamp-"+tc.name, rec)
			alice := newPersonAt(t, h.ctx, srv.Account(stdUser(t, srv, "alice-"+tc.name), tc.sec), "alice")

			inv, err := h.agent.FactoryInvite()
			if err != nil {
				t.Fatal(err)
			}
			inv.V3 = tc.v3
			if strings.Contains(inv.URL(), "v=3") != tc.v3 {
				t.Fatalf("invite %s: v3 is %v", inv.URL(), tc.v3)
			}
			alice.pair(inv.URL())

			on, r := alice.do("on")
			if !r.OK || !power(t, h.agent) {
				t.Fatalf("on: %+v, text %q", r, on.Text)
			}
			status, r := alice.do("status")
			if p, _ := r.State["power"].AsBool(); !r.OK || !p || !strings.Contains(status.Text, "is on") {
				t.Fatalf("status: %+v, text %q", r, status.Text)
			}
			if status.Signer == nil || status.Signer.Fingerprint() != h.agent.Identity().Fingerprint() {
				t.Fatalf("status reply not signed by the thing: %v", status.Signer)
			}

			// A stranger with his own key and his own mailbox: once as
			// himself, once claiming to be alice. Both reach the thing
			// through the MX.
			malloryBox := stdUser(t, srv, "mallory-"+tc.name)
			mallory, err := keystore.New(malloryBox.Address, "mallory")
			if err != nil {
				t.Fatal(err)
			}
			own, err := envelope.Seal(context.Background(), &envelope.Draft{From: mallory, To: []*keystore.PublicKey{alice.thing}, Text: "off"})
			if err != nil {
				t.Fatal(err)
			}
			sendFromOutside(t, srv.MX, mallory.Addr(), lamp.Address, own.Raw)
			rec.waitLog(t, "quarantined", "unknown signer")
			forged := craft(t, alice.id.Addr(), innerCommand(alice.id.Addr(), lamp.Address, "off", time.Now()), mallory.Entity(), alice.thing.Entity())
			forgedID := messageID(t, forged)
			sendFromOutside(t, srv.MX, alice.id.Addr(), lamp.Address, forged)
			rec.waitLog(t, "quarantined", "cannot be authenticated")

			waitFolders(t, srv, lamp, "stranger's mail in Quarantine, handled mail in Processed, inbox empty", func(f map[string][]string) bool {
				return hasAll(f[thing.DefaultQuarantine], own.MessageID, forgedID) && len(f[thing.DefaultQuarantine]) == 2 &&
					hasAll(f[thing.DefaultProcessed], on.InReplyTo, status.InReplyTo) && len(f["INBOX"]) == 0
			})
			if !power(t, h.agent) {
				t.Fatal("a stranger switched the light off")
			}
			alice.expectNothing(time.Second)
			if f := folders(t, srv, malloryBox); len(f) != 1 || len(f["INBOX"]) != 0 {
				t.Fatalf("the stranger got mail: %v", f)
			}
		})
	}
}

// messageID returns the Message-ID (without angle brackets) of raw.
func messageID(t testing.TB, raw []byte) string {
	t.Helper()
	_, rest, ok := bytes.Cut(raw, []byte("Message-ID: <"))
	id, _, ok2 := bytes.Cut(rest, []byte(">"))
	if !ok || !ok2 {
		t.Fatalf("no Message-ID in %.200s", raw)
	}
	return string(id)
}

// TestDeltaChatOnStandardMailServer: a Delta Chat user whose account is on
// Postfix + Dovecot pairs with a light on the same server by its invite
// link, v3 and legacy, and switches it on and asks its status; the replies
// are shown as encrypted.
func TestDeltaChatOnStandardMailServer(t *testing.T) {
	if testing.Short() {
		t.Skip("pairs the real Delta Chat core over Postfix + Dovecot, ~13 s; the full suite runs it")
	}
	srv := mailserver.StartForTest(t, "std.test")
	for _, v3 := range []bool{true, false} {
		t.Run(map[bool]string{true: "v3", false: "legacy"}[v3], func(t *testing.T) {
			t.Parallel() // its own lamp, mailbox and Delta Chat core on the shared server
			name := fmt.Sprintf("dc%v", v3)
			rec := newRecorder(testLogger(t).Handler())
			h, lamp := startStdThing(t, srv, "lamp-"+name, rec)
			dc := startDeltaChat(t, h.ctx)
			alice := dc.account(srv.Account(stdUser(t, srv, "alice-"+name), transport.SecurityPlain))

			chat, _ := dc.pairOwner(alice, h.agent, v3)
			if m := dc.say(alice, chat, "on", "on"); !m.ShowPadlock || !power(t, h.agent) {
				t.Fatalf("on: %+v, power %v", m, power(t, h.agent))
			}
			if m := dc.say(alice, chat, "status", "The lamp is on"); !m.ShowPadlock {
				t.Fatal("status reply not shown as encrypted")
			}
			waitFolders(t, srv, lamp, "handled mail in Processed", func(f map[string][]string) bool {
				return len(f[thing.DefaultProcessed]) >= 3 && len(f["INBOX"]) == 0
			})

			// A guest: this Postfix writes no Authentication-Results the
			// thing trusts, so he waits for the owner's confirmation.
			m := dc.say(alice, chat, "invite guest 2h", "invite")
			code := inviteURL.FindString(m.Text)
			if !v3 {
				code = strings.Replace(code, "&v=3", "", 1)
			}
			bobBox := stdUser(t, srv, "bob-"+name)
			bob := dc.account(srv.Account(bobBox, transport.SecurityPlain))
			mark := dc.c.Mark()
			bobChat := dc.join(bob, code)
			dc.await(bob, mark, "must confirm you", 30*time.Second)
			dc.await(alice, mark, "confirm "+bobBox.Address, 30*time.Second)
			dc.c.SendText(h.ctx, bob, bobChat, "off")
			rec.waitLog(t, "quarantined", "unknown signer")
			if !power(t, h.agent) {
				t.Fatal("a waiting guest switched the lamp off")
			}
			mark = dc.c.Mark()
			dc.say(alice, chat, "confirm "+bobBox.Address, "is guest now")
			dc.await(bob, mark, "You are my guest", 30*time.Second)
			if m := dc.say(bob, bobChat, "off", "off"); !m.ShowPadlock || power(t, h.agent) {
				t.Fatalf("confirmed guest: %+v, power %v", m, power(t, h.agent))
			}
		})
	}
}
