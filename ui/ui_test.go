package ui

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"

	"github.com/thingpost/thingpost/app"
	"github.com/thingpost/thingpost/assets"
	"github.com/thingpost/thingpost/internal/qr"
)

// TestDemoHome drives the interface as a person would, against a real
// demo home (a home node on loopback and three simulated things, real
// Securejoin, signed and encrypted mail): the first run offers the demo;
// the light pairs by scanning its QR image; it switches on from its card,
// which then shows on; its history shows the verified reply; a picture
// without a code and text that is not an invite give clear messages; the
// thermostat's slider sends the target and its card shows the new target
// once the thermostat answered. Each step starts from its own data
// directory and demo home (demoAtHome), so that it stands alone.
func TestDemoHome(t *testing.T) {
	if testing.Short() {
		t.Skip("starts demo homes (mail server and three things); skipped with -short")
	}

	t.Run("first run offers the demo", func(t *testing.T) {
		h := newHarness(t)
		u := h.u
		h.waitFor("the welcome screen", 10*time.Second, func() bool { return len(h.buttons("Try the demo home")) == 1 })
		h.tap(h.button("Try the demo home"))
		es := h.entries()
		if len(es) != 3 {
			t.Fatalf("demo form has %d entries, want name, passphrase, repeat", len(es))
		}
		test.Type(es[0], "Ada")
		test.Type(es[1], "short")
		test.Type(es[2], "short")
		h.tap(h.button("Start the demo"))
		if !strings.Contains(h.texts(), "at least 8 characters") {
			t.Fatalf("a short passphrase was not refused: %s", h.texts())
		}
		es[1].SetText("correct horse battery")
		es[2].SetText("correct horse battery")
		h.tap(h.button("Start the demo"))
		h.waitFor("the demo things", time.Minute, func() bool { return len(h.buttons("Scan this code")) == 3 })
		if h.title() != "Demo home" {
			t.Fatalf("title %q", h.title())
		}
		p, _, _ := u.core.Profile()
		if p.Name != "Ada" || !strings.HasSuffix(p.Addr, "@demo.home.arpa") {
			t.Fatalf("profile %+v", p)
		}
	})

	t.Run("pair the light by scanning its code", func(t *testing.T) {
		h := demoAtHome(t)
		u := h.u
		u.showDemo()
		h.loop.drain()
		h.tap(h.buttons("Scan this code")[0]) // the light's tile comes first
		if h.title() != "Add a thing" {
			t.Fatalf("scanning opened %q, not the scan screen", h.title())
		}
		h.waitFor("the pairing to finish", time.Minute, func() bool { return u.scan != nil && u.scan.prog.thing != "" })
		lamp := u.scan.prog.thing
		th := u.things[lamp]
		if th.Kind != "light" || th.Capabilities == nil {
			t.Fatalf("paired thing %+v", th)
		}
		got := h.texts()
		for _, want := range []string{"Paired with Desk lamp", "lamp@demo.home.arpa", fingerprintGroups(lamp), "It told what it can do"} {
			if !strings.Contains(got, want) {
				t.Errorf("pairing progress lacks %q: %s", want, got)
			}
		}
		for _, s := range u.scan.prog.steps {
			if !s.done.Visible() {
				t.Errorf("step %q not marked done", s.label.Text)
			}
		}
		h.tap(h.button("Back to my home"))
		if u.home.cards[lamp] == nil {
			t.Fatalf("no card for the lamp on home: %s", h.texts())
		}
	})

	t.Run("switch it on from its card", func(t *testing.T) {
		h := demoAtHome(t)
		u := h.u
		lamp := h.pairDemo("Desk lamp")
		cv := u.home.cards[lamp]
		if cv == nil {
			t.Fatalf("no card for the lamp on home: %s", h.texts())
		}
		sw, ok := cv.ctrl.(*switchControl)
		if !ok {
			t.Fatalf("the lamp's card control is %T, want a switch", cv.ctrl)
		}
		if cv.summary.Text != "Off" || sw.sw.On {
			t.Fatalf("lamp card before: %q, switch on=%v", cv.summary.Text, sw.sw.On)
		}
		test.Tap(sw.sw)
		h.loop.drain()
		h.waitFor("the lamp's answer", time.Minute, func() bool {
			on, _ := u.things[lamp].State["power"].AsBool()
			return on
		})
		cv = u.home.cards[lamp]
		if !strings.HasPrefix(cv.summary.Text, "On") {
			t.Errorf("card summary %q after the answer, want On", cv.summary.Text)
		}
		if !cv.ctrl.(*switchControl).sw.On {
			t.Error("card switch is off after the answer")
		}
		if c, ok := u.lastCommand(lamp); !ok || c.Status != app.StatusAnswered || c.Command.String() != "set power on" {
			t.Errorf("last command %+v", c)
		}
	})

	t.Run("its history shows the verified reply", func(t *testing.T) {
		h := demoAtHome(t)
		u := h.u
		lamp := h.pairDemo("Desk lamp")
		c, err := u.core.Send(context.Background(), lamp, "set power on", 0) // what the card's switch sends
		if err != nil {
			t.Fatal(err)
		}
		if _, err := u.core.Wait(context.Background(), c.ID); err != nil {
			t.Fatal(err)
		}
		test.Tap(u.home.cards[lamp].card)
		h.loop.drain()
		if u.open == nil || u.open.id != lamp {
			t.Fatal("tapping the card did not open the lamp")
		}
		h.waitFor("the reply in the history", 10*time.Second, func() bool {
			for _, e := range u.open.history.entries {
				if e.Kind == app.EntryReply && e.Verified && strings.Contains(e.Text, "is on") {
					return true
				}
			}
			return false
		})
		// The list shows it, with its verified mark.
		h.tab("History")
		h.w.Canvas().Refresh(u.open.history.list)
		found := false
		visit(u.open.history.list, func(o fyne.CanvasObject) {
			if r, ok := o.(*rowWidget); ok && strings.Contains(r.r.text.Text, "is on") &&
				r.r.meta.Text == "Verified reply" && r.r.verified.Visible() {
				found = true
			}
		})
		if !found {
			t.Errorf("no history row shows the verified reply: %s", h.texts())
		}
		h.tab("Control")
		// The command line above it: "set power on" answered.
		if got := u.open.last.Text; !strings.Contains(got, "set power on") || !strings.Contains(got, "answered") {
			t.Errorf("status line %q", got)
		}
	})

	t.Run("a picture without a code", func(t *testing.T) {
		h := demoAtHome(t)
		u := h.u
		path := filepath.Join(t.TempDir(), "not-a-code.png")
		if err := os.WriteFile(path, assets.AppIconPNG(), 0o600); err != nil {
			t.Fatal(err)
		}
		u.dropped(fyne.NewPos(10, 10), []fyne.URI{storage.NewFileURI(path)})
		h.scanSays("No QR code found")
		if u.scan.prog.box.Visible() {
			t.Error("pairing progress shown for a picture without a code")
		}
	})

	t.Run("a code that is not an invite", func(t *testing.T) {
		h := demoAtHome(t)
		u := h.u
		png, err := qr.Encode("https://example.org/not-an-invite", 400)
		if err != nil {
			t.Fatal(err)
		}
		u.scanImage(png)
		h.scanSays("not an invite")
		u.scan.paste.SetText("hello")
		h.tap(h.button("Pair"))
		h.scanSays("not an invite")
		// A person's own code is not a thing's.
		mine, err := u.core.MyCode()
		if err != nil {
			t.Fatal(err)
		}
		u.scan.paste.SetText(mine.Text)
		h.tap(h.button("Pair"))
		h.scanSays("a person's code")
		if u.scan.prog.box.Visible() {
			t.Error("pairing progress shown for a code that is not an invite")
		}
	})

	t.Run("the thermostat slider sends the target", func(t *testing.T) {
		h := demoAtHome(t)
		u := h.u
		var code string
		for _, d := range u.demo.things {
			if d.Kind == "thermostat" {
				code = d.Invite
			}
		}
		info, err := app.ParseInvite(code)
		if err != nil {
			t.Fatal(err)
		}
		// Pasted this time; before the thing has answered anything, the
		// progress names it and its key from the code alone.
		s := u.showScan()
		s.pairText(code)
		if got := s.prog.title.Text; got != "Pairing with "+info.Name || info.Name == "" {
			t.Errorf("before any answer the progress says %q, want it to name %q", got, info.Name)
		}
		if got := s.prog.fpr.Text; !strings.Contains(got, fingerprintGroups(info.Fingerprint)) {
			t.Errorf("before any answer the key shown is %q, want %s", got, fingerprintGroups(info.Fingerprint))
		}
		h.waitFor("the thermostat pairing", time.Minute, func() bool { return u.scan != nil && u.scan.prog.thing != "" })
		thermo := u.scan.prog.thing
		if u.things[thermo].Kind != "thermostat" {
			t.Fatalf("paired %+v, want the thermostat", u.things[thermo])
		}
		h.waitFor("its state", time.Minute, func() bool { _, ok := u.things[thermo].State["target"]; return ok })
		before, _ := u.things[thermo].State["target"].AsFloat()
		u.backToRoot()
		u.showThing(thermo)
		sl, ok := u.open.controls["target"].(*sliderControl)
		if !ok {
			t.Fatalf("target control is %T, want a slider", u.open.controls["target"])
		}
		// Move it with the keyboard, as the driver would deliver the keys
		// to the focused slider: three steps of 0.5 °C up.
		c := h.w.Canvas()
		c.Focus(sl.slider)
		for range 3 {
			c.Focused().TypedKey(&fyne.KeyEvent{Name: fyne.KeyRight})
		}
		h.loop.drain()
		want := before + 3*sl.slider.Step
		wantText := number(want, sl.spec)
		if got := sl.value.Text; got != wantText {
			t.Errorf("slider shows %q, want %q", got, wantText)
		}
		h.waitFor("the thermostat's answer", time.Minute, func() bool {
			v, _ := u.things[thermo].State["target"].AsFloat()
			return v == want
		})
		page, err := u.core.History(context.Background(), thermo, app.HistoryQuery{Kinds: []app.EntryKind{app.EntryCommand}})
		if err != nil {
			t.Fatal(err)
		}
		var sets []string
		for _, e := range page.Entries {
			if e.Command != nil && e.Command.Name == "set" {
				sets = append(sets, e.Text)
			}
		}
		if len(sets) != 1 || sets[0] != "set target "+numberText(want, sl.spec) {
			t.Errorf("sent %q for three key presses, want one set target %s", sets, numberText(want, sl.spec))
		}
		u.backToRoot()
		if got := u.home.cards[thermo].summary.Text; !strings.Contains(got, "target "+wantText) {
			t.Errorf("thermostat card %q, want target %s", got, wantText)
		}
	})
}
