package app_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/thingpost/thingpost/app"
	"github.com/thingpost/thingpost/demo"
	"github.com/thingpost/thingpost/wire"
)

// TestDemoEndToEnd runs the whole person's side against the demo home on
// real sockets: pair with each thing from its QR image, describe,
// commands and replies, an event, invite a second person, revoke, remove.
func TestDemoEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	alice := openApp(t, app.Options{})
	ev := watchEvents(t, alice)
	d := startDemo(t, demo.Options{})
	if _, err := alice.CreateProfile(ctx, "Alice", d.Person.Address, passphrase); err != nil {
		t.Fatal(err)
	}
	if err := alice.SetAccount(ctx, d.Person, false); err != nil {
		t.Fatal(err)
	}
	if _, where, err := alice.AccountSettings(); err != nil || where != app.PasswordEncrypted {
		t.Fatalf("account stored %q, %v; want the encrypted fallback", where, err)
	}
	if err := alice.Start(ctx); err != nil {
		t.Fatal(err)
	}

	things := map[string]app.Thing{}
	for _, dt := range d.Things {
		th, err := alice.PairImage(ctx, dt.QR)
		if err != nil {
			t.Fatalf("pair %s: %v", dt.Kind, err)
		}
		if th.ID != dt.Agent.Identity().Fingerprint().String() || th.Addr != dt.Addr {
			t.Fatalf("paired %s = %+v, want key %s at %s", dt.Kind, th, dt.Agent.Identity().Fingerprint(), dt.Addr)
		}
		if th.Capabilities == nil || th.Kind != dt.Kind || th.Name != dt.Name || len(th.State) == 0 {
			t.Fatalf("%s not described: %+v", dt.Kind, th)
		}
		if th.Role != wire.RoleOwner {
			t.Errorf("%s: role %q, want owner", dt.Kind, th.Role)
		}
		things[dt.Kind] = th
	}
	for _, step := range []app.PairingStep{app.PairRequested, app.PairVerified, app.PairJoined, app.PairDescribed} {
		ev.wait(5*time.Second, "pairing "+string(step), func(e app.Event) bool {
			return e.Kind == app.EventPairing && e.Pairing.Step == step
		})
	}
	if got := len(alice.Things()); got != 3 {
		t.Fatalf("%d things, want 3", got)
	}

	light := things["light"]
	c, err := do(ctx, alice, light.ID, "on")
	if err != nil || c.Status != app.StatusAnswered {
		t.Fatalf("on: %+v %v", c, err)
	}
	if on, _ := d.Thing("light").Agent.Device().Status().State["power"].AsBool(); !on {
		t.Fatal("the lamp is not on")
	}
	if th, _ := alice.Thing(light.ID); !th.State["power"].Equal(wire.BoolValue(true)) {
		t.Errorf("stored state %v", th.State)
	}
	if _, err := do(ctx, alice, light.ID, "set brightness 140"); !errors.Is(err, wire.ErrBadValue) {
		t.Fatalf("out of range: %v, want a local bad value", err)
	}
	if c, err := do(ctx, alice, things["thermostat"].ID, "set target 21.5"); err != nil || !c.Reply.State["target"].Equal(wire.FloatValue(21.5)) {
		t.Fatalf("thermostat: %+v %v", c.Reply, err)
	}

	lock := things["lock"]
	if _, err := do(ctx, alice, lock.ID, "unlock"); err != nil {
		t.Fatal(err)
	}
	if err := d.OpenDoor(); err != nil {
		t.Fatal(err)
	}
	e := ev.wait(20*time.Second, "door-opened event", func(e app.Event) bool {
		return e.Kind == app.EventThingEvent && e.Entry.Event != nil && e.Entry.Event.Kind == "door-opened"
	})
	if e.ThingID != lock.ID || !e.Entry.Verified {
		t.Fatalf("event %+v", e)
	}
	c, err = do(ctx, alice, lock.ID, "lock")
	if !errors.Is(err, app.ErrRefused) || c.Status != app.StatusRefused || !strings.Contains(c.Reply.Reason, "door is open") {
		t.Fatalf("locking an open door: %+v %v", c.Reply, err)
	}
	if th, _ := alice.Thing(lock.ID); !th.State["door"].Equal(wire.StringValue("open")) {
		t.Errorf("lock state after the event: %v", th.State)
	}
	entries, kinds := history(t, alice, lock.ID)
	for _, e := range entries {
		if !e.Verified {
			t.Errorf("unverified entry %+v", e)
		}
	}
	for _, k := range []app.EntryKind{app.EntryCommand, app.EntryReply, app.EntryEvent, app.EntryPaired} {
		if !slices.Contains(kinds, k) {
			t.Errorf("lock history lacks %s: %v", k, kinds)
		}
	}
	if err := d.CloseDoor(); err != nil {
		t.Fatal(err)
	}

	// A second person, invited as a member.
	inv, err := alice.Invite(ctx, light.ID, wire.RoleMember, "")
	if err != nil {
		t.Fatal(err)
	}
	if inv.Role != wire.RoleMember || len(inv.QR) == 0 || !strings.HasPrefix(inv.URL, "https://i.delta.chat/#") {
		t.Fatalf("invite %+v", inv)
	}
	bobAcct, err := d.Home.AddAccount(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	bob := person(t, "Bob", bobAcct, app.Options{})
	bobLight, err := bob.PairImage(ctx, inv.QR)
	if err != nil {
		t.Fatal(err)
	}
	if bobLight.Role != wire.RoleMember {
		t.Errorf("bob's role %q", bobLight.Role)
	}
	if _, err := do(ctx, bob, bobLight.ID, "off"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Users(ctx, bobLight.ID); !errors.Is(err, app.ErrRefused) {
		t.Fatalf("a member listed users: %v", err)
	}
	users, err := alice.Users(ctx, light.ID)
	if err != nil || len(users) != 2 {
		t.Fatalf("users %+v %v", users, err)
	}
	if err := alice.Revoke(ctx, light.ID, bobAcct.Address); err != nil {
		t.Fatal(err)
	}
	// The lamp ignores him: the command expires (in a second, not the
	// default time).
	if c, err = bob.Send(ctx, bobLight.ID, "on", time.Second); err == nil {
		c, err = bob.Wait(ctx, c.ID)
	}
	if !errors.Is(err, app.ErrExpired) || c.Status != app.StatusExpired {
		t.Fatalf("revoked bob: %+v %v", c, err)
	}
	if on, _ := d.Thing("light").Agent.Device().Status().State["power"].AsBool(); on {
		t.Fatal("a revoked person switched the lamp on")
	}
	if th, _ := bob.Thing(bobLight.ID); th.Unanswered != 1 {
		t.Errorf("unanswered %d, want 1", th.Unanswered)
	}

	// Removing asks the thing to let us go: the thermostat is back to its
	// factory state, and its code pairs again.
	if err := alice.Remove(ctx, things["thermostat"].ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Thing(things["thermostat"].ID); !errors.Is(err, app.ErrNotFound) {
		t.Fatalf("removed thing still there: %v", err)
	}
	if _, err := alice.Pair(ctx, d.Thing("thermostat").Invite); err != nil {
		t.Fatalf("pair again after remove: %v", err)
	}
}

// TestTwoHomes pairs a person on one home node with a thing on another
// node of another domain: every message crosses between the nodes.
func TestTwoHomes(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	d, far := twoHomes(t, ctx)
	acct, err := far.AddAccount(ctx, "carol")
	if err != nil {
		t.Fatal(err)
	}
	carol := person(t, "Carol", acct, app.Options{})
	th, err := carol.PairImage(ctx, d.Thing("light").QR)
	if err != nil {
		t.Fatal(err)
	}
	if th.Addr != d.Thing("light").Addr || th.Capabilities == nil {
		t.Fatalf("paired %+v", th)
	}
	if c, err := do(ctx, carol, th.ID, "toggle"); err != nil || c.Reply == nil || !c.Reply.OK {
		t.Fatalf("toggle across homes: %+v %v", c, err)
	}
}

// TestOutboxSurvivesHomeDown sends while the home node is down and again
// across a restart of the app: the command is delivered and answered
// once.
func TestOutboxSurvivesHomeDown(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	dir := t.TempDir()
	d, alice, th := ownerOfLight(t, app.Options{Dir: dir})
	if err := d.Home.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := alice.Send(ctx, th.ID, "on", 0)
	if err != nil {
		t.Fatal(err)
	}
	// The app goes down with the command in its outbox, and comes back.
	time.Sleep(500 * time.Millisecond)
	if got, _ := alice.Command(c.ID); got.Status != app.StatusQueued {
		t.Fatalf("status with the home down: %s", got.Status)
	}
	if err := alice.Close(); err != nil {
		t.Fatal(err)
	}
	alice = openApp(t, app.Options{Dir: dir})
	if err := alice.Unlock(ctx, passphrase); err != nil {
		t.Fatal(err)
	}
	if err := alice.Start(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if err := d.Home.Start(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := alice.Wait(ctx, c.ID)
	if err != nil || got.Status != app.StatusAnswered || got.Attempts != 1 {
		t.Fatalf("after the restart: %+v %v", got, err)
	}
	if on, _ := d.Thing("light").Agent.Device().Status().State["power"].AsBool(); !on {
		t.Fatal("the lamp is not on")
	}
	// Exactly one reply in the history, and nothing more arrives.
	time.Sleep(time.Second)
	if n := repliesTo(t, alice, th.ID, c.ID); n != 1 {
		t.Fatalf("%d replies to the command, want 1", n)
	}
}

// TestStoppedCommandExpiresUnsent: a command queued while the app is
// stopped does not block Wait past its deadline, and once its time is up it
// is never sent.
func TestStoppedCommandExpiresUnsent(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	d, a, th := ownerOfLight(t, app.Options{})
	a.Stop()
	c, err := a.Send(ctx, th.ID, "on", 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := a.Wait(ctx, c.ID); !errors.Is(err, app.ErrNotRunning) || time.Since(start) > 2*time.Second {
		t.Fatalf("wait while stopped: %v after %s", err, time.Since(start))
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := a.Wait(ctx, c.ID)
	if !errors.Is(err, app.ErrExpired) || got.Attempts != 0 || !strings.Contains(got.Error, "not sent in time") {
		t.Fatalf("after start: %+v %v", got, err)
	}
	time.Sleep(500 * time.Millisecond)
	if on, _ := d.Thing("light").Agent.Device().Status().State["power"].AsBool(); on {
		t.Fatal("an expired command was sent and executed")
	}
}
