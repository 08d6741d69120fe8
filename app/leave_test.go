package app_test

import (
	"errors"
	"testing"
	"time"

	"github.com/thingpost/thingpost/app"
	"github.com/thingpost/thingpost/demo"
	"github.com/thingpost/thingpost/wire"
)

// invited pairs a new person on the demo home with an invite Alice asks
// the thing for.
func invited(t *testing.T, d *demo.Demo, alice *app.App, thingID, local string, role wire.Role, roleFor string, opts app.Options) (*app.App, app.Thing) {
	t.Helper()
	ctx := testCtx(t)
	inv, err := alice.Invite(ctx, thingID, role, roleFor)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := d.Home.AddAccount(ctx, local)
	if err != nil {
		t.Fatal(err)
	}
	p := person(t, local, acct, opts)
	th, err := p.Pair(ctx, inv.URL)
	if err != nil {
		t.Fatalf("%s pairs: %v", local, err)
	}
	return p, th
}

// userOf finds a person in the thing's list of users.
func userOf(users []wire.User, fpr string) (wire.User, bool) {
	for _, u := range users {
		if u.Fingerprint == fpr {
			return u, true
		}
	}
	return wire.User{}, false
}

// TestRoleFromWelcome: the role and its end come from the machine form of
// the thing's welcome, to the nanosecond the thing keeps (its text says
// only the minute).
func TestRoleFromWelcome(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	d, alice, light := ownerOfLight(t, app.Options{})
	bob, bobLight := invited(t, d, alice, light.ID, "bob", wire.RoleGuest, "1h", app.Options{})
	users, err := alice.Users(ctx, light.ID)
	if err != nil {
		t.Fatal(err)
	}
	p, _, _ := bob.Profile()
	u, ok := userOf(users, p.Fingerprint)
	if !ok || u.Expires.IsZero() {
		t.Fatalf("bob not a guest with an end: %+v", users)
	}
	if bobLight.Role != wire.RoleGuest || !bobLight.RoleExpires.Equal(u.Expires) {
		t.Fatalf("bob's role %q until %v; the thing says %q until %v", bobLight.Role, bobLight.RoleExpires, u.Role, u.Expires)
	}
}

// TestRemoveLeaves: a member's Remove sends "leave" and waits for the
// answer; the thing no longer lists him, and he forgets the thing.
func TestRemoveLeaves(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	d, alice, light := ownerOfLight(t, app.Options{})
	bob, bobLight := invited(t, d, alice, light.ID, "bob", wire.RoleMember, "", app.Options{})
	if bobLight.Role != wire.RoleMember {
		t.Fatalf("bob's role %q", bobLight.Role)
	}
	p, _, _ := bob.Profile()
	if users, err := alice.Users(ctx, light.ID); err != nil || len(users) != 2 {
		t.Fatalf("users before: %+v %v", users, err)
	}
	ev := watchEvents(t, bob)
	if err := bob.Remove(ctx, bobLight.ID, false); err != nil {
		t.Fatal(err)
	}
	// The answer came before the thing was forgotten.
	var left bool
	ev.wait(5*time.Second, "thing removed", func(e app.Event) bool {
		if e.Kind == app.EventCommand && e.Command.Command.Name == "leave" && e.Command.Status == app.StatusAnswered {
			left = true
		}
		return e.Kind == app.EventThingRemoved
	})
	if !left {
		t.Error("removed before the thing answered leave")
	}
	if _, err := bob.Thing(bobLight.ID); !errors.Is(err, app.ErrNotFound) {
		t.Fatalf("bob still has the thing: %v", err)
	}
	users, err := alice.Users(ctx, light.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, still := userOf(users, p.Fingerprint); still || len(users) != 1 {
		t.Fatalf("users after bob left: %+v", users)
	}
	// Alice is still the owner, and the lamp still obeys her.
	if _, err := do(ctx, alice, light.ID, "on"); err != nil {
		t.Fatal(err)
	}
}

// TestRemoveUnanswered: when the thing cannot answer, Remove keeps it;
// with force it forgets it anyway.
func TestRemoveUnanswered(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	d, alice, light := ownerOfLight(t, app.Options{})
	// Bob's "leave" cannot be sent: it expires in half a second.
	bob, bobLight := invited(t, d, alice, light.ID, "bob", wire.RoleMember, "", app.Options{CommandTimeout: 500 * time.Millisecond})
	if err := d.Home.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := bob.Remove(ctx, bobLight.ID, false); !errors.Is(err, app.ErrExpired) {
		t.Fatalf("remove with the home down: %v", err)
	}
	if _, err := bob.Thing(bobLight.ID); err != nil {
		t.Fatalf("an unanswered remove dropped the thing: %v", err)
	}
	if err := bob.Remove(ctx, bobLight.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Thing(bobLight.ID); !errors.Is(err, app.ErrNotFound) {
		t.Fatalf("forced remove kept the thing: %v", err)
	}
	if err := d.Home.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// Bob never reached the thing: it still lists him.
	p, _, _ := bob.Profile()
	users, err := alice.Users(ctx, light.ID)
	if _, ok := userOf(users, p.Fingerprint); err != nil || !ok {
		t.Fatalf("users %+v %v", users, err)
	}
}

// TestRemoveExpiredGuest: a guest whose time is up forgets the thing at
// once, without asking it (it ignores him already).
func TestRemoveExpiredGuest(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	d, alice, light := ownerOfLight(t, app.Options{})
	dir := t.TempDir()
	bob, bobLight := invited(t, d, alice, light.ID, "bob", wire.RoleGuest, "1h", app.Options{Dir: dir})
	p, _, _ := bob.Profile()
	bob.Close()
	// Two hours later.
	later := openApp(t, app.Options{Dir: dir, Now: func() time.Time { return time.Now().Add(2 * time.Hour) }})
	if err := later.Unlock(ctx, passphrase); err != nil {
		t.Fatal(err)
	}
	if err := later.Start(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := later.Remove(ctx, bobLight.ID, false); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("remove took %s", took)
	}
	if _, err := later.Thing(bobLight.ID); !errors.Is(err, app.ErrNotFound) {
		t.Fatalf("kept: %v", err)
	}
	// Nothing was sent: the thing still lists the (expired) guest.
	users, err := alice.Users(ctx, light.ID)
	if _, ok := userOf(users, p.Fingerprint); err != nil || !ok {
		t.Fatalf("users %+v %v", users, err)
	}
}
