package ui

import (
	"fmt"
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/thingpost/thingpost/app"
)

// page is one screen on the navigation stack.
type page struct {
	// name says which screen it is ("home", "thing", "scan", ...), for
	// the debug log that scripts follow.
	name    string
	title   string
	content fyne.CanvasObject
	// actions are buttons for the right of the header.
	actions []fyne.CanvasObject
	// focus gets the keyboard focus when the page shows.
	focus fyne.Focusable
	// onClose runs when the page leaves the stack.
	onClose func()
}

// setRoot replaces the whole stack with p.
func (u *UI) setRoot(p *page) {
	for i := len(u.stack) - 1; i >= 0; i-- {
		u.closePage(u.stack[i])
	}
	u.stack = []*page{p}
	u.render()
}

// push shows p on top of the current page, with a back button.
func (u *UI) push(p *page) {
	u.stack = append(u.stack, p)
	u.render()
}

// back returns to the page below, if there is one.
func (u *UI) back() {
	if len(u.stack) < 2 {
		return
	}
	top := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	u.closePage(top)
	u.render()
}

// home returns to the bottom of the stack.
func (u *UI) backToRoot() {
	for len(u.stack) > 1 {
		u.back()
	}
}

func (u *UI) closePage(p *page) {
	if p.onClose != nil {
		p.onClose()
		p.onClose = nil
	}
}

func (u *UI) top() *page {
	if len(u.stack) == 0 {
		return nil
	}
	return u.stack[len(u.stack)-1]
}

func (u *UI) render() {
	p := u.top()
	u.log.Debug("screen", "name", p.name, "title", p.title)
	u.body.Objects = []fyne.CanvasObject{p.content}
	u.body.Refresh()
	u.refreshHeader()
	c := u.win.Canvas()
	if p.focus != nil && !isMobile() {
		// On a phone focusing would pop the keyboard up unasked.
		c.Focus(p.focus)
	} else {
		c.Unfocus()
	}
}

// refreshHeader redraws the bar above the page: back, title, connection
// status and the page's actions.
func (u *UI) refreshHeader() {
	p := u.top()
	if p == nil {
		return
	}
	title := widget.NewLabelWithStyle(p.title, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	title.SizeName = theme.SizeNameSubHeadingText
	title.Truncation = fyne.TextTruncateEllipsis
	var left []fyne.CanvasObject
	if len(u.stack) > 1 {
		b := widget.NewButtonWithIcon("", theme.NavigateBackIcon(), u.back)
		b.Importance = widget.LowImportance
		left = append(left, b)
	} else {
		left = append(left, container.NewPadded(sizedIcon(appIcon(), 28)))
	}
	right := []fyne.CanvasObject{}
	if u.started {
		right = append(right, u.connChip())
	}
	right = append(right, p.actions...)
	bar := container.NewBorder(nil, nil, container.NewHBox(left...), container.NewHBox(right...), title)
	bg := canvas.NewRectangle(theme.Color(theme.ColorNameHeaderBackground))
	line := canvas.NewRectangle(theme.Color(colorCardBorder))
	line.SetMinSize(fyne.NewSize(1, 1))
	u.header.Objects = []fyne.CanvasObject{container.NewStack(bg,
		container.NewBorder(nil, line, nil, nil, container.NewPadded(bar)))}
	u.header.Refresh()
}

// connChip shows the mail connection: a coloured dot and a word; tapping
// it explains.
func (u *UI) connChip() fyne.CanvasObject {
	text, col := connSummary(u.conn)
	dot := canvas.NewCircle(col)
	dotBox := container.NewGridWrap(fyne.NewSize(10, 10), dot)
	if isMobile() {
		return container.NewCenter(dotBox) // the words are in Settings
	}
	b := widget.NewButton(text, func() {
		msg := connDetail(u.conn)
		dialog.ShowInformation("Connection", msg, u.win)
	})
	b.Importance = widget.LowImportance
	return container.NewHBox(container.NewCenter(dotBox), b)
}

func connSummary(s app.ConnStatus) (string, color.Color) {
	text, col := "Offline", theme.Color(theme.ColorNameDisabled)
	switch s.State {
	case app.ConnIdle:
		text, col = "Connected", theme.Color(theme.ColorNameSuccess)
	case app.ConnCatchingUp:
		text, col = "Catching up…", theme.Color(theme.ColorNameSuccess)
	case app.ConnConnecting:
		text, col = "Connecting…", theme.Color(theme.ColorNameWarning)
	case app.ConnReconnecting:
		text, col = "Reconnecting…", theme.Color(theme.ColorNameWarning)
	}
	if s.Err != "" && s.State != app.ConnIdle {
		col = theme.Color(theme.ColorNameError)
	}
	if s.Outbox > 0 {
		text += fmt.Sprintf(" · %d to send", s.Outbox)
	}
	return text, col
}

func connDetail(s app.ConnStatus) string {
	msg := "Mailbox: " + string(s.State) + "."
	if s.Err != "" {
		msg += "\nLast problem: " + s.Err
	}
	if s.Retry > 0 {
		msg += fmt.Sprintf("\nNext attempt in %s.", s.Retry.Round(1e9))
	}
	switch s.Outbox {
	case 0:
		msg += "\nNothing waits to be sent."
	case 1:
		msg += "\nOne message waits to be sent; it is kept until it goes out."
	default:
		msg += fmt.Sprintf("\n%d messages wait to be sent; they are kept until they go out.", s.Outbox)
	}
	return msg
}

// layoutSpacer fills the remaining space in a box.
func layoutSpacer() fyne.CanvasObject { return layout.NewSpacer() }
