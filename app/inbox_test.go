package app_test

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/thingpost/thingpost/internal/testutil"

	"github.com/emersion/go-smtp"

	"github.com/thingpost/thingpost/app"
	"github.com/thingpost/thingpost/demo"
	"github.com/thingpost/thingpost/envelope"
	"github.com/thingpost/thingpost/keystore"
	"github.com/thingpost/thingpost/wire"
)

// deliver hands raw to the home's MX, as any mail server on the Internet
// could.
func deliver(t *testing.T, mx, from, to string, raw []byte) {
	t.Helper()
	c, err := smtp.Dial(mx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail(from, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt(to, nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestInboxDropsUnverified: forged replies and events never reach the
// history, and a command answered only by forgeries expires.
func TestInboxDropsUnverified(t *testing.T) {
	ctx := testCtx(t)
	d := startDemo(t, demo.Options{})
	var logs testutil.SyncBuffer
	alice := person(t, "Alice", d.Person, app.Options{CommandTimeout: 4 * time.Second,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	lamp, err := alice.PairImage(ctx, d.Thing("light").QR)
	if err != nil {
		t.Fatal(err)
	}
	before, err := alice.History(ctx, lamp.ID, app.HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}

	// The lamp forgets alice (she revokes herself), so it will not answer
	// her next command: only forgeries will.
	if err := alice.Revoke(ctx, lamp.ID, d.Person.Address); err != nil {
		t.Fatal(err)
	}
	before, err = alice.History(ctx, lamp.ID, app.HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := alice.Send(ctx, lamp.ID, "on", 0)
	if err != nil {
		t.Fatal(err)
	}
	aliceKey, err := keystore.ImportKeydata(mustPublic(t, alice))
	if err != nil {
		t.Fatal(err)
	}
	forge := func(from *keystore.Identity, wm wire.Message, inReplyTo string) []byte {
		hv, err := wire.Encode(wm)
		if err != nil {
			t.Fatal(err)
		}
		s, err := envelope.Seal(ctx, &envelope.Draft{From: from, To: []*keystore.PublicKey{aliceKey}, InReplyTo: inReplyTo,
			Headers: []envelope.Field{{Name: wire.HeaderName, Value: hv}}, Text: "The lamp is on."})
		if err != nil {
			t.Fatal(err)
		}
		return s.Raw
	}
	impostor, err := keystore.New(lamp.Addr, "Desk lamp")
	if err != nil {
		t.Fatal(err)
	}
	mallory, err := keystore.New("mallory@"+demo.DefaultDomain, "")
	if err != nil {
		t.Fatal(err)
	}
	reply := wire.Message{Version: wire.Version, Reply: &wire.Reply{OK: true, Text: "The lamp is on.", State: wire.State{"power": wire.BoolValue(true)}}}
	event := wire.Message{Version: wire.Version, Event: &wire.Event{Kind: "door-opened", Time: time.Now(), Text: "The door opened."}}
	mx := d.Home.SMTPAddr()
	for _, raw := range [][]byte{
		forge(impostor, reply, c.ID), // a key for the lamp's address that is not the lamp's
		forge(mallory, reply, c.ID),  // signed by someone else altogether
		forge(impostor, event, ""),
		[]byte(fmt.Sprintf("From: <%s>\r\nTo: <%s>\r\nSubject: hi\r\nMessage-ID: <plain%d@x>\r\nIn-Reply-To: <%s>\r\n\r\nThe lamp is on.\r\n", lamp.Addr, d.Person.Address, 1, c.ID)),
	} {
		deliver(t, mx, "x@elsewhere.example", d.Person.Address, raw)
	}
	got, err := alice.Wait(ctx, c.ID)
	if !errors.Is(err, app.ErrExpired) || got.Reply != nil {
		t.Fatalf("a forged reply answered the command: %+v %v", got, err)
	}
	after, err := alice.History(ctx, lamp.ID, app.HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Entries) != len(before.Entries)+1 || after.Entries[0].Kind != app.EntryCommand {
		t.Fatalf("history grew by %d entries, want only the command: %+v", len(after.Entries)-len(before.Entries), after.Entries[0])
	}
	if th, _ := alice.Thing(lamp.ID); th.State["power"].Equal(wire.BoolValue(true)) {
		t.Fatal("a forged state was stored")
	}
	if n := strings.Count(logs.String(), "dropped: not verified as from a paired thing"); n != 4 {
		t.Fatalf("%d drops logged, want 4:\n%s", n, logs.String())
	}
}

func mustPublic(t *testing.T, a *app.App) string {
	t.Helper()
	armored, err := a.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	k, err := keystore.ImportPublic([]byte(armored))
	if err != nil {
		t.Fatal(err)
	}
	return k.Keydata()
}

// TestReplyOnce: the same verified reply delivered twice answers its
// command once: one final command event, one reply in the history; and
// when that event comes, the history already holds the reply.
func TestReplyOnce(t *testing.T) {
	ctx := testCtx(t)
	d := startDemo(t, demo.Options{})
	alice := person(t, "Alice", d.Person, app.Options{})
	lamp, err := alice.PairImage(ctx, d.Thing("light").QR)
	if err != nil {
		t.Fatal(err)
	}
	// The lamp forgets alice, so that only the reply made here answers.
	if err := alice.Revoke(ctx, lamp.ID, d.Person.Address); err != nil {
		t.Fatal(err)
	}
	ev := watchEvents(t, alice)
	c, err := alice.Send(ctx, lamp.ID, "on", 0)
	if err != nil {
		t.Fatal(err)
	}
	aliceKey, err := keystore.ImportKeydata(mustPublic(t, alice))
	if err != nil {
		t.Fatal(err)
	}
	hv, err := wire.Encode(wire.Message{Version: wire.Version, Reply: &wire.Reply{OK: true, Text: "The lamp is on.",
		State: wire.State{"power": wire.BoolValue(true)}}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := envelope.Seal(ctx, &envelope.Draft{From: d.Thing("light").Agent.Identity(), To: []*keystore.PublicKey{aliceKey},
		InReplyTo: c.ID, Headers: []envelope.Field{{Name: wire.HeaderName, Value: hv}}, Text: "The lamp is on."})
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, d.Home.SMTPAddr(), lamp.Addr, d.Person.Address, s.Raw)
	got, err := alice.Wait(ctx, c.ID)
	if err != nil || got.Status != app.StatusAnswered {
		t.Fatalf("wait: %+v %v", got, err)
	}
	if th, _ := alice.Thing(lamp.ID); !th.State["power"].Equal(wire.BoolValue(true)) {
		t.Errorf("state right after Wait: %v", th.State)
	}
	replies := func() int {
		page, err := alice.History(ctx, lamp.ID, app.HistoryQuery{Kinds: []app.EntryKind{app.EntryReply}})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range page.Entries {
			if e.CommandID == c.ID {
				n++
			}
		}
		return n
	}
	ev.wait(5*time.Second, "the answered event", func(e app.Event) bool {
		if e.Kind != app.EventCommand || e.Command.ID != c.ID || !e.Command.Status.Final() {
			return false
		}
		if n := replies(); n != 1 {
			t.Errorf("%d replies in the history when the event came", n)
		}
		return true
	})
	deliver(t, d.Home.SMTPAddr(), lamp.Addr, d.Person.Address, s.Raw)
	// The second copy is read and dropped as seen: nothing more happens.
	deadline := time.After(2 * time.Second)
	for done := false; !done; {
		select {
		case e := <-ev.ch:
			if e.Kind == app.EventCommand && e.Command.ID == c.ID {
				t.Fatalf("a second event for the command: %+v", e.Command)
			}
		case <-deadline:
			done = true
		}
	}
	if n := replies(); n != 1 {
		t.Fatalf("%d replies in the history", n)
	}
}
