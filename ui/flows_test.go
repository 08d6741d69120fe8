package ui

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/thingpost/thingpost/app"
	"github.com/thingpost/thingpost/demo"
	"github.com/thingpost/thingpost/internal/qr"
	"github.com/thingpost/thingpost/wire"
)

// TestLockEventsAndRefusal: an event from a thing becomes a notification
// and a verified history line; a command the thing refuses shows as
// refused, with its reason, on the screen and in the history. It is the
// package's end-to-end test that -short runs.
func TestLockEventsAndRefusal(t *testing.T) {
	h := newHarness(t)
	u := h.u
	h.startDemo("Ada", "correct horse battery")
	lock := h.pairDemo("Front door")
	card := u.home.cards[lock]
	lb, ok := card.ctrl.(*lockButton)
	if !ok {
		t.Fatalf("lock card control is %T, want the lock button", card.ctrl)
	}
	if lb.b.Text != "Unlock" {
		t.Fatalf("lock button says %q on a locked door", lb.b.Text)
	}
	h.tap(lb.b)
	h.waitFor("unlocked", time.Minute, func() bool { l, _ := u.things[lock].State["locked"].AsBool(); return !l })
	if lb := u.home.cards[lock].ctrl.(*lockButton); lb.b.Text != "Lock" || lb.b.Disabled() {
		t.Errorf("after unlocking the button says %q (disabled %v)", lb.b.Text, lb.b.Disabled())
	}

	// Someone opens the door: the lock tells us.
	test.AssertNotificationSent(t, fyne.NewNotification("Front door", "The door opened."), func() {
		u.showDemo()
		h.tap(h.button("Open the door"))
		h.waitFor("the door-opened event", time.Minute, func() bool {
			d, _ := u.things[lock].State["door"].AsString()
			return d == "open"
		})
	})
	u.backToRoot()
	if got := u.home.cards[lock].summary.Text; got != "Unlocked · door open" {
		t.Errorf("lock card %q", got)
	}

	// Locking an open door is refused by the lock, with its reason.
	h.tap(u.home.cards[lock].ctrl.(*lockButton).b)
	h.waitFor("the refusal", time.Minute, func() bool {
		c, ok := u.lastCommand(lock)
		return ok && c.Status == app.StatusRefused
	})
	c, _ := u.lastCommand(lock)
	if c.Reply == nil || c.Reply.Reason == "" {
		t.Fatalf("refusal without a reason: %+v", c)
	}
	if !strings.Contains(u.toast.label.Text, "refused") || !strings.Contains(u.toast.label.Text, c.Reply.Reason) {
		t.Errorf("message %q does not say it was refused and why (%q)", u.toast.label.Text, c.Reply.Reason)
	}
	if lb := u.home.cards[lock].ctrl.(*lockButton); lb.b.Text != "Lock" || lb.b.Disabled() {
		t.Errorf("after the refusal the button says %q (disabled %v), want Lock again", lb.b.Text, lb.b.Disabled())
	}
	u.showThing(lock)
	h.commandInHistory(app.StatusRefused)
	if !strings.Contains(u.open.last.Text, "refused") {
		t.Errorf("status line %q", u.open.last.Text)
	}
	var sawEvent bool
	for _, e := range u.open.history.entries {
		if e.Kind == app.EntryEvent && e.Verified && e.Event != nil && e.Event.Kind == "door-opened" {
			sawEvent = true
		}
	}
	if !sawEvent {
		t.Error("the door-opened event is not in the history as verified")
	}
}

// TestRestartWithDemo: the app closes and starts again on the same data
// directory: it asks for the passphrase (and says when it is wrong),
// restarts the demo home, and the lamp paired before still obeys.
func TestRestartWithDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a demo home twice; skipped with -short")
	}
	fa := test.NewTempApp(t)
	dir := t.TempDir()
	h := newHarnessIn(t, fa, dir)
	h.startDemo("Ada", "correct horse battery")
	lamp := h.pairDemo("Desk lamp")
	h.close()

	h = newHarnessIn(t, fa, dir)
	u := h.u
	h.waitFor("the unlock screen", 10*time.Second, func() bool { return len(h.buttons("Unlock")) == 1 })
	if !strings.Contains(h.texts(), "Welcome back, Ada") {
		t.Errorf("unlock screen: %s", h.texts())
	}
	pass := h.entries()[0]
	pass.SetText("wrong horse")
	h.tap(h.button("Unlock"))
	h.waitFor("the refusal", 10*time.Second, func() bool { return strings.Contains(h.texts(), "Wrong passphrase.") })
	if pass.Text != "" {
		t.Error("the wrong passphrase stays in the field")
	}
	pass.SetText("correct horse battery")
	h.tap(h.button("Unlock"))
	h.waitFor("home with the lamp, connected", time.Minute, func() bool {
		return u.home != nil && u.home.cards[lamp] != nil && u.demo != nil && u.started && u.conn.State == app.ConnIdle
	})
	test.Tap(u.home.cards[lamp].ctrl.(*switchControl).sw)
	h.waitFor("the lamp's answer after the restart", time.Minute, func() bool {
		on, _ := u.things[lamp].State["power"].AsBool()
		return on
	})
}

// TestAccountCheck: a mail account that cannot be reached is not stored,
// and the message says what to fix.
func TestAccountCheck(t *testing.T) {
	h := newHarness(t)
	u := h.u
	h.createIdentity("ada@example.org")
	h.waitFor("the account form", 20*time.Second, func() bool { return h.title() == "Mail account" })

	// A port on this computer where nothing listens.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	var selects []*widget.Select
	visit(h.content(), func(o fyne.CanvasObject) {
		if s, ok := o.(*widget.Select); ok {
			selects = append(selects, s)
		}
	})
	if len(selects) != 2 {
		t.Fatalf("%d security choices, want IMAP and SMTP", len(selects))
	}
	es := h.entries()
	// address, password, IMAP host, port, SMTP host, port, user, pin, code
	if len(es) != 9 {
		t.Fatalf("%d entries on the account form", len(es))
	}
	es[1].SetText("secret")
	for _, s := range selects {
		s.SetSelected(secPlain)
	}
	es[2].SetText("127.0.0.1")
	es[3].SetText(fmt.Sprint(port))
	es[4].SetText("127.0.0.1")
	es[5].SetText(fmt.Sprint(port))
	h.tap(h.button("Check and connect"))
	h.waitFor("the check's answer", 30*time.Second, func() bool { return strings.Contains(h.texts(), "Nothing answers on that port") })
	if _, _, err := u.core.AccountSettings(); err == nil {
		t.Error("the failed account was stored")
	}

	// Plain text to another host is refused before anything is sent.
	es[2].SetText("mail.example.org")
	h.tap(h.button("Check and connect"))
	h.waitFor("the refusal", 30*time.Second, func() bool { return strings.Contains(h.texts(), "only allowed to this computer") })
}

// TestIdentityErrors: a mail address with a name around it is refused
// with what to write instead, and a wrong current passphrase does not
// change the passphrase and says so (both decided by app's sentinels).
func TestIdentityErrors(t *testing.T) {
	h := newHarness(t)
	u := h.u
	es := h.createIdentity("Ada <ada@example.org>")
	h.waitFor("the refusal", 20*time.Second, func() bool { return strings.Contains(h.texts(), "Write the mail address alone") })
	if _, found, _ := u.core.Profile(); found {
		t.Fatal("a profile was made for a bad address")
	}
	es[1].SetText("ada@example.org")
	h.tap(h.button("Create"))
	h.waitFor("the account form", 20*time.Second, func() bool { return h.title() == "Mail account" })

	u.showSettings()
	h.loop.drain()
	h.tap(h.button("Change passphrase"))
	var fields []*widget.Entry
	visit(h.w.Canvas().Overlays().Top(), func(o fyne.CanvasObject) {
		if e, ok := o.(*widget.Entry); ok {
			fields = append(fields, e)
		}
	})
	if len(fields) != 3 {
		t.Fatalf("%d fields in the passphrase dialog, want current, new, repeat", len(fields))
	}
	fields[0].SetText("not my passphrase")
	fields[1].SetText("another good one")
	fields[2].SetText("another good one")
	h.tap(h.overlayButton("Change"))
	h.waitFor("the refusal", 20*time.Second, func() bool {
		return strings.Contains(strings.ToLower(h.overlayTexts()), "the current passphrase is not right")
	})
	if err := u.core.ChangePassphrase(context.Background(), []byte("correct horse battery"), []byte("correct horse battery")); err != nil {
		t.Errorf("the old passphrase no longer works after a refused change: %v", err)
	}
}

// TestMyCode: the My code screen shows the person's name, address and
// key fingerprint, and its picture is the contact code, which scanning
// tells apart from a thing's invite.
func TestMyCode(t *testing.T) {
	h := newHarness(t)
	u := h.u
	h.waitFor("the welcome screen", 10*time.Second, func() bool { return len(h.buttons("Create my identity")) == 1 })
	p, err := u.core.CreateProfile(context.Background(), "Ada Lovelace", "ada@example.org", []byte("correct horse battery"))
	if err != nil {
		t.Fatal(err)
	}
	u.showMyCode()
	h.waitFor("the code", 20*time.Second, func() bool { return !h.button("Copy the code").Disabled() })
	for _, want := range []string{"Ada Lovelace", "ada@example.org", fingerprintGroups(p.Fingerprint)} {
		if !strings.Contains(h.texts(), want) {
			t.Errorf("My code lacks %q: %s", want, h.texts())
		}
	}
	var png []byte
	visit(h.content(), func(o fyne.CanvasObject) {
		if img, ok := o.(*canvas.Image); ok && img.Resource != nil && img.Resource.Name() == "my-code.png" {
			png = img.Resource.Content()
		}
	})
	text, err := qr.Decode(png)
	if err != nil {
		t.Fatalf("the picture: %v", err)
	}
	if !strings.HasPrefix(text, "OPENPGP4FPR:"+p.Fingerprint) {
		t.Errorf("the picture reads %q, want the contact code of %s", text, p.Fingerprint)
	}
	if _, err := app.ParseInvite(text); !errors.Is(err, app.ErrContactCode) {
		t.Errorf("scanning my own code: %v, want ErrContactCode", err)
	}
	h.tap(h.button("Copy the code"))
	if got := h.app.Clipboard().Content(); got != text {
		t.Errorf("clipboard %q, want the code %q", got, text)
	}
}

// overlayButton finds a button in the topmost dialog.
func (h *harness) overlayButton(prefix string) *widget.Button {
	h.t.Helper()
	var found *widget.Button
	top := h.w.Canvas().Overlays().Top()
	visit(top, func(o fyne.CanvasObject) {
		if b, ok := o.(*widget.Button); ok && found == nil && strings.HasPrefix(b.Text, prefix) {
			found = b
		}
	})
	if found == nil {
		h.t.Fatalf("no button %q in the dialog", prefix)
	}
	return found
}

// overlayTexts is the text of the labels in the topmost dialog.
func (h *harness) overlayTexts() string {
	var b strings.Builder
	visit(h.w.Canvas().Overlays().Top(), func(o fyne.CanvasObject) {
		if l, ok := o.(*widget.Label); ok {
			b.WriteString(l.Text + " | ")
		}
	})
	return b.String()
}

// TestOwnerTools: as the owner, see who may use the thing, get an invite
// code for someone, rename the thing, and remove it (which returns a demo
// thing to its factory state, so its code works again).
func TestOwnerTools(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a demo home; skipped with -short")
	}
	h := newHarness(t)
	u := h.u
	h.startDemo("Ada", "correct horse battery")
	lamp := h.pairDemo("Desk lamp")
	u.showThing(lamp)
	h.loop.drain()
	if u.open.people == nil {
		t.Fatal("no people section for the owner")
	}

	h.tap(h.button("Show people"))
	h.waitFor("the list of people", time.Minute, func() bool { return strings.Contains(h.texts(), "(you)") })
	if !strings.Contains(h.texts(), "owner") {
		t.Errorf("people: %s", h.texts())
	}
	// A joiner the thing could not vouch for waits for the owner: his row
	// says so and offers Confirm and Refuse (rendered from a list as the
	// thing sends it; TestConfirmJoiner in app runs the real handshake).
	me, _, _ := u.core.Profile()
	if fyne.CurrentDevice().IsMobile() {
		h.w.Resize(fyne.NewSize(360, 800))
	}
	u.open.people.show([]wire.User{
		{Addr: me.Addr, Fingerprint: me.Fingerprint, Role: wire.RoleOwner},
		{Addr: "carol@far.example", Fingerprint: strings.Repeat("AB12", 10), Role: wire.RoleGuest, Expires: time.Now().Add(2 * time.Hour), Pending: true},
	})
	h.loop.drain()
	if len(h.buttons("Confirm")) != 1 || len(h.buttons("Refuse")) != 1 || !strings.Contains(h.texts(), "waits for you") {
		t.Errorf("a pending joiner's row: %s", h.texts())
	}
	h.scrollTo(u.open.people.box)
	h.snapshot("people-pending")

	h.tap(h.button("Invite someone"))
	h.tap(h.overlayButton("Get a code"))
	h.waitFor("the invite code", time.Minute, func() bool { return strings.Contains(h.overlayTexts(), "https://i.delta.chat/#") })
	if !strings.Contains(h.overlayTexts(), "They become member") {
		t.Errorf("invite dialog: %s", h.overlayTexts())
	}
	h.tap(h.overlayButton("Done"))

	h.tab("Manage")
	var rename *widget.Entry
	for _, e := range h.entries() {
		if e.Text == "Desk lamp" {
			rename = e
		}
	}
	if rename == nil {
		t.Fatal("no rename field holding the name")
	}
	rename.SetText("Reading lamp")
	h.tap(h.button("Rename"))
	h.waitFor("the new name", 10*time.Second, func() bool { return h.title() == "Reading lamp" })
	u.backToRoot()
	if got := u.home.cards[lamp].name.Text; got != "Reading lamp" {
		t.Errorf("card name %q", got)
	}

	u.showThing(lamp)
	h.loop.drain()
	h.tab("Manage")
	h.tap(h.button("Remove this thing"))
	h.tap(h.overlayButton("Yes"))
	h.waitFor("the lamp gone", time.Minute, func() bool { _, ok := u.things[lamp]; return !ok && u.open == nil })
	if _, ok := u.home.cards[lamp]; ok {
		t.Error("the removed lamp still has a card")
	}
	// Back in its factory state: its code pairs again.
	again := h.pairDemo("Desk lamp")
	if again != lamp {
		t.Errorf("paired %s, want the same lamp %s", again, lamp)
	}
}

// TestUnreachable: when the home's mail server is gone, a command waits,
// then expires: the card marks the thing as not answering, a message says
// so and the history shows the expired command.
func TestUnreachable(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a demo home; skipped with -short")
	}
	// The test runs the demo home with a Host of its own, so that it can
	// stop it under the app; the app's Host finds it answering and uses
	// it.
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	core, err := app.Open(app.Options{Dir: dir, Secrets: app.NoKeyring{}})
	if err != nil {
		t.Fatal(err)
	}
	host := demo.NewHost(core, nil)
	defer host.Close()
	home, err := host.Run(ctx, demo.RunOptions{Dir: t.TempDir(), Name: "Ada", Passphrase: []byte("correct horse battery")})
	if err != nil {
		t.Fatal(err)
	}
	if err := core.Close(); err != nil {
		t.Fatal(err)
	}

	h := newHarnessIn(t, test.NewTempApp(t), dir, func(o *app.Options) { o.CommandTimeout = 3 * time.Second })
	u := h.u
	h.waitFor("the unlock screen", 10*time.Second, func() bool { return len(h.buttons("Unlock")) == 1 })
	h.entries()[0].SetText("correct horse battery")
	h.tap(h.button("Unlock"))
	h.waitFor("connected", time.Minute, func() bool { return u.started && u.conn.State == app.ConnIdle })
	if u.demo != nil {
		t.Error("the app offers demo things of a home it does not run")
	}
	u.scanImage(home.Thing("light").QR)
	h.waitFor("the lamp paired", time.Minute, func() bool { return u.scan != nil && u.scan.prog.thing != "" })
	lamp := u.scan.prog.thing
	u.backToRoot()
	h.loop.drain()
	if err := home.Close(ctx); err != nil { // the home node and the things stop
		t.Fatal(err)
	}

	test.Tap(u.home.cards[lamp].ctrl.(*switchControl).sw)
	h.waitFor("the card to say the command is on its way", 10*time.Second, func() bool {
		return u.home.cards[lamp].meta.Text == "Sending…"
	})
	h.waitFor("the command to expire", 30*time.Second, func() bool {
		c, ok := u.lastCommand(lamp)
		return ok && c.Status == app.StatusExpired
	})
	h.waitFor("the not-answering mark", 10*time.Second, func() bool { return u.home.cards[lamp].warn.Visible() })
	if !strings.Contains(u.toast.label.Text, "did not answer") {
		t.Errorf("message %q", u.toast.label.Text)
	}
	if sw := u.home.cards[lamp].ctrl.(*switchControl).sw; sw.On {
		t.Error("the switch stays on after the command expired")
	}
	u.showThing(lamp)
	h.commandInHistory(app.StatusExpired)
	if !u.open.warn.Visible() {
		t.Error("the thing screen does not say the thing is not answering")
	}
}
