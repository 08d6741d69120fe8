package ui

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/thingpost/thingpost/app"
	"github.com/thingpost/thingpost/wire"
)

// commitDelay is how long a slider or stepper waits after the last change
// before it sends: dragging or pressing an arrow key ten times sends one
// command.
const commitDelay = 600 * time.Millisecond

// send queues text as a command to the thing and returns at once; prop
// names the property a control changes ("" for none). The control keeps
// the person's value until the thing answers; onFail runs on the UI
// goroutine when the command could not even be queued.
func (u *UI) send(thingID, text, prop string, onFail func()) {
	u.localSeq++
	local := fmt.Sprintf("local-%d", u.localSeq)
	u.sent[local] = sent{thing: thingID, prop: prop}
	u.background(func(ctx context.Context) error {
		c, err := u.core.Send(ctx, thingID, text, 0)
		if err != nil {
			return err
		}
		u.post(func() {
			if !u.finished[c.ID] {
				u.sent[c.ID] = sent{thing: thingID, prop: prop}
			}
			if _, seen := u.cmds[c.ID]; !seen {
				u.noteCommand(c)
			}
		})
		return nil
	}, func(err error) {
		delete(u.sent, local)
		if err != nil {
			u.notifyError("Not sent", err)
			if onFail != nil {
				onFail()
			}
		}
		u.thingChanged(thingID)
	})
}

// thingChanged redraws what shows the thing.
func (u *UI) thingChanged(id string) {
	if u.home != nil {
		u.home.update(id)
	}
	if u.open != nil && u.open.id == id {
		u.open.update()
	}
}

// debouncer runs the last function given to it once things are quiet.
type debouncer struct {
	u   *UI
	seq int
}

func (d *debouncer) call(delay time.Duration, f func()) {
	d.seq++
	seq := d.seq
	time.AfterFunc(delay, func() {
		d.u.post(func() {
			if d.seq == seq {
				f()
			}
		})
	})
}

// boolText is how a command writes a bool value.
func boolText(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// numberText is how a command writes a number of spec (no unit: the thing's
// own unit is assumed).
func numberText(x float64, spec wire.ValueSpec) string {
	return strconv.FormatFloat(x, 'f', decimals(spec), 64)
}

// control is one generated control bound to a property or command.
type control interface {
	object() fyne.CanvasObject
	// update shows the thing's state (unless the person's change waits
	// for its answer).
	update(t *app.Thing)
}

// bound is what a control of one property of a thing holds on to.
type bound struct {
	u    *UI
	id   string
	prop string
}

// thing is the thing as the UI knows it now.
func (b bound) thing() *app.Thing { t := b.u.things[b.id]; return &t }

// waiting reports whether the person's change of the property waits for
// its answer: the control keeps it until then.
func (b bound) waiting() bool { return b.u.pending(b.id, b.prop) }

// set sends "set PROP value"; when it cannot even be queued, show shows the
// thing's state again.
func (b bound) set(value string, show func(*app.Thing)) {
	b.u.send(b.id, "set "+b.prop+" "+value, b.prop, func() { show(b.thing()) })
}

// setLater is set of value() once the person's changes stop for
// commitDelay; until then the thing's state does not overwrite them.
func (b bound) setLater(d *debouncer, value func() string, show func(*app.Thing)) {
	b.u.sentinel(b.id, b.prop)
	d.call(commitDelay, func() {
		b.u.unsentinel(b.id, b.prop)
		b.set(value(), show)
	})
}

// showNumber shows the property's number on l ("–" when the thing did not
// say it) and returns it.
func (b bound) showNumber(t *app.Thing, l *widget.Label, spec wire.ValueSpec) (float64, bool) {
	x, ok := t.State[b.prop].AsFloat()
	if !ok {
		l.SetText("–")
		return 0, false
	}
	l.SetText(number(x, spec))
	return x, true
}

// switchControl is a writable bool property as a switch.
type switchControl struct {
	bound
	sw *toggle
}

func newSwitch(u *UI, t *app.Thing, prop string) *switchControl {
	c := &switchControl{bound: bound{u: u, id: t.ID, prop: prop}}
	c.sw = newToggle(label(prop), false, func(on bool) { c.set(boolText(on), c.update) })
	c.update(t)
	return c
}

func (c *switchControl) object() fyne.CanvasObject { return c.sw }

func (c *switchControl) update(t *app.Thing) {
	if c.waiting() {
		return
	}
	on, _ := t.State[c.prop].AsBool()
	c.sw.SetOn(on)
}

// sliderControl is a writable number with a range as a slider with its
// value beside it. Keyboard: focus it, arrows move it.
type sliderControl struct {
	bound
	spec   wire.ValueSpec
	slider *widget.Slider
	value  *widget.Label
	box    fyne.CanvasObject
	commit debouncer
}

func newSlider(u *UI, t *app.Thing, p wire.Property) *sliderControl {
	c := &sliderControl{bound: bound{u: u, id: t.ID, prop: p.Name}, spec: p.ValueSpec, commit: debouncer{u: u}}
	step := p.Step
	if step <= 0 {
		step = 1
		if p.Type == wire.TypeFloat {
			step = (*p.Max - *p.Min) / 100
		}
	}
	c.slider = widget.NewSlider(*p.Min, *p.Max)
	c.slider.Step = step
	c.value = widget.NewLabelWithStyle("", fyne.TextAlignTrailing, fyne.TextStyle{Monospace: true})
	c.slider.OnChanged = func(x float64) { c.value.SetText(number(x, c.spec)) }
	c.slider.OnChangeEnded = func(float64) {
		c.setLater(&c.commit, func() string { return numberText(c.slider.Value, c.spec) }, c.update)
	}
	c.box = container.NewBorder(nil, nil, nil, fixedWidth(c.value, 80), c.slider)
	c.update(t)
	return c
}

func (c *sliderControl) object() fyne.CanvasObject { return c.box }

func (c *sliderControl) update(t *app.Thing) {
	if c.waiting() {
		return
	}
	if x, ok := c.showNumber(t, c.value, c.spec); ok {
		// Set the value without SetValue: that would fire OnChangeEnded
		// and send the state back to the thing.
		c.slider.Value = math.Min(math.Max(x, c.slider.Min), c.slider.Max)
		c.slider.Refresh()
	}
}

// stepperControl is a number as − value + (on a card, where a slider is
// too wide): each tap moves by the step, the command goes once the taps
// stop.
type stepperControl struct {
	bound
	spec   wire.ValueSpec
	lo, hi float64
	step   float64
	cur    float64
	value  *widget.Label
	minus  *widget.Button
	plus   *widget.Button
	box    fyne.CanvasObject
	commit debouncer
}

func newStepper(u *UI, t *app.Thing, p wire.Property) *stepperControl {
	c := &stepperControl{bound: bound{u: u, id: t.ID, prop: p.Name}, spec: p.ValueSpec, lo: *p.Min, hi: *p.Max, step: p.Step, commit: debouncer{u: u}}
	if c.step <= 0 {
		c.step = 1
	}
	c.value = widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	c.minus = widget.NewButtonWithIcon("", theme.ContentRemoveIcon(), func() { c.nudge(-1) })
	c.plus = widget.NewButtonWithIcon("", theme.ContentAddIcon(), func() { c.nudge(1) })
	c.box = container.NewHBox(c.minus, fixedWidth(c.value, 72), c.plus)
	c.update(t)
	return c
}

func (c *stepperControl) object() fyne.CanvasObject { return c.box }

func (c *stepperControl) nudge(dir float64) {
	c.cur = math.Min(math.Max(c.cur+dir*c.step, c.lo), c.hi)
	c.value.SetText(number(c.cur, c.spec))
	c.setLater(&c.commit, func() string { return numberText(c.cur, c.spec) }, c.update)
}

func (c *stepperControl) update(t *app.Thing) {
	if c.waiting() {
		return
	}
	if x, ok := c.showNumber(t, c.value, c.spec); ok {
		c.cur = x
	}
}

// choiceControl is a writable enum as a drop-down.
type choiceControl struct {
	bound
	sel    *widget.Select
	muting bool
}

func newChoice(u *UI, t *app.Thing, p wire.Property) *choiceControl {
	c := &choiceControl{bound: bound{u: u, id: t.ID, prop: p.Name}}
	c.sel = widget.NewSelect(p.Enum, func(v string) {
		if !c.muting {
			c.set(v, c.update)
		}
	})
	c.update(t)
	return c
}

func (c *choiceControl) object() fyne.CanvasObject { return c.sel }

func (c *choiceControl) update(t *app.Thing) {
	if c.waiting() {
		return
	}
	v, _ := t.State[c.prop].AsString()
	if c.sel.Selected != v {
		c.muting = true
		c.sel.SetSelected(v)
		c.muting = false
	}
}

// valueControl is any other writable property: an entry and a Set button.
type valueControl struct {
	bound
	spec  wire.ValueSpec
	entry *widget.Entry
	box   fyne.CanvasObject
}

func newValueEntry(u *UI, t *app.Thing, p wire.Property) *valueControl {
	c := &valueControl{bound: bound{u: u, id: t.ID, prop: p.Name}, spec: p.ValueSpec}
	c.entry = widget.NewEntry()
	if p.Unit != "" {
		c.entry.SetPlaceHolder(p.Unit)
	}
	set := func() {
		v := strings.TrimSpace(c.entry.Text)
		if v != "" {
			u.send(c.id, "set "+c.prop+" "+v, c.prop, nil)
		}
	}
	c.entry.OnSubmitted = func(string) { set() }
	c.box = container.NewBorder(nil, nil, nil, widget.NewButton("Set", set), c.entry)
	c.update(t)
	return c
}

func (c *valueControl) object() fyne.CanvasObject { return c.box }

func (c *valueControl) update(t *app.Thing) {
	if c.waiting() || c.u.win.Canvas().Focused() == c.entry {
		return
	}
	if v, ok := t.State[c.prop]; ok {
		c.entry.SetText(formatValue(c.spec, v))
	}
}

// commandButton is a declared command: a button; with arguments it asks
// for them first.
func commandButton(u *UI, t *app.Thing, spec wire.CommandSpec) *widget.Button {
	id := t.ID
	return widget.NewButton(label(spec.Name), func() {
		if len(spec.Args) == 0 {
			u.send(id, spec.Name, "", nil)
			return
		}
		var items []*widget.FormItem
		var entries []*widget.Entry
		for _, a := range spec.Args {
			e := widget.NewEntry()
			if a.Unit != "" {
				e.SetPlaceHolder(a.Unit)
			}
			if len(a.Enum) > 0 {
				e.SetPlaceHolder(strings.Join(a.Enum, ", "))
			}
			entries = append(entries, e)
			items = append(items, widget.NewFormItem(label(a.Name), e))
		}
		dialog.ShowForm(label(spec.Name), "Send", "Cancel", items, func(ok bool) {
			if !ok {
				return
			}
			args := []string{spec.Name}
			for _, e := range entries {
				args = append(args, strings.TrimSpace(e.Text))
			}
			u.send(id, strings.Join(args, " "), "", nil)
		}, u.win)
	})
}

// mainControl is the one control a card shows: a switch for the first
// writable on/off property (a Lock/Unlock button when it is "locked"), a
// stepper for the first writable number with a range, else the first
// declared command without arguments; nil when there is none.
func mainControl(u *UI, t *app.Thing) control {
	caps := t.Capabilities
	if caps == nil {
		return nil
	}
	for _, p := range caps.Properties {
		if p.Writable && p.Type == wire.TypeBool {
			if p.Name == "locked" {
				return newLockButton(u, t, p.Name)
			}
			return newSwitch(u, t, p.Name)
		}
	}
	for _, p := range caps.Properties {
		if p.Writable && ranged(p) {
			return newStepper(u, t, p)
		}
	}
	for _, s := range caps.Commands {
		if len(s.Args) == 0 {
			return &buttonControl{b: commandButton(u, t, s)}
		}
	}
	return nil
}

func ranged(p wire.Property) bool {
	return (p.Type == wire.TypeInt || p.Type == wire.TypeFloat) && p.Min != nil && p.Max != nil && *p.Max > *p.Min
}

type buttonControl struct{ b *widget.Button }

func (c *buttonControl) object() fyne.CanvasObject { return c.b }
func (c *buttonControl) update(*app.Thing)         {}

// lockButton shows Lock when unlocked and Unlock when locked.
type lockButton struct {
	bound
	b *widget.Button
}

func newLockButton(u *UI, t *app.Thing, prop string) *lockButton {
	c := &lockButton{bound: bound{u: u, id: t.ID, prop: prop}}
	c.b = widget.NewButtonWithIcon("", nil, func() {
		th := u.things[c.id]
		locked, _ := th.State[c.prop].AsBool()
		cmd := "lock"
		if locked {
			cmd = "unlock"
		}
		if _, ok := th.Capabilities.Command(cmd); !ok {
			cmd = "set " + c.prop + " " + boolText(!locked)
		}
		c.b.SetText(map[bool]string{true: "Unlocking…", false: "Locking…"}[locked])
		c.b.Disable()
		u.send(c.id, cmd, c.prop, func() { c.update(c.thing()) })
	})
	c.update(t)
	return c
}

func (c *lockButton) object() fyne.CanvasObject { return c.b }

func (c *lockButton) update(t *app.Thing) {
	if c.waiting() {
		return
	}
	c.b.Enable()
	if locked, _ := t.State[c.prop].AsBool(); locked {
		c.b.SetText("Unlock")
		c.b.SetIcon(icon("unlock"))
		c.b.Importance = widget.MediumImportance
	} else {
		c.b.SetText("Lock")
		c.b.SetIcon(icon("lock"))
		c.b.Importance = widget.HighImportance
	}
	c.b.Refresh()
}
