package app_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/thingpost/thingpost/app"
	"github.com/thingpost/thingpost/demo"
	"github.com/thingpost/thingpost/envelope"
	"github.com/thingpost/thingpost/internal/testutil"
	"github.com/thingpost/thingpost/keystore"
	"github.com/thingpost/thingpost/wire"
)

// deliver puts raw into to's INBOX on the demo home's node, as a mail
// server that takes any sender from anywhere would deliver it. (The node's
// own MX refuses mail from outside that claims one of its addresses; the
// app must hold on servers that do not.)
func deliver(t *testing.T, h *demo.Home, to string, raw []byte) {
	t.Helper()
	if err := h.Node().Store().Deliver(context.Background(), []string{to}, raw); err != nil {
		t.Fatal(err)
	}
}

// sealTo seals a message with the machine form wm from an identity to a
// person's app, as a thing writes its replies and events.
func sealTo(t *testing.T, from *keystore.Identity, a *app.App, wm wire.Message, inReplyTo string) []byte {
	t.Helper()
	return sealAt(t, from, a, wm, inReplyTo, time.Time{})
}

// sealAt is sealTo with the signature and protected Date at date (zero:
// now).
func sealAt(t *testing.T, from *keystore.Identity, a *app.App, wm wire.Message, inReplyTo string, date time.Time) []byte {
	t.Helper()
	armored, err := a.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	to, err := keystore.ImportPublic([]byte(armored))
	if err != nil {
		t.Fatal(err)
	}
	hv, err := wire.Encode(wm)
	if err != nil {
		t.Fatal(err)
	}
	s, err := envelope.Seal(testCtx(t), &envelope.Draft{From: from, To: []*keystore.PublicKey{to}, InReplyTo: inReplyTo, Date: date,
		Headers: []envelope.Field{{Name: wire.HeaderName, Value: hv}}, Text: "The lamp is on."})
	if err != nil {
		t.Fatal(err)
	}
	return s.Raw
}

// forgottenLamp is ownerOfLight, but the lamp forgets Alice (she revokes
// herself), so that it answers her commands no more: only what a test
// makes does. logs is what her app logs.
func forgottenLamp(t *testing.T) (d *demo.Demo, alice *app.App, lamp app.Thing, logs *testutil.SyncBuffer) {
	t.Helper()
	logs = &testutil.SyncBuffer{}
	d, alice, lamp = ownerOfLight(t, app.Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err := alice.Revoke(testCtx(t), lamp.ID, d.Person.Address); err != nil {
		t.Fatal(err)
	}
	return d, alice, lamp, logs
}

// lampIsOn is the lamp's reply to "on", in machine form.
var lampIsOn = wire.Message{Version: wire.Version, Reply: &wire.Reply{OK: true, Text: "The lamp is on.", State: wire.State{"power": wire.BoolValue(true)}}}

// TestInboxDropsUnverified: forged replies and events never reach the
// history, and a command answered only by forgeries expires.
func TestInboxDropsUnverified(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	// Only forgeries will answer Alice's command.
	d, alice, lamp, logs := forgottenLamp(t)
	before, err := alice.History(ctx, lamp.ID, app.HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := alice.Send(ctx, lamp.ID, "on", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	impostor, err := keystore.New(lamp.Addr, "Desk lamp")
	if err != nil {
		t.Fatal(err)
	}
	mallory, err := keystore.New("mallory@"+demo.DefaultDomain, "")
	if err != nil {
		t.Fatal(err)
	}
	event := wire.Message{Version: wire.Version, Event: &wire.Event{Kind: "door-opened", Time: time.Now(), Text: "The door opened."}}
	for _, raw := range [][]byte{
		sealTo(t, impostor, alice, lampIsOn, c.ID), // a key for the lamp's address that is not the lamp's
		sealTo(t, mallory, alice, lampIsOn, c.ID),  // signed by someone else altogether
		sealTo(t, impostor, alice, event, ""),
		[]byte(fmt.Sprintf("From: <%s>\r\nTo: <%s>\r\nSubject: hi\r\nMessage-ID: <plain%d@x>\r\nIn-Reply-To: <%s>\r\n\r\nThe lamp is on.\r\n", lamp.Addr, d.Person.Address, 1, c.ID)),
	} {
		deliver(t, d.Home, d.Person.Address, raw)
	}
	// Every forgery is read before the outcome is looked at: one taken,
	// even after the command expired, would show as a late reply.
	const dropped = "dropped: not verified as from a paired thing"
	waitLogged(t, logs, dropped, 4)
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
	if n := strings.Count(logs.String(), dropped); n != 4 {
		t.Fatalf("%d drops logged, want 4:\n%s", n, logs.String())
	}
}

// TestReplyOnce: the same verified reply delivered twice answers its
// command once: one final command event, one reply in the history; and
// when that event comes, the history already holds the reply.
func TestReplyOnce(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	// Only the reply made here answers.
	d, alice, lamp, logs := forgottenLamp(t)
	ev := watchEvents(t, alice)
	c, err := alice.Send(ctx, lamp.ID, "on", 0)
	if err != nil {
		t.Fatal(err)
	}
	raw := sealTo(t, d.Thing("light").Agent.Identity(), alice, lampIsOn, c.ID)
	deliver(t, d.Home, d.Person.Address, raw)
	got, err := alice.Wait(ctx, c.ID)
	if err != nil || got.Status != app.StatusAnswered {
		t.Fatalf("wait: %+v %v", got, err)
	}
	if th, _ := alice.Thing(lamp.ID); !th.State["power"].Equal(wire.BoolValue(true)) {
		t.Errorf("state right after Wait: %v", th.State)
	}
	ev.wait(5*time.Second, "the answered event", func(e app.Event) bool {
		if e.Kind != app.EventCommand || e.Command.ID != c.ID || !e.Command.Status.Final() {
			return false
		}
		if n := repliesTo(t, alice, lamp.ID, c.ID); n != 1 {
			t.Errorf("%d replies in the history when the event came", n)
		}
		return true
	})
	const seen = "dropped: a thing's message seen before"
	seenBefore := strings.Count(logs.String(), seen)
	deliver(t, d.Home, d.Person.Address, raw)
	// The second copy is read and dropped as seen: nothing more happens.
	waitLogged(t, logs, seen, seenBefore+1)
	for quiet := false; !quiet; {
		select {
		case e := <-ev.ch:
			if e.Kind == app.EventCommand && e.Command.ID == c.ID {
				t.Fatalf("a second event for the command: %+v", e.Command)
			}
		case <-time.After(200 * time.Millisecond):
			quiet = true
		}
	}
	if n := repliesTo(t, alice, lamp.ID, c.ID); n != 1 {
		t.Fatalf("%d replies in the history", n)
	}
}
