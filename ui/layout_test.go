package ui

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/software"
	"fyne.io/fyne/v2/test"
)

// snapshot renders the window with Fyne's software painter into
// $THINGPOST_SCREENSHOTS/name.png when that variable names a directory
// (scripts can collect the phone layout's screens this way; GL is not
// needed). It does nothing otherwise.
func (h *harness) snapshot(name string) {
	dir := os.Getenv("THINGPOST_SCREENSHOTS")
	if dir == "" {
		return
	}
	h.t.Helper()
	h.loop.drain()
	content := h.w.Content()
	c := software.NewCanvas()
	c.SetScale(2)
	c.SetContent(content)
	c.Resize(h.w.Canvas().Size())
	img := software.RenderCanvas(c, newTheme())
	h.w.SetContent(content)
	f, err := os.Create(filepath.Join(dir, name+".png"))
	if err != nil {
		h.t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		h.t.Fatal(err)
	}
}

// TestLayout checks that the screens take the layout of the device: the
// phone layout (built with -tags mobile) puts the thing's sections in tabs
// and the cards in one column; the desktop layout shows controls and
// history side by side and the cards in a grid.
func TestLayout(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a demo home; skipped with -short")
	}
	h := newHarness(t)
	u := h.u
	phone := fyne.CurrentDevice().IsMobile()
	if phone {
		h.w.Resize(fyne.NewSize(390, 800))
	}
	h.waitFor("the welcome screen", 10*time.Second, func() bool { return len(h.buttons("Try the demo home")) == 1 })
	h.tap(h.button("Try the demo home"))
	es := h.entries()
	test.Type(es[0], "Ada")
	es[1].SetText("correct horse battery")
	es[2].SetText("correct horse battery")
	h.tap(h.button("Start the demo"))
	h.waitFor("the demo things", time.Minute, func() bool { return len(h.buttons("Scan this code")) == 3 })
	h.tap(h.buttons("Scan this code")[0])
	h.waitFor("the pairing", time.Minute, func() bool { return u.scan != nil && u.scan.prog.thing != "" })
	h.snapshot("phone-scan")
	lamp := u.scan.prog.thing
	h.tap(h.button("Back to my home"))
	test.Tap(u.home.cards[lamp].ctrl.(*switchControl).sw)
	h.waitFor("the lamp on", time.Minute, func() bool { on, _ := u.things[lamp].State["power"].AsBool(); return on })
	h.snapshot("phone-home")

	var inScroll fyne.CanvasObject
	visit(h.content(), func(o fyne.CanvasObject) {
		if c, ok := o.(*fyne.Container); ok && inScroll == nil {
			for _, x := range c.Objects {
				if x == u.home.cards[lamp].card {
					inScroll = c
				}
			}
		}
	})
	if inScroll == nil {
		t.Fatal("no container holds the lamp's card")
	}
	cards := inScroll.(*fyne.Container)

	u.showThing(lamp)
	h.loop.drain()
	_, tabs := h.content().(*container.AppTabs)
	_, split := h.content().(*container.Split)
	if phone {
		if !tabs {
			t.Errorf("phone: thing screen is %T, want tabs", h.content())
		}
		if cards.Size().Width > 390 {
			t.Errorf("phone: cards are %v wide in a 390 wide window", cards.Size().Width)
		}
		tabsObj := h.content().(*container.AppTabs)
		h.snapshot("phone-thing")
		tabsObj.SelectIndex(1)
		h.waitFor("the history", 10*time.Second, func() bool { return len(u.open.history.entries) >= 4 })
		h.snapshot("phone-history")
	} else {
		if !split {
			t.Errorf("desktop: thing screen is %T, want controls and history side by side", h.content())
		}
		if got := len(cards.Objects); got != 1 || cards.Size().Width < cardWidth {
			t.Errorf("desktop: card grid of %d cards, %v wide", got, cards.Size().Width)
		}
	}
}
