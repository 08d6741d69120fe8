package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/thingpost/thingpost/app"
	"github.com/thingpost/thingpost/demo"
	"github.com/thingpost/thingpost/wire"
)

// twoHomes starts the demo and another home, far.home.arpa, that delivers
// to and from it.
func twoHomes(t *testing.T, ctx context.Context) (*demo.Demo, *demo.Home) {
	t.Helper()
	d := startDemo(t, demo.Options{})
	far, err := demo.StartHome(ctx, t.TempDir(), "far.home.arpa", nil, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { far.Close(context.Background()) })
	if err := demo.Link(ctx, d.Home, far); err != nil {
		t.Fatal(err)
	}
	return d, far
}

// TestConfirmJoiner: carol, on another home, pairs with the demo light
// through the owner's invite. The light's node cannot check her DKIM
// signature (home.arpa has no DNS), so she waits, marked pending, and the
// thing obeys nothing from her until the owner confirms her.
func TestConfirmJoiner(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	d, far := twoHomes(t, ctx)
	alice := person(t, "Alice", d.Person, app.Options{})
	light, err := alice.PairImage(ctx, d.Thing("light").QR)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := alice.Invite(ctx, light.ID, wire.RoleGuest, "2h")
	if err != nil {
		t.Fatal(err)
	}
	acct, err := far.AddAccount(ctx, "carol")
	if err != nil {
		t.Fatal(err)
	}
	carol := person(t, "Carol", acct, app.Options{})
	th, err := carol.PairImage(ctx, inv.QR)
	if err != nil {
		t.Fatal(err)
	}
	if !th.Pending || th.Role != wire.RoleGuest {
		t.Fatalf("carol's thing before the confirm: role %q, pending %v", th.Role, th.Pending)
	}
	users, err := alice.Users(ctx, light.ID)
	if err != nil || len(users) != 2 || !users[1].Pending || users[1].Addr != acct.Address {
		t.Fatalf("users %+v %v", users, err)
	}
	if c, err := carol.Send(ctx, th.ID, "on", time.Second); err == nil {
		if c, err = carol.Wait(ctx, c.ID); c.Status != app.StatusExpired {
			t.Fatalf("a waiting joiner's command: %+v %v", c, err)
		}
	}

	if err := alice.Confirm(ctx, light.ID, acct.Address); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for th, _ = carol.Thing(th.ID); th.Pending && time.Now().Before(deadline); th, _ = carol.Thing(th.ID) {
		time.Sleep(50 * time.Millisecond)
	}
	if th.Pending || th.Role != wire.RoleGuest || th.RoleExpires.IsZero() {
		t.Fatalf("carol's thing after the confirm: %+v", th)
	}
	if c, err := do(ctx, carol, th.ID, "on"); err != nil || !c.Reply.OK {
		t.Fatalf("confirmed guest: %+v %v", c, err)
	}
	if on, _ := d.Thing("light").Agent.Device().Status().State["power"].AsBool(); !on {
		t.Fatal("the light is off after the confirmed guest's on")
	}
}
