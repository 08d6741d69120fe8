package app_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/thingpost/thingpost/app"
	"github.com/thingpost/thingpost/demo"
	"github.com/thingpost/thingpost/internal/testutil"
	"github.com/thingpost/thingpost/wire"
)

// TestOldReplayRefused: a genuine reply and event, signed by the lamp and
// shown once, come again from the server long after (more than the 60 days
// the app remembers Message-IDs, and after fresh mail from the lamp). They
// are not shown again.
func TestOldReplayRefused(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	clk := &testutil.Clock{}
	logs := &testutil.SyncBuffer{}
	d, alice, lamp := ownerOfLight(t, app.Options{Logger: slog.New(slog.NewTextHandler(logs, nil)), Now: clk.Now})
	// The lamp forgets Alice: only what the test seals with its key comes.
	if err := alice.Revoke(ctx, lamp.ID, d.Person.Address); err != nil {
		t.Fatal(err)
	}
	lampID := d.Thing("light").Agent.Identity()
	event := func(text string) wire.Message {
		return wire.Message{Version: wire.Version, Event: &wire.Event{Kind: "door-opened", Time: clk.Now(), Text: text}}
	}
	c, err := alice.Send(ctx, lamp.ID, "on", 0)
	if err != nil {
		t.Fatal(err)
	}
	reply := sealAt(t, lampID, alice, lampIsOn, c.ID, clk.Now())
	old := sealAt(t, lampID, alice, event("The door opened."), "", clk.Now())
	deliver(t, d.Home, d.Person.Address, reply)
	deliver(t, d.Home, d.Person.Address, old)
	if got, err := alice.Wait(ctx, c.ID); err != nil || got.Status != app.StatusAnswered {
		t.Fatalf("wait: %+v %v", got, err)
	}
	waitEntries(t, alice, lamp.ID, "The door opened.", 1)

	clk.Advance(61 * 24 * time.Hour)
	// Fresh mail from the lamp is shown (and lets the app forget old
	// Message-IDs).
	deliver(t, d.Home, d.Person.Address, sealAt(t, lampID, alice, event("The door closed."), "", clk.Now()))
	waitEntries(t, alice, lamp.ID, "The door closed.", 1)

	deliver(t, d.Home, d.Person.Address, reply)
	deliver(t, d.Home, d.Person.Address, old)
	waitInboxEmpty(t, d)
	if n := entries(t, alice, lamp.ID, "The door opened."); n != 1 {
		t.Errorf("the old event is %d times in the history", n)
	}
	if n := repliesTo(t, alice, lamp.ID, c.ID); n != 1 {
		t.Errorf("the old reply is %d times in the history", n)
	}
	waitLogged(t, logs, "dropped: a thing's message outside the time window", 2)
}

// waitInboxEmpty waits until the person's INBOX on the demo's node is
// empty: the app has handled (and deleted) everything delivered.
func waitInboxEmpty(t *testing.T, d *demo.Demo) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for len(testutil.Inbox(t, d.Home.Node().Store(), d.Person.Address)) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the app left mail in the INBOX")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// entries counts the history entries of a thing with this text.
func entries(t *testing.T, a *app.App, thingID, text string) int {
	t.Helper()
	es, _ := history(t, a, thingID)
	n := 0
	for _, e := range es {
		if e.Text == text {
			n++
		}
	}
	return n
}

// waitEntries waits until the history holds n entries with text.
func waitEntries(t *testing.T, a *app.App, thingID, text string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for entries(t, a, thingID, text) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d history entries %q, want %d", entries(t, a, thingID, text), text, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
