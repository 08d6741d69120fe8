package ui

import (
	"image/color"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/thingpost/thingpost/assets"
)

func isMobile() bool { return fyne.CurrentDevice().IsMobile() }

func appIcon() fyne.Resource {
	return fyne.NewStaticResource("thingpost.png", assets.AppIconPNG())
}

// icon returns one of the assets' SVG icons, coloured for the theme.
func icon(name string) fyne.Resource {
	return theme.NewThemedResource(fyne.NewStaticResource(name+".svg", assets.Icon(name)))
}

// kindIcon is a thing kind's icon in the given colour.
func kindIcon(kind string, col fyne.ThemeColorName) fyne.Resource {
	res := fyne.NewStaticResource("kind-"+kind+".svg", assets.KindIcon(kind))
	return theme.NewColoredResource(res, col)
}

// sizedIcon shows res at size x size.
func sizedIcon(res fyne.Resource, size float32) *canvas.Image {
	img := canvas.NewImageFromResource(res)
	img.FillMode = canvas.ImageFillContain
	img.SetMinSize(fyne.NewSize(size, size))
	return img
}

// fixedWidth lets o be at least w wide (a wrapping label in a centred
// column); on a phone at most 320, which fits the narrowest in portrait.
func fixedWidth(o fyne.CanvasObject, w float32) fyne.CanvasObject {
	if isMobile() {
		w = min(w, 320)
	}
	spacer := canvas.NewRectangle(color.Transparent)
	spacer.SetMinSize(fyne.NewSize(w, 0))
	return container.NewStack(spacer, o)
}

// heading is a bold title line.
func heading(text string) *widget.Label {
	l := widget.NewLabelWithStyle(text, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	l.SizeName = theme.SizeNameSubHeadingText
	return l
}

// hint is a wrapping explanatory text.
func hint(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.Wrapping = fyne.TextWrapWord
	l.Importance = widget.LowImportance
	return l
}

// wrapLabel is a wrapping label.
func wrapLabel(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.Wrapping = fyne.TextWrapWord
	return l
}

// panel is a rounded card-coloured box around content.
func panel(content fyne.CanvasObject) fyne.CanvasObject {
	bg := canvas.NewRectangle(theme.Color(colorCard))
	bg.CornerRadius = 12
	bg.StrokeColor = theme.Color(colorCardBorder)
	bg.StrokeWidth = 1
	return container.NewStack(bg, container.NewPadded(container.NewPadded(content)))
}

// section is a panel with a bold title.
func section(title string, content ...fyne.CanvasObject) fyne.CanvasObject {
	l := widget.NewLabelWithStyle(title, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	return panel(container.NewVBox(append([]fyne.CanvasObject{l}, content...)...))
}

// toggle is an on/off switch: tap it, or focus it and press Space or
// Return. OnChanged is called with the new position.
type toggle struct {
	widget.DisableableWidget
	On        bool
	OnChanged func(on bool)
	// Label names the switch (for tests and screen readers' sake it is
	// what the switch controls).
	Label string

	focused, hovered bool
}

func newToggle(label string, on bool, changed func(bool)) *toggle {
	t := &toggle{On: on, OnChanged: changed, Label: label}
	t.ExtendBaseWidget(t)
	return t
}

// SetOn moves the switch without calling OnChanged.
func (t *toggle) SetOn(on bool) {
	if t.On != on {
		t.On = on
		t.Refresh()
	}
}

func (t *toggle) Tapped(*fyne.PointEvent) {
	if t.Disabled() {
		return
	}
	t.On = !t.On
	t.Refresh()
	if t.OnChanged != nil {
		t.OnChanged(t.On)
	}
}

func (t *toggle) FocusGained()                   { t.focused = true; t.Refresh() }
func (t *toggle) FocusLost()                     { t.focused = false; t.Refresh() }
func (t *toggle) TypedRune(rune)                 {}
func (t *toggle) MouseIn(*desktop.MouseEvent)    { t.hovered = true; t.Refresh() }
func (t *toggle) MouseMoved(*desktop.MouseEvent) {}
func (t *toggle) MouseOut()                      { t.hovered = false; t.Refresh() }
func (t *toggle) Cursor() desktop.Cursor         { return desktop.PointerCursor }

func (t *toggle) TypedKey(e *fyne.KeyEvent) {
	if e.Name == fyne.KeySpace || e.Name == fyne.KeyReturn || e.Name == fyne.KeyEnter {
		t.Tapped(nil)
	}
}

func (t *toggle) CreateRenderer() fyne.WidgetRenderer {
	r := &toggleRenderer{t: t, track: canvas.NewRectangle(color.Transparent), knob: canvas.NewCircle(color.White)}
	r.Refresh()
	return r
}

type toggleRenderer struct {
	t     *toggle
	track *canvas.Rectangle
	knob  *canvas.Circle
}

const toggleW, toggleH = 46, 26

func (r *toggleRenderer) Layout(size fyne.Size) {
	y := (size.Height - toggleH) / 2
	x := size.Width - toggleW
	r.track.Move(fyne.NewPos(x, y))
	r.track.Resize(fyne.NewSize(toggleW, toggleH))
	d := float32(toggleH - 6)
	kx := x + 3
	if r.t.On {
		kx = x + toggleW - 3 - d
	}
	r.knob.Move(fyne.NewPos(kx, y+3))
	r.knob.Resize(fyne.NewSize(d, d))
}

func (r *toggleRenderer) MinSize() fyne.Size { return fyne.NewSize(toggleW+2, toggleH+4) }

func (r *toggleRenderer) Refresh() {
	switch {
	case r.t.Disabled():
		r.track.FillColor = theme.Color(theme.ColorNameDisabledButton)
	case r.t.On:
		r.track.FillColor = theme.Color(theme.ColorNamePrimary)
	default:
		r.track.FillColor = theme.Color(theme.ColorNameInputBorder)
	}
	r.track.CornerRadius = toggleH / 2
	r.track.StrokeWidth = 0
	if r.t.focused {
		r.track.StrokeColor = theme.Color(theme.ColorNameFocus)
		r.track.StrokeWidth = 3
	} else if r.t.hovered {
		r.track.StrokeColor = theme.Color(theme.ColorNameHover)
		r.track.StrokeWidth = 2
	}
	r.knob.FillColor = color.White
	r.Layout(r.t.Size())
	r.track.Refresh()
	r.knob.Refresh()
}

func (r *toggleRenderer) Objects() []fyne.CanvasObject { return []fyne.CanvasObject{r.track, r.knob} }
func (r *toggleRenderer) Destroy()                     {}

// tapCard is a rounded card that opens something when tapped, or when it
// has the focus and Space or Return is pressed. Controls inside it get
// their own taps.
type tapCard struct {
	widget.BaseWidget
	content fyne.CanvasObject
	onTap   func()

	focused, hovered bool
}

func newTapCard(content fyne.CanvasObject, onTap func()) *tapCard {
	c := &tapCard{content: content, onTap: onTap}
	c.ExtendBaseWidget(c)
	return c
}

func (c *tapCard) Tapped(*fyne.PointEvent) {
	if c.onTap != nil {
		c.onTap()
	}
}
func (c *tapCard) FocusGained()   { c.focused = true; c.Refresh() }
func (c *tapCard) FocusLost()     { c.focused = false; c.Refresh() }
func (c *tapCard) TypedRune(rune) {}
func (c *tapCard) TypedKey(e *fyne.KeyEvent) {
	if e.Name == fyne.KeySpace || e.Name == fyne.KeyReturn || e.Name == fyne.KeyEnter {
		c.Tapped(nil)
	}
}
func (c *tapCard) MouseIn(*desktop.MouseEvent)    { c.hovered = true; c.Refresh() }
func (c *tapCard) MouseMoved(*desktop.MouseEvent) {}
func (c *tapCard) MouseOut()                      { c.hovered = false; c.Refresh() }
func (c *tapCard) Cursor() desktop.Cursor         { return desktop.PointerCursor }

func (c *tapCard) CreateRenderer() fyne.WidgetRenderer {
	bg := canvas.NewRectangle(color.Transparent)
	r := &tapCardRenderer{c: c, bg: bg, inner: container.NewPadded(container.NewPadded(c.content))}
	r.Refresh()
	return r
}

type tapCardRenderer struct {
	c     *tapCard
	bg    *canvas.Rectangle
	inner *fyne.Container
}

func (r *tapCardRenderer) Layout(s fyne.Size) {
	r.bg.Resize(s)
	r.inner.Resize(s)
}
func (r *tapCardRenderer) MinSize() fyne.Size { return r.inner.MinSize() }
func (r *tapCardRenderer) Refresh() {
	r.bg.FillColor = theme.Color(colorCard)
	r.bg.CornerRadius = 14
	r.bg.StrokeColor = theme.Color(colorCardBorder)
	r.bg.StrokeWidth = 1
	switch {
	case r.c.focused:
		r.bg.StrokeColor = theme.Color(theme.ColorNamePrimary)
		r.bg.StrokeWidth = 2
	case r.c.hovered:
		r.bg.StrokeColor = theme.Color(theme.ColorNameInputBorder)
		r.bg.StrokeWidth = 1.5
	}
	r.bg.Refresh()
	r.inner.Refresh()
}
func (r *tapCardRenderer) Objects() []fyne.CanvasObject { return []fyne.CanvasObject{r.bg, r.inner} }
func (r *tapCardRenderer) Destroy()                     {}

// toast is a short message at the bottom of the window that goes away by
// itself.
type toast struct {
	box   *fyne.Container
	label *widget.Label
	seq   int
}

func newToast() *toast {
	l := widget.NewLabel("")
	l.Wrapping = fyne.TextWrapWord
	l.Alignment = fyne.TextAlignCenter
	bg := canvas.NewRectangle(theme.Color(theme.ColorNameOverlayBackground))
	bg.CornerRadius = 10
	bg.StrokeColor = theme.Color(colorCardBorder)
	bg.StrokeWidth = 1
	box := container.NewStack(bg, container.NewPadded(fixedWidth(l, 420)))
	box.Hide()
	return &toast{box: container.NewPadded(box), label: l}
}

// showToast shows msg for a few seconds.
func (u *UI) showToast(msg string) {
	t := u.toast
	t.seq++
	seq := t.seq
	t.label.SetText(msg)
	t.box.Objects[0].Show()
	t.box.Refresh()
	time.AfterFunc(5*time.Second, func() {
		u.post(func() {
			if t.seq == seq {
				t.box.Objects[0].Hide()
				t.box.Refresh()
			}
		})
	})
}

// notifyError shows a failure as a toast, with what was being done.
func (u *UI) notifyError(what string, err error) {
	u.log.Info(what, "err", err)
	u.showToast(what + ": " + err.Error())
}
