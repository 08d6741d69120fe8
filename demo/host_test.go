package demo_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/thingpost/thingpost/app"
	"github.com/thingpost/thingpost/demo"
	"github.com/thingpost/thingpost/internal/qr"
	"github.com/thingpost/thingpost/keystore"
	"github.com/thingpost/thingpost/transport"
	"github.com/thingpost/thingpost/wire"
)

var passphrase = []byte("correct horse battery staple")

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// openApp opens an app on dir with the encrypted password fallback (no OS
// keyring in tests) and light key locking.
func openApp(t *testing.T, dir string) *app.App {
	t.Helper()
	a, err := app.Open(app.Options{Dir: dir, Logger: quiet(), Secrets: app.NoKeyring{},
		KDF:   &keystore.KDFParams{Time: 1, MemoryKiB: 8 << 10, Threads: 1},
		Watch: transport.WatchOptions{MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// newHost is a Host for a, closed when the test ends.
func newHost(t *testing.T, a *app.App) *demo.Host {
	h := demo.NewHost(a, quiet())
	t.Cleanup(func() { h.Close() })
	return h
}

// reopen opens the app on dir again, unlocked, with a Host.
func reopen(t *testing.T, dir string) (*app.App, *demo.Host) {
	t.Helper()
	a := openApp(t, dir)
	if err := a.Unlock(testCtx(t), passphrase); err != nil {
		t.Fatal(err)
	}
	return a, newHost(t, a)
}

func paired(a *app.App, th *demo.Thing) bool {
	_, err := a.Thing(th.Fingerprint)
	return err == nil
}

// answering reports whether something listens on addr.
func answering(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// TestHostAcrossRestarts: the Host runs the home Run starts; Close stops
// it, and after a restart of the program Start brings it back by itself.
func TestHostAcrossRestarts(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	a := openApp(t, dir)
	h := newHost(t, a)
	if err := h.OpenDoor(); !errors.Is(err, demo.ErrNotRunning) {
		t.Fatalf("door without a demo: %v", err)
	}
	d, err := h.Run(ctx, demo.RunOptions{Name: "Ada", Passphrase: passphrase})
	if err != nil {
		t.Fatal(err)
	}
	if p, _, _ := a.Profile(); p.Name != "Ada" || p.Addr != "me@"+demo.DefaultDomain {
		t.Fatalf("profile %+v", p)
	}
	things := h.Things()
	kinds := map[string]*demo.Thing{}
	for _, dt := range things {
		if code, err := qr.Decode(dt.QR); err != nil || code != dt.Invite {
			t.Fatalf("%s: QR says %q, %v; invite %q", dt.Kind, code, err, dt.Invite)
		}
		info, err := app.ParseInvite(dt.Invite)
		if err != nil || info.Fingerprint != dt.Fingerprint || info.Addr != dt.Addr || paired(a, dt) {
			t.Fatalf("%+v: %+v %v", dt, info, err)
		}
		kinds[dt.Kind] = dt
	}
	if len(kinds) != 3 || kinds["light"].Name != "Desk lamp" {
		t.Fatalf("demo things %+v", things)
	}
	if err := h.Start(ctx); err != nil {
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
	for _, dt := range h.Things() {
		if paired(a, dt) != (dt.Kind == "light" || dt.Kind == "lock") {
			t.Errorf("%s paired: %v", dt.Kind, paired(a, dt))
		}
	}
	// A second Run returns the running home.
	if again, err := h.Run(ctx, demo.RunOptions{}); err != nil || again != d {
		t.Fatalf("run again: %v", err)
	}
	events, stop := a.Events()
	defer stop()
	if _, err := do(ctx, a, lock.ID, "unlock"); err != nil {
		t.Fatal(err)
	}
	if err := h.OpenDoor(); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, events, "door-opened", func(e app.Event) bool {
		return e.Kind == app.EventThingEvent && e.ThingID == lock.ID && e.Entry.Event != nil && e.Entry.Event.Kind == "door-opened"
	})
	if err := h.CloseDoor(); err != nil {
		t.Fatal(err)
	}
	if _, err := do(ctx, a, lamp.ID, "on"); err != nil {
		t.Fatal(err)
	}
	acct, _, err := a.AccountSettings()
	if err != nil {
		t.Fatal(err)
	}

	// Closing the app leaves the home to the Host; its Close stops it.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if !answering(acct.IMAP.HostPort) {
		t.Fatal("the app's Close stopped the Host's home")
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if answering(acct.IMAP.HostPort) {
		t.Fatal("the demo home still runs after Close")
	}

	// The program comes back on the same directory: Start starts the home.
	b, hb := reopen(t, dir)
	if hb.Things() != nil {
		t.Fatalf("reopened: things %+v before Start", hb.Things())
	}
	if err := hb.Start(ctx); err != nil {
		t.Fatal(err)
	}
	back := hb.Things()
	if len(back) != 3 || back[0].Invite != things[0].Invite || !paired(b, back[0]) {
		t.Fatalf("demo after restart: %+v", back)
	}
	c, err := do(ctx, b, lamp.ID, "off")
	if err != nil || !c.Reply.State["power"].Equal(wire.BoolValue(false)) {
		t.Fatalf("lamp after restart: %+v %v", c.Reply, err)
	}
}

// TestHostOtherAccount: once the person sets another account, the app is
// no longer the demo's: the Host offers no things, and Start does not
// start the home again.
func TestHostOtherAccount(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	a := openApp(t, dir)
	h := newHost(t, a)
	if _, err := h.Run(ctx, demo.RunOptions{Name: "Ada", Passphrase: passphrase}); err != nil {
		t.Fatal(err)
	}
	demoAcct, _, err := a.AccountSettings()
	if err != nil {
		t.Fatal(err)
	}
	home := demoAcct.IMAP.HostPort
	// Nothing listens on port 1: a server the person names, not the demo's.
	other := app.Account{Address: demoAcct.Address, Password: "secret",
		IMAP: app.Server{HostPort: "127.0.0.1:1", Security: app.SecurityPlain},
		SMTP: app.Server{HostPort: "127.0.0.1:1", Security: app.SecurityPlain}}
	if err := a.SetAccount(ctx, other, false); err != nil {
		t.Fatal(err)
	}
	if h.Things() != nil {
		t.Fatal("demo things offered for another account")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}

	_, hb := reopen(t, dir)
	if err := hb.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if hb.Things() != nil || answering(home) {
		t.Fatal("Start started the demo home for another account")
	}
}

// TestStartUsesRunningHome: a demo home another Host runs (thingctl demo
// in another process) is used, not started twice, and closing the app
// that ran it leaves it running.
func TestStartUsesRunningHome(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	a := openApp(t, dir)
	d, err := newHost(t, a).Run(ctx, demo.RunOptions{Name: "Ada", Passphrase: passphrase})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b, hb := reopen(t, dir)
	if err := hb.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if hb.Things() != nil {
		t.Fatal("Start started a second demo home")
	}
	th, err := b.PairImage(ctx, d.Thing("light").QR)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := do(ctx, b, th.ID, "on"); err != nil {
		t.Fatal(err)
	}
	if on, _ := d.Thing("light").Agent.Device().Status().State["power"].AsBool(); !on {
		t.Fatal("the running home's lamp is not on")
	}
}

// do sends text to the thing and waits for the outcome.
func do(ctx context.Context, a *app.App, thingID, text string) (app.Command, error) {
	c, err := a.Send(ctx, thingID, text, 0)
	if err != nil {
		return c, err
	}
	return a.Wait(ctx, c.ID)
}

// waitEvent returns the first event for which ok holds, within 20 s.
func waitEvent(t *testing.T, events <-chan app.Event, what string, ok func(app.Event) bool) {
	t.Helper()
	timer := time.NewTimer(20 * time.Second)
	defer timer.Stop()
	for {
		select {
		case e := <-events:
			if ok(e) {
				return
			}
		case <-timer.C:
			t.Fatalf("no %s event", what)
		}
	}
}
