package ui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"reflect"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/thingpost/thingpost/app"
	"github.com/thingpost/thingpost/wire"
)

// homeScreen shows the things as cards, each with its main control.
type homeScreen struct {
	u     *UI
	body  *fyne.Container
	cards map[string]*cardView
	order []string
}

// cardView is one thing's card.
type cardView struct {
	card    *tapCard
	icon    *canvas.Image
	name    *widget.Label
	summary *widget.Label
	meta    *widget.Label
	warn    fyne.CanvasObject
	ctrl    control
	caps    *wire.Capabilities // what ctrl was made from
}

// A card's size in the desktop grid.
const cardWidth, cardHeight = 466, 120

func (u *UI) showHome() {
	h := &homeScreen{u: u, body: container.NewStack(), cards: map[string]*cardView{}}
	u.home = h
	h.rebuild()
	u.setRoot(&page{name: "home", title: "My home", content: h.body, actions: u.homeActions()})
}

// tickAges redraws the "seen 2 min ago" of the cards every half minute,
// until the UI closes.
func (u *UI) tickAges() {
	u.background(func(ctx context.Context) error {
		tick := time.NewTicker(30 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
				u.post(func() {
					if u.home != nil {
						for id := range u.home.cards {
							u.home.update(id)
						}
					}
				})
			}
		}
	}, nil)
}

// homeActions are the header buttons of home.
func (u *UI) homeActions() []fyne.CanvasObject {
	add := widget.NewButtonWithIcon("Add a thing", icon("scan"), func() { u.showScan() })
	add.Importance = widget.HighImportance
	code := widget.NewButtonWithIcon("", icon("qr"), u.showMyCode)
	settings := widget.NewButtonWithIcon("", theme.SettingsIcon(), u.showSettings)
	code.Importance, settings.Importance = widget.LowImportance, widget.LowImportance
	if isMobile() {
		add.SetText("")
	}
	out := []fyne.CanvasObject{add}
	if u.demo != nil && !isMobile() { // on a phone: from the empty home and Settings
		demo := widget.NewButton("Demo", u.showDemo)
		demo.Importance = widget.LowImportance
		out = append(out, demo)
	}
	return append(out, code, settings)
}

// sortedThings lists the things by name.
func (u *UI) sortedThings() []app.Thing {
	var ts []app.Thing
	for _, t := range u.things {
		ts = append(ts, t)
	}
	slices.SortFunc(ts, func(a, b app.Thing) int {
		if c := strings.Compare(strings.ToLower(a.DisplayName()), strings.ToLower(b.DisplayName())); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return ts
}

// rebuild lays the cards out again (a thing came or went).
func (h *homeScreen) rebuild() {
	u := h.u
	ts := u.sortedThings()
	h.cards = map[string]*cardView{}
	h.order = nil
	if len(ts) == 0 {
		h.body.Objects = []fyne.CanvasObject{h.empty()}
		h.body.Refresh()
		return
	}
	var cards []fyne.CanvasObject
	for _, t := range ts {
		cv := h.newCard(&t)
		h.cards[t.ID] = cv
		h.order = append(h.order, t.ID)
		cards = append(cards, cv.card)
	}
	var grid fyne.CanvasObject
	if isMobile() {
		grid = container.NewVBox(cards...)
	} else {
		grid = container.NewGridWrap(fyne.NewSize(cardWidth, cardHeight), cards...)
	}
	count := widget.NewLabel(fmt.Sprintf("%d things", len(ts)))
	if len(ts) == 1 {
		count.SetText("1 thing")
	}
	count.Importance = widget.LowImportance
	h.body.Objects = []fyne.CanvasObject{container.NewVScroll(container.NewPadded(container.NewVBox(count, grid)))}
	h.body.Refresh()
}

// empty is what home shows without things: how to add one.
func (h *homeScreen) empty() fyne.CanvasObject {
	u := h.u
	add := widget.NewButtonWithIcon("Add a thing", icon("scan"), func() { u.showScan() })
	add.Importance = widget.HighImportance
	buttons := []fyne.CanvasObject{add}
	text := "Scan the QR code on a thing's label, or on its screen, to pair with it. " +
		"You can also drop a picture of the code onto this window, or paste the code as text."
	if u.demo != nil {
		buttons = append(buttons, widget.NewButton("Pair the demo things", u.showDemo))
		text = "Your demo home is running. Pair its light, thermostat and lock by scanning their codes."
	}
	title := heading("No things yet")
	title.Alignment = fyne.TextAlignCenter
	msg := hint(text)
	msg.Alignment = fyne.TextAlignCenter
	return container.NewCenter(container.NewVBox(
		container.NewCenter(sizedIcon(icon("thing"), 72)),
		title, fixedWidth(msg, 380),
		container.NewCenter(container.NewHBox(buttons...)),
	))
}

func (h *homeScreen) newCard(t *app.Thing) *cardView {
	u := h.u
	id := t.ID
	cv := &cardView{
		icon:    sizedIcon(kindIcon(t.Kind, theme.ColorNamePrimary), 40),
		name:    widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		summary: widget.NewLabel(""),
		meta:    widget.NewLabel(""),
	}
	cv.name.Truncation = fyne.TextTruncateEllipsis
	cv.summary.Truncation = fyne.TextTruncateEllipsis
	cv.meta.Truncation = fyne.TextTruncateEllipsis
	cv.meta.SizeName = theme.SizeNameCaptionText
	warnLabel := widget.NewLabel("Not answering")
	warnLabel.Importance = widget.WarningImportance
	warnLabel.SizeName = theme.SizeNameCaptionText
	cv.warn = container.NewHBox(sizedIcon(theme.NewWarningThemedResource(theme.WarningIcon()), 14), warnLabel)
	cv.ctrl = mainControl(u, t)
	var right fyne.CanvasObject
	if cv.ctrl != nil {
		right = container.NewCenter(cv.ctrl.object())
	}
	cv.caps = t.Capabilities
	texts := container.New(&tightVBox{}, cv.name, cv.summary, container.NewBorder(nil, nil, nil, cv.warn, cv.meta))
	cv.card = newTapCard(container.NewBorder(nil, nil, container.NewCenter(cv.icon), right, texts), func() { u.showThing(id) })
	h.fill(cv, t)
	return cv
}

// update redraws one card from the thing's current record.
func (h *homeScreen) update(id string) {
	cv, ok := h.cards[id]
	t, known := h.u.things[id]
	if !ok || !known {
		return
	}
	if cv.name.Text != t.DisplayName() || !reflect.DeepEqual(cv.caps, t.Capabilities) {
		h.rebuild() // the order changes with the name; the control with the capabilities
		return
	}
	h.fill(cv, &t)
}

func (h *homeScreen) fill(cv *cardView, t *app.Thing) {
	u := h.u
	cv.name.SetText(t.DisplayName())
	cv.summary.SetText(stateSummary(t))
	meta := "Seen " + ago(t.LastSeen, time.Now())
	if t.LastSeen.IsZero() {
		meta = "Not heard from yet"
	}
	if c, ok := u.lastCommand(t.ID); ok && !c.Status.Final() {
		meta = map[app.CommandStatus]string{app.StatusQueued: "Sending…", app.StatusSent: "Waiting for the answer…"}[c.Status]
	}
	cv.meta.SetText(meta)
	if t.Unanswered > 0 {
		cv.warn.Show()
	} else {
		cv.warn.Hide()
	}
	cv.icon.Resource = kindIcon(t.Kind, iconColor(t))
	cv.icon.Refresh()
	if cv.ctrl != nil {
		cv.ctrl.update(t)
	}
}

// iconColor is the colour of a thing's icon: lit when a light is on or a
// heating heats, a warning when a lock is open, grey when it does not
// answer.
func iconColor(t *app.Thing) fyne.ThemeColorName {
	switch {
	case t.Unanswered > 0:
		return theme.ColorNameDisabled
	case t.State["power"] == wire.BoolValue(true), t.State["heating"] == wire.BoolValue(true):
		return colorOn
	case t.State["locked"] == wire.BoolValue(false):
		return theme.ColorNameWarning
	}
	return theme.ColorNamePrimary
}

// tightVBox stacks objects with no padding between them.
type tightVBox struct{}

func (*tightVBox) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	y := float32(0)
	for _, o := range objs {
		if !o.Visible() {
			continue
		}
		h := o.MinSize().Height
		o.Move(fyne.NewPos(0, y))
		o.Resize(fyne.NewSize(size.Width, h))
		y += h - 6
	}
}

func (*tightVBox) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var w, h float32
	n := 0
	for _, o := range objs {
		if !o.Visible() {
			continue
		}
		m := o.MinSize()
		w = max(w, m.Width)
		h += m.Height
		n++
	}
	if n > 1 {
		h -= float32(n-1) * 6
	}
	return fyne.NewSize(w, h)
}
