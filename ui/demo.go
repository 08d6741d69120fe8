package ui

import (
	"context"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/thingpost/thingpost/demo"
)

// demoHome is the demo home the Host runs: its things with their factory
// codes. The Host owns the home (it starts it again after a restart, and
// Close stops it); the screen only shows it.
type demoHome struct {
	u      *UI
	things []*demo.Thing
	tiles  *fyne.Container // the demo screen's tiles, when shown
}

// startDemo has the Host start the demo home (making the profile when
// there is none) and connects to it; the first time it shows the demo
// things.
// done, if not nil, gets the error.
func (u *UI) startDemo(name string, passphrase []byte, first bool, done func(error)) {
	u.background(func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		d, err := u.host.Run(ctx, demo.RunOptions{Name: name, Passphrase: passphrase})
		if err != nil {
			return err
		}
		u.post(func() {
			u.setDemo(d.Things)
			u.activate()
			if first || u.home == nil {
				u.showHome()
				u.showDemo()
			}
		})
		return nil
	}, func(err error) {
		if err != nil {
			u.notifyError("Demo home", err)
		}
		if done != nil {
			done(err)
		}
	})
}

// setDemo follows the demo home the Host runs: its things, or nil when
// none runs here or the account is not the demo's. Home offers the demo things while there are
// some.
func (u *UI) setDemo(things []*demo.Thing) {
	had := u.demo != nil
	switch {
	case things == nil:
		u.demo = nil
	case u.demo == nil:
		u.demo = &demoHome{u: u, things: things}
	default:
		u.demo.things = things
		u.demo.refresh()
	}
	if had == (u.demo != nil) || u.home == nil || len(u.stack) == 0 || u.stack[0].name != "home" {
		return
	}
	u.stack[0].actions = u.homeActions()
	u.home.rebuild()
	u.refreshHeader()
}

// showDemo shows the demo things, each with its code and a button that
// scans that code the way a real thing's label is scanned.
func (u *UI) showDemo() {
	if u.demo == nil {
		return
	}
	u.demo.tiles = container.New(&centredFlow{cell: fyne.NewSize(250, 390)})
	if isMobile() {
		u.demo.tiles = container.NewVBox()
	}
	first := u.demo.refresh()
	intro := hint("Your demo home runs inside this app: a mail server on this device and three simulated things. " +
		"Pair with each by scanning its code, the same way you would scan the label of a real thing. " +
		"The first person to pair with a thing becomes its owner.")
	done := widget.NewButton("Go to my home", u.backToRoot)
	col := container.NewVBox(intro, u.demo.tiles, container.NewCenter(done))
	p := &page{name: "demo", title: "Demo home", content: container.NewVScroll(container.NewPadded(col)), onClose: func() {
		if u.demo != nil {
			u.demo.tiles = nil
		}
	}}
	if first != nil {
		p.focus = first
	} else {
		p.focus = done
	}
	u.push(p)
}

// refresh redraws the tiles (a thing was paired) and returns the first
// scan button, if any, for the keyboard focus.
func (d *demoHome) refresh() *widget.Button {
	if d.tiles == nil {
		return nil
	}
	var first *widget.Button
	d.tiles.Objects = nil
	for _, t := range d.things {
		tile, scan := d.tile(t)
		if first == nil {
			first = scan
		}
		d.tiles.Add(tile)
	}
	d.tiles.Refresh()
	return first
}

// tile is one demo thing; scan is its scan button (nil once paired).
func (d *demoHome) tile(t *demo.Thing) (tile fyne.CanvasObject, scan *widget.Button) {
	u := d.u
	qr := canvas.NewImageFromResource(fyne.NewStaticResource(t.Kind+"-code.png", t.QR))
	qr.FillMode = canvas.ImageFillContain
	qr.ScaleMode = canvas.ImageScalePixels
	qr.SetMinSize(fyne.NewSize(170, 170))
	name := heading(t.Name)
	name.Alignment = fyne.TextAlignCenter
	addr := hint(t.Addr)
	addr.Alignment = fyne.TextAlignCenter
	addr.Wrapping = fyne.TextWrapOff
	var action fyne.CanvasObject
	if _, paired := u.things[t.Fingerprint]; paired {
		id := t.Fingerprint
		open := widget.NewButtonWithIcon("Paired: open", theme.ConfirmIcon(), func() {
			u.backToRoot()
			u.showThing(id)
		})
		row := []fyne.CanvasObject{open}
		if t.Kind == "lock" {
			// What happens to the lock in the world (someone opens the
			// door), so that its events can be seen.
			row = append(row, u.demoAction("Open the door", u.host.OpenDoor), u.demoAction("Close the door", u.host.CloseDoor))
		}
		action = container.NewVBox(row...)
	} else {
		code := t.QR
		scan = widget.NewButtonWithIcon("Scan this code", icon("scan"), func() { u.scanImage(code) })
		scan.Importance = widget.HighImportance
		action = scan
	}
	head := container.NewHBox(sizedIcon(kindIcon(t.Kind, theme.ColorNamePrimary), 22), name)
	return panel(container.NewVBox(container.NewCenter(head), container.NewCenter(qr), addr, container.NewCenter(action))), scan
}

// demoAction is a button that runs a simulation of the demo home.
func (u *UI) demoAction(label string, run func() error) *widget.Button {
	b := widget.NewButton(label, func() {
		u.background(func(context.Context) error { return run() }, func(err error) {
			if err != nil {
				u.showToast(label + ": " + err.Error())
			}
		})
	})
	b.Importance = widget.LowImportance
	return b
}

// centredFlow lays out cells of one size in rows, each row centred.
type centredFlow struct {
	cell fyne.Size
	cols int // per row at the last layout (MinSize cannot know the width)
}

func (f *centredFlow) perRow(width float32) int {
	pad := theme.Padding()
	return max(1, int((width+pad)/(f.cell.Width+pad)))
}

func (f *centredFlow) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	pad := theme.Padding()
	n := f.perRow(size.Width)
	f.cols = n
	for i, o := range objs {
		row, col := i/n, i%n
		inRow := min(n, len(objs)-row*n)
		rowWidth := float32(inRow)*(f.cell.Width+pad) - pad
		x := (size.Width-rowWidth)/2 + float32(col)*(f.cell.Width+pad)
		o.Move(fyne.NewPos(x, float32(row)*(f.cell.Height+pad)))
		o.Resize(f.cell)
	}
}

func (f *centredFlow) MinSize(objs []fyne.CanvasObject) fyne.Size {
	if len(objs) == 0 {
		return fyne.Size{}
	}
	cols := max(1, f.cols)
	if f.cols == 0 {
		cols = len(objs) // before the first layout: one row
	}
	rows := (len(objs) + cols - 1) / cols
	return fyne.NewSize(f.cell.Width, float32(rows)*(f.cell.Height+theme.Padding())-theme.Padding())
}
