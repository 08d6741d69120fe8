package app_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/thingpost/thingpost/app"
	"github.com/thingpost/thingpost/wire"
)

// TestRunDemoAcrossRestarts: the app owns the demo home RunDemo starts;
// Close stops it, and after a restart Start brings it back by itself.
func TestRunDemoAcrossRestarts(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	a := openApp(t, app.Options{Dir: dir})
	if err := a.DemoOpenDoor(); !errors.Is(err, app.ErrNoDemo) {
		t.Fatalf("door without a demo: %v", err)
	}
	things, err := a.RunDemo(ctx, app.DemoOptions{Name: "Ada", Passphrase: passphrase})
	if err != nil {
		t.Fatal(err)
	}
	if !a.DemoAccount() {
		t.Fatal("the demo's account is not marked as such")
	}
	kinds := map[string]app.DemoThing{}
	for _, dt := range things {
		if code, err := app.DecodeQR(dt.QR); err != nil || code != dt.Invite {
			t.Fatalf("%s: QR says %q, %v; invite %q", dt.Kind, code, err, dt.Invite)
		}
		info, err := app.ParseInvite(dt.Invite)
		if err != nil || info.Fingerprint != dt.Fingerprint || info.Addr != dt.Addr || dt.Paired {
			t.Fatalf("%+v: %+v %v", dt, info, err)
		}
		kinds[dt.Kind] = dt
	}
	if len(kinds) != 3 || kinds["light"].Name != "Desk lamp" {
		t.Fatalf("demo things %+v", things)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	lamp, err := a.PairImage(ctx, kinds["light"].QR)
	if err != nil {
		t.Fatal(err)
	}
	lock, err := a.Pair(ctx, kinds["lock"].Invite)
	if err != nil {
		t.Fatal(err)
	}
	for _, dt := range a.DemoThings() {
		if dt.Paired != (dt.Kind == "light" || dt.Kind == "lock") {
			t.Errorf("%s paired: %v", dt.Kind, dt.Paired)
		}
	}
	// A second RunDemo reuses the running home.
	again, err := a.RunDemo(ctx, app.DemoOptions{})
	if err != nil || len(again) != 3 || again[0].Invite != things[0].Invite {
		t.Fatalf("run again: %+v %v", again, err)
	}
	ev := watchEvents(t, a)
	if _, err := a.Do(ctx, lock.ID, "unlock"); err != nil {
		t.Fatal(err)
	}
	if err := a.DemoOpenDoor(); err != nil {
		t.Fatal(err)
	}
	ev.wait(20*time.Second, "door-opened event", func(e app.Event) bool {
		return e.Kind == app.EventThingEvent && e.ThingID == lock.ID && e.Entry.Event != nil && e.Entry.Event.Kind == "door-opened"
	})
	if err := a.DemoCloseDoor(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Do(ctx, lamp.ID, "on"); err != nil {
		t.Fatal(err)
	}
	acct, _, err := a.AccountSettings()
	if err != nil {
		t.Fatal(err)
	}

	// Close stops the home: nothing listens on its port any more.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", acct.IMAP.HostPort, time.Second); err == nil {
		c.Close()
		t.Fatal("the demo home still runs after Close")
	}

	// The app comes back on the same directory: Start starts the home.
	b := openApp(t, app.Options{Dir: dir})
	if err := b.Unlock(ctx, passphrase); err != nil {
		t.Fatal(err)
	}
	if !b.DemoAccount() || b.DemoThings() != nil {
		t.Fatalf("reopened: demo account %v, things %+v", b.DemoAccount(), b.DemoThings())
	}
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	back := b.DemoThings()
	if len(back) != 3 || back[0].Invite != things[0].Invite || !back[0].Paired {
		t.Fatalf("demo after restart: %+v", back)
	}
	c, err := b.Do(ctx, lamp.ID, "off")
	if err != nil || !c.Reply.State["power"].Equal(wire.BoolValue(false)) {
		t.Fatalf("lamp after restart: %+v %v", c.Reply, err)
	}

	// Another account is not the demo's.
	acctNow, err := b.Account(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.SetAccount(ctx, acctNow, false); err != nil {
		t.Fatal(err)
	}
	if b.DemoAccount() {
		t.Fatal("SetAccount left the demo mark")
	}
}

// TestStartUsesRunningDemo: a demo home another part runs (the caller of
// StartDemo, thingctl demo in another process) is used, not started twice,
// and the app's Close leaves it running.
func TestStartUsesRunningDemo(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	a := openApp(t, app.Options{Dir: dir})
	d, err := a.StartDemo(ctx, app.DemoOptions{Name: "Ada", Passphrase: passphrase})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	if !a.DemoAccount() || a.DemoThings() != nil {
		t.Fatalf("StartDemo: demo account %v, app's own things %+v", a.DemoAccount(), a.DemoThings())
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b := openApp(t, app.Options{Dir: dir})
	if err := b.Unlock(ctx, passphrase); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if b.DemoThings() != nil {
		t.Fatal("Start started a second demo home")
	}
	th, err := b.PairImage(ctx, d.Thing("light").QR)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Do(ctx, th.ID, "on"); err != nil {
		t.Fatal(err)
	}
	if on, _ := d.Thing("light").Agent.Device().Status().State["power"].AsBool(); !on {
		t.Fatal("the caller's lamp is not on")
	}
}
