package ui

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/thingpost/thingpost/app"
	"github.com/thingpost/thingpost/wire"
)

// thingScreen is one thing: its state, the controls generated from its
// capability description, its history, a chart, the people who may use
// it (for its owner), rename and remove.
type thingScreen struct {
	u  *UI
	id string

	icon    *canvas.Image
	name    *widget.Label
	summary *widget.Label
	meta    *widget.Label
	warn    fyne.CanvasObject
	last    *widget.Label // the newest command and its status

	caps      *wire.Capabilities // what the controls were built from
	controls  map[string]control // by property or command name
	ctrlBox   *fyne.Container
	stateRows *fyne.Container
	command   *widget.Entry
	history   *historyView
	chart     *chartView
	people    *peopleView
	page      *page
}

func (u *UI) showThing(id string) {
	t, ok := u.things[id]
	if !ok {
		return
	}
	if u.open != nil {
		u.backToRoot()
	}
	s := &thingScreen{u: u, id: id, controls: map[string]control{}}
	s.icon = sizedIcon(kindIcon(t.Kind, theme.ColorNamePrimary), 56)
	s.name = heading("")
	s.summary = widget.NewLabel("")
	s.summary.Wrapping = fyne.TextWrapWord
	s.meta = hint("")
	warnLabel := widget.NewLabel("It has not answered recently: it may be offline or out of reach.")
	warnLabel.Importance = widget.WarningImportance
	warnLabel.Wrapping = fyne.TextWrapWord
	s.warn = container.NewBorder(nil, nil, container.NewCenter(sizedIcon(theme.NewWarningThemedResource(theme.WarningIcon()), 18)), nil, warnLabel)
	s.last = widget.NewLabel("")
	s.last.Wrapping = fyne.TextWrapWord
	s.ctrlBox = container.NewVBox()
	s.stateRows = container.New(&formLayout{})
	s.command = widget.NewEntry()
	s.command.SetPlaceHolder(`Type a command: "status", "help", "set brightness 40"`)
	s.command.OnSubmitted = func(string) { s.sendTyped() }
	s.history = newHistory(u, id)

	head := panel(container.NewBorder(nil, nil, container.NewCenter(s.icon), nil,
		container.NewVBox(s.name, s.summary, s.meta, s.warn)))
	controls := section("Controls", s.ctrlBox,
		container.NewBorder(nil, nil, nil, widget.NewButtonWithIcon("Send", theme.MailSendIcon(), s.sendTyped), s.command),
		s.last)
	state := section("State", s.stateRows)
	s.chart = newChartView(u, &t)
	manage := s.manageSection(&t)
	histPanel := panel(container.NewBorder(heading("History"), nil, nil, nil, s.history.box))

	left := []fyne.CanvasObject{head, controls, state}
	if s.chart != nil {
		left = append(left, s.chart.box)
	}
	if t.Role == wire.RoleOwner {
		s.people = newPeopleView(u, id)
		left = append(left, s.people.box)
	}
	left = append(left, manage)

	var content fyne.CanvasObject
	if isMobile() {
		overview := container.NewVScroll(container.NewVBox(left[:len(left)-1]...))
		tabs := container.NewAppTabs(
			container.NewTabItem("Control", overview),
			container.NewTabItem("History", container.NewPadded(histPanel)),
			container.NewTabItem("Manage", container.NewVScroll(manage)),
		)
		content = tabs
	} else {
		split := container.NewHSplit(container.NewVScroll(container.NewPadded(container.NewVBox(left...))), container.NewPadded(histPanel))
		split.Offset = 0.55
		content = split
	}
	u.open = s
	s.page = &page{name: "thing", title: t.DisplayName(), content: content, onClose: func() {
		if u.open == s {
			u.open = nil
		}
	}}
	s.update()
	u.push(s.page)
}

// update redraws from the thing's current record.
func (s *thingScreen) update() {
	u := s.u
	t, ok := u.things[s.id]
	if !ok {
		return
	}
	s.name.SetText(t.DisplayName())
	s.summary.SetText(stateSummary(&t))
	meta := []string{}
	if t.Kind != "" {
		meta = append(meta, label(t.Kind))
	}
	if t.LastSeen.IsZero() {
		meta = append(meta, "not heard from yet")
	} else {
		meta = append(meta, "seen "+ago(t.LastSeen, time.Now()))
	}
	if t.Role != "" {
		meta = append(meta, "you are "+roleText(t.Role, t.RoleExpires))
	}
	s.meta.SetText(strings.Join(meta, " · "))
	if t.Unanswered > 0 {
		s.warn.Show()
	} else {
		s.warn.Hide()
	}
	s.icon.Resource = kindIcon(t.Kind, iconColor(&t))
	s.icon.Refresh()
	if !reflect.DeepEqual(s.caps, t.Capabilities) {
		s.buildControls(&t)
	}
	for _, c := range s.controls {
		c.update(&t)
	}
	s.fillState(&t)
	s.showLast()
	if s.page.title != t.DisplayName() {
		s.page.title = t.DisplayName()
		u.refreshHeader()
	}
}

func roleText(r wire.Role, until time.Time) string {
	s := string(r)
	if !until.IsZero() {
		s += " until " + until.Local().Format("2 Jan 15:04")
	}
	return s
}

// buildControls generates the controls from the capability description:
// a switch for a writable on/off property, a slider for a number with a
// range, a drop-down for a choice, an entry for anything else, and a
// button for each declared command.
func (s *thingScreen) buildControls(t *app.Thing) {
	s.caps = t.Capabilities
	s.controls = map[string]control{}
	s.ctrlBox.Objects = nil
	if t.Capabilities == nil {
		s.ctrlBox.Add(hint("The thing has not described itself yet; its controls appear when it does. You can still type a command below."))
		s.ctrlBox.Refresh()
		return
	}
	rows := container.New(&formLayout{})
	for _, p := range t.Capabilities.Properties {
		if !p.Writable {
			continue
		}
		var c control
		switch {
		case p.Type == wire.TypeBool:
			c = newSwitch(s.u, t, p.Name)
		case ranged(p):
			c = newSlider(s.u, t, p)
		case p.Type == wire.TypeEnum && len(p.Enum) > 0:
			c = newChoice(s.u, t, p)
		default:
			c = newValueEntry(s.u, t, p)
		}
		s.controls[p.Name] = c
		name := widget.NewLabel(label(p.Name))
		rows.Add(name)
		obj := c.object()
		if _, isSwitch := c.(*switchControl); isSwitch {
			obj = container.NewHBox(obj)
		}
		rows.Add(obj)
	}
	s.ctrlBox.Add(rows)
	var buttons []fyne.CanvasObject
	for _, spec := range t.Capabilities.Commands {
		buttons = append(buttons, commandButton(s.u, t, spec))
	}
	if len(buttons) > 0 {
		s.ctrlBox.Add(container.NewHBox(buttons...))
	}
	s.ctrlBox.Refresh()
}

// fillState lists every property with its value.
func (s *thingScreen) fillState(t *app.Thing) {
	s.stateRows.Objects = nil
	for _, name := range propertiesInOrder(t) {
		v, ok := t.State[name]
		text := "–"
		if ok {
			text = formatValue(specOf(t, name), v)
		}
		s.stateRows.Add(widget.NewLabel(label(name)))
		s.stateRows.Add(widget.NewLabelWithStyle(text, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
	}
	if !t.StateTime.IsZero() {
		s.stateRows.Add(widget.NewLabel("As of"))
		s.stateRows.Add(widget.NewLabel(ago(t.StateTime, time.Now())))
	}
	s.stateRows.Refresh()
}

// showLast shows the newest command of this session and where it stands.
func (s *thingScreen) showLast() {
	c, ok := s.u.lastCommand(s.id)
	if !ok {
		s.last.Hide()
		return
	}
	text := "“" + c.Command.String() + "”: " + statusText(c.Status)
	s.last.Importance = widget.LowImportance
	switch c.Status {
	case app.StatusAnswered:
		s.last.Importance = widget.SuccessImportance
		if c.Reply != nil && c.Reply.Text != "" {
			text += ". " + c.Reply.Text
		}
	case app.StatusRefused:
		s.last.Importance = widget.DangerImportance
		if c.Reply != nil && c.Reply.Reason != "" {
			text += ": " + c.Reply.Reason
		}
	case app.StatusExpired, app.StatusFailed:
		s.last.Importance = widget.WarningImportance
		if c.Error != "" {
			text += ": " + c.Error
		}
	case app.StatusQueued:
		text += "…"
	case app.StatusSent:
		text += ", waiting for the answer…"
	}
	s.last.SetText(text)
	s.last.Show()
}

// commandChanged follows a command's status.
func (s *thingScreen) commandChanged(c app.Command, mine bool, prop string) {
	s.showLast()
	s.history.reload()
	if c.Status.Final() {
		if ctrl, ok := s.controls[prop]; ok && mine {
			t := s.u.things[s.id]
			ctrl.update(&t)
		}
		if s.chart != nil {
			s.chart.reload()
		}
	}
}

// sendTyped sends what the person typed.
func (s *thingScreen) sendTyped() {
	text := strings.TrimSpace(s.command.Text)
	if text == "" {
		return
	}
	if _, err := s.u.core.ParseCommand(s.id, text); err != nil {
		s.u.showToast("Not sent: " + err.Error())
		return
	}
	s.command.SetText("")
	s.u.send(s.id, text, "", nil)
}

// manageSection holds the thing's identity, rename and remove.
func (s *thingScreen) manageSection(t *app.Thing) fyne.CanvasObject {
	u := s.u
	id := s.id
	rename := widget.NewEntry()
	rename.SetText(t.DisplayName())
	save := widget.NewButton("Rename", nil)
	save.OnTapped = func() {
		name := strings.TrimSpace(rename.Text)
		u.background(func(ctx context.Context) error {
			_, err := u.core.Rename(ctx, id, name)
			return err
		}, func(err error) {
			if err != nil {
				u.notifyError("Rename", err)
			}
		})
	}
	rename.OnSubmitted = func(string) { save.OnTapped() }
	remove := widget.NewButtonWithIcon("Remove this thing…", theme.DeleteIcon(), func() { s.confirmRemove() })
	remove.Importance = widget.DangerImportance
	addr := widget.NewLabel(t.Addr)
	addr.Selectable = true
	fpr := widget.NewLabelWithStyle(fingerprintGroups(t.ID), fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	fpr.Wrapping = fyne.TextWrapWord
	info := container.New(&formLayout{},
		widget.NewLabel("Address"), addr,
		widget.NewLabel("Key"), fpr,
		widget.NewLabel("Paired"), widget.NewLabel(t.Paired.Local().Format("2 January 2006, 15:04")),
	)
	return section("About and manage", info,
		container.NewBorder(nil, nil, nil, save, rename),
		hint("The name is kept on this device only."),
		container.NewHBox(remove))
}

// confirmRemove asks, then asks the thing to let us go and forgets it;
// when the thing does not answer it offers to forget it anyway.
func (s *thingScreen) confirmRemove() {
	u := s.u
	id := s.id
	t := u.things[id]
	var msg string
	switch {
	case !t.RoleExpires.IsZero() && !time.Now().Before(t.RoleExpires):
		msg = "Your time with " + t.DisplayName() + " is over, so there is nothing to ask it: Thingpost removes it and its history from this device."
	case t.Role == wire.RoleOwner:
		msg = "Thingpost first asks " + t.DisplayName() + " to forget you (as its owner, this returns it to its factory state, so that anyone with its label can pair again), then removes it and its history from this device."
	default:
		msg = "Thingpost first asks " + t.DisplayName() + " to let you go, then removes it and its history from this device."
	}
	dialog.ShowConfirm("Remove "+t.DisplayName()+"?", msg, func(ok bool) {
		if !ok {
			return
		}
		u.showToast("Removing " + t.DisplayName() + "…")
		u.background(func(ctx context.Context) error {
			return u.core.Remove(ctx, id, false)
		}, func(err error) {
			if err == nil {
				return
			}
			if errors.Is(err, app.ErrNotFound) {
				return
			}
			dialog.ShowConfirm("Forget it anyway?", err.Error()+"\n\nForget "+t.DisplayName()+" on this device anyway? It may still accept your commands.", func(force bool) {
				if force {
					u.background(func(ctx context.Context) error { return u.core.Remove(ctx, id, true) }, func(err error) {
						if err != nil {
							u.notifyError("Remove", err)
						}
					})
				}
			}, u.win)
		})
	}, u.win)
}

// formLayout is two columns: labels at their width, values filling the
// rest; each row as high as its taller cell.
type formLayout struct{}

func (*formLayout) widths(objs []fyne.CanvasObject) float32 {
	var w float32
	for i := 0; i < len(objs); i += 2 {
		w = max(w, objs[i].MinSize().Width)
	}
	return w
}

func (l *formLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	lw := l.widths(objs)
	pad := theme.Padding()
	y := float32(0)
	for i := 0; i+1 < len(objs); i += 2 {
		h := max(objs[i].MinSize().Height, objs[i+1].MinSize().Height)
		objs[i].Move(fyne.NewPos(0, y))
		objs[i].Resize(fyne.NewSize(lw, h))
		objs[i+1].Move(fyne.NewPos(lw+pad, y))
		objs[i+1].Resize(fyne.NewSize(size.Width-lw-pad, h))
		y += h
	}
}

func (l *formLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	lw := l.widths(objs)
	var vw, h float32
	for i := 0; i+1 < len(objs); i += 2 {
		vw = max(vw, objs[i+1].MinSize().Width)
		h += max(objs[i].MinSize().Height, objs[i+1].MinSize().Height)
	}
	return fyne.NewSize(lw+theme.Padding()+vw, h)
}
