package ui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/thingpost/thingpost/app"
	"github.com/thingpost/thingpost/internal/qr"
	"github.com/thingpost/thingpost/mobile"
	"github.com/thingpost/thingpost/wire"
)

// scanScreen adds a thing: a picture of its code (chosen, dropped on the
// window, or handed over by the demo screen) or the code pasted as text,
// then the pairing with its progress.
type scanScreen struct {
	u     *UI
	paste *widget.Entry
	pick  *widget.Button

	msg     *widget.Label
	msgBox  fyne.CanvasObject
	prog    *pairProgress
	busy    bool
	content fyne.CanvasObject
}

// showScan opens the scan screen (or returns the one already open).
func (u *UI) showScan() *scanScreen {
	if u.scan != nil {
		for len(u.stack) > 1 && u.top().content != u.scan.content {
			u.back()
		}
		return u.scan
	}
	if u.core == nil || u.core.Locked() {
		return nil
	}
	s := &scanScreen{u: u}
	s.pick = widget.NewButtonWithIcon("Choose a picture of the code…", theme.FolderOpenIcon(), s.pickFile)
	s.pick.Importance = widget.HighImportance
	s.paste = widget.NewMultiLineEntry()
	s.paste.SetPlaceHolder("https://i.delta.chat/#…  or  OPENPGP4FPR:…")
	s.paste.SetMinRowsVisible(3)
	s.paste.Wrapping = fyne.TextWrapBreak
	pasteBtn := widget.NewButtonWithIcon("Paste", theme.ContentPasteIcon(), func() {
		s.paste.SetText(strings.TrimSpace(u.fa.Clipboard().Content()))
	})
	pairBtn := widget.NewButtonWithIcon("Pair", theme.ConfirmIcon(), func() { s.pairText(s.paste.Text) })
	s.msg = widget.NewLabel("")
	s.msg.Wrapping = fyne.TextWrapWord
	s.msg.Importance = widget.DangerImportance
	s.msgBox = container.NewBorder(nil, nil, container.NewVBox(sizedIcon(theme.NewErrorThemedResource(theme.ErrorIcon()), 22)), nil, s.msg)
	s.msgBox.Hide()
	s.prog = newPairProgress(u)

	dropText := "Take a photo of the QR code on the thing's label or screen, then choose it here. " +
		"You can also drop the picture onto this window."
	if isMobile() {
		dropText = "Take a photo of the QR code on the thing's label or screen, then choose it here."
	}
	picture := panel(container.NewBorder(nil, nil, container.NewCenter(sizedIcon(icon("scan"), 48)), nil,
		container.NewVBox(heading("Scan a thing's code"), hint(dropText), container.NewHBox(s.pick))))
	text := section("Or paste the code", s.paste, container.NewHBox(pasteBtn, pairBtn))
	col := container.NewVBox(s.prog.box, s.msgBox, picture, text)
	s.content = container.NewVScroll(container.NewPadded(col))
	u.scan = s
	u.push(&page{name: "scan", title: "Add a thing", content: s.content, focus: s.pick, onClose: func() {
		if u.scan == s {
			u.scan = nil
		}
	}})
	return s
}

// pickFile lets the person choose a picture: the file dialog on a
// desktop, the system picker on a phone (where a photo just taken can be
// chosen).
func (s *scanScreen) pickFile() {
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil {
			s.fail("Cannot open the picture: " + err.Error())
			return
		}
		if r == nil {
			return
		}
		s.readAndScan(r.URI().Name(), func() (io.ReadCloser, error) { return r, nil })
	}, s.u.win)
	if mobile.PickByMIME() {
		d.SetFilter(storage.NewMimeTypeFileFilter(mobile.ImageMIMETypes()))
	} else {
		d.SetFilter(storage.NewExtensionFileFilter(mobile.ImageExtensions()))
	}
	d.Resize(fyne.NewSize(760, 520))
	d.Show()
}

// dropped takes pictures dropped onto the window: the first one is
// scanned.
func (u *UI) dropped(_ fyne.Position, uris []fyne.URI) {
	if len(uris) == 0 {
		return
	}
	s := u.showScan()
	if s == nil {
		return
	}
	uri := uris[0]
	s.readAndScan(uri.Name(), func() (io.ReadCloser, error) { return storage.Reader(uri) })
}

// readAndScan reads a picture off the UI goroutine and scans it.
func (s *scanScreen) readAndScan(name string, open func() (io.ReadCloser, error)) {
	if s.busy {
		s.u.showToast("Wait until the current pairing is finished.")
		return
	}
	s.start("Reading " + name + "…")
	var data []byte
	s.u.background(func(context.Context) error {
		r, err := open()
		if err != nil {
			return err
		}
		defer r.Close()
		data, err = io.ReadAll(io.LimitReader(r, qr.MaxImageBytes+1))
		return err
	}, func(err error) {
		s.busy = false
		if err != nil {
			s.fail("Cannot read " + name + ": " + err.Error())
			return
		}
		s.scanImage(data)
	})
}

// scanImage finds the code in a picture and pairs with it.
func (u *UI) scanImage(data []byte) {
	if s := u.showScan(); s != nil {
		s.scanImage(data)
	}
}

func (s *scanScreen) scanImage(data []byte) {
	if s.busy {
		s.u.showToast("Wait until the current pairing is finished.")
		return
	}
	s.start("Looking for a code in the picture…")
	var code string
	s.u.background(func(context.Context) error {
		var err error
		code, err = qr.Decode(data)
		return err
	}, func(err error) {
		s.busy = false
		switch {
		case errors.Is(err, qr.ErrNoCode):
			s.fail("No QR code found in this picture. Take it again with the whole code in view, sharp and not too small, and choose it again.")
		case errors.Is(err, qr.ErrBadImage):
			s.fail("This file is not a picture Thingpost can read: choose a PNG or JPEG photo of the code.")
		case err != nil:
			s.fail(err.Error())
		default:
			s.pair(code)
		}
	})
}

// pairText pairs with a pasted code.
func (s *scanScreen) pairText(text string) {
	text = strings.TrimSpace(text)
	if text == "" {
		s.fail("Paste a code first: it starts with https://i.delta.chat/# or OPENPGP4FPR:.")
		return
	}
	if s.busy {
		s.u.showToast("Wait until the current pairing is finished.")
		return
	}
	s.pair(text)
}

// pair reads the code, shows whom it names and runs the pairing; its
// progress comes as events. A code that is not a thing's invite is
// refused before anything is sent.
func (s *scanScreen) pair(code string) {
	u := s.u
	info, err := app.ParseInvite(code)
	if err != nil {
		s.fail(inviteProblem(err))
		return
	}
	s.start("")
	s.prog.reset()
	s.prog.invite(info)
	u.background(func(ctx context.Context) error {
		t, err := u.core.Pair(ctx, code)
		if err == nil {
			u.post(func() {
				u.things[t.ID] = t
				s.prog.done(t)
			})
		}
		return err
	}, func(err error) {
		s.busy = false
		s.pick.Enable()
		switch {
		case err == nil:
		case errors.Is(err, app.ErrNotRunning):
			s.fail("Not connected to your mail account yet. Wait until the connection is up, then try again.")
		case errors.Is(err, app.ErrNotInvite), errors.Is(err, app.ErrBadInvite), errors.Is(err, app.ErrGroupInvite):
			s.fail(inviteProblem(err))
		default:
			s.prog.failed(err)
		}
	})
}

// inviteHints say why a code cannot be paired with.
var inviteHints = []errorHint{
	{[]error{app.ErrContactCode}, "This is a person's code (their “My code”), not a thing's: it tells who they are, and nothing can be paired with it. A thing's code is on its label or its screen."},
	{[]error{app.ErrGroupInvite}, "This is an invite to a Delta Chat group or channel, not a thing's code."},
	{[]error{app.ErrBadInvite}, "This looks like an invite, but it is damaged or incomplete: scan the code again, or copy all of it."},
}

// inviteProblem says why a code cannot be paired with.
func inviteProblem(err error) string {
	msg := hintFor(err, inviteHints)
	if msg == "" {
		msg = "This code is not an invite from a thing. A thing's code is a Thingpost or Delta Chat invite (https://i.delta.chat/#… or OPENPGP4FPR:…)."
	}
	return msg + "\n(" + err.Error() + ")"
}

// start shows that work began: no old message, no second attempt.
func (s *scanScreen) start(status string) {
	s.busy = true
	s.pick.Disable()
	s.msgBox.Hide()
	if status != "" {
		s.prog.status(status)
	}
}

// fail shows what went wrong, in words.
func (s *scanScreen) fail(msg string) {
	s.busy = false
	s.pick.Enable()
	s.prog.box.Hide()
	s.msg.SetText(msg)
	s.msgBox.Show()
}

// progress shows a pairing event.
func (s *scanScreen) progress(p app.PairingStatus) {
	s.prog.step(p)
}

// pairProgress shows a pairing: the thing's name, address and key, and
// the steps done.
type pairProgress struct {
	u      *UI
	title  *widget.Label
	addr   *widget.Label
	fpr    *widget.Label
	steps  []*stepRow
	result *widget.Label
	open   *widget.Button
	more   *widget.Button
	box    *fyne.Container
	thing  string
	last   app.PairingStatus // the newest step shown
}

type stepRow struct {
	done, wait, fail fyne.CanvasObject
	label            *widget.Label
	row              fyne.CanvasObject
}

func newStepRow(text string) *stepRow {
	r := &stepRow{
		done:  sizedIcon(theme.NewSuccessThemedResource(theme.ConfirmIcon()), 18),
		wait:  sizedIcon(theme.NewDisabledResource(theme.RadioButtonIcon()), 18),
		fail:  sizedIcon(theme.NewErrorThemedResource(theme.CancelIcon()), 18),
		label: widget.NewLabel(text),
	}
	r.row = container.NewHBox(container.NewStack(r.done, r.wait, r.fail), r.label)
	r.set(0)
	return r
}

// set: 0 waiting, 1 done, -1 failed.
func (r *stepRow) set(state int) {
	r.done.Hide()
	r.wait.Hide()
	r.fail.Hide()
	switch state {
	case 1:
		r.done.Show()
		r.label.Importance = widget.MediumImportance
	case -1:
		r.fail.Show()
		r.label.Importance = widget.DangerImportance
	default:
		r.wait.Show()
		r.label.Importance = widget.LowImportance
	}
	r.label.Refresh()
}

func newPairProgress(u *UI) *pairProgress {
	p := &pairProgress{u: u, title: heading(""), addr: widget.NewLabel(""),
		fpr: widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Monospace: true}), result: widget.NewLabel("")}
	p.fpr.Wrapping = fyne.TextWrapWord
	p.result.Wrapping = fyne.TextWrapWord
	for _, s := range []string{"Asked the thing to pair", "Its key matches the code", "The thing accepted you", "It told what it can do"} {
		p.steps = append(p.steps, newStepRow(s))
	}
	p.open = widget.NewButton("Open", func() {
		if p.thing != "" {
			u.backToRoot()
			u.showThing(p.thing)
		}
	})
	p.open.Importance = widget.HighImportance
	p.more = widget.NewButton("Back to my home", u.backToRoot)
	var rows []fyne.CanvasObject
	rows = append(rows, p.title, p.addr, p.fpr)
	for _, s := range p.steps {
		rows = append(rows, s.row)
	}
	rows = append(rows, p.result, container.NewHBox(p.open, p.more))
	p.box = container.NewVBox(panel(container.NewVBox(rows...)))
	p.box.Hide()
	return p
}

func (p *pairProgress) reset() {
	p.thing = ""
	p.last = app.PairingStatus{}
	p.title.SetText("Pairing…")
	p.addr.SetText("")
	p.fpr.SetText("")
	for _, s := range p.steps {
		s.set(0)
	}
	p.result.SetText("")
	p.result.Hide()
	p.open.Hide()
	p.more.Hide()
	p.box.Show()
}

// invite shows whom the code names, before the thing has said anything.
func (p *pairProgress) invite(info app.InviteInfo) {
	name := info.Name
	if name == "" {
		name = info.Addr
	}
	p.title.SetText("Pairing with " + name)
	p.addr.SetText(info.Addr)
	p.fpr.SetText("Key " + fingerprintGroups(info.Fingerprint))
}

// status shows a line of work before the pairing starts.
func (p *pairProgress) status(text string) {
	p.reset()
	p.title.SetText(text)
}

func (p *pairProgress) step(s app.PairingStatus) {
	if p.thing != "" {
		return // done; the last events may come after Pair returned
	}
	p.last = s
	name := s.ThingName
	if name == "" {
		name = s.ThingAddr
	}
	if name != "" {
		p.title.SetText("Pairing with " + name)
	}
	p.addr.SetText(s.ThingAddr)
	if s.Fingerprint != "" {
		p.fpr.SetText("Key " + fingerprintGroups(s.Fingerprint))
	}
	n := map[app.PairingStep]int{app.PairRequested: 1, app.PairVerified: 2, app.PairJoined: 3, app.PairDescribed: 4}[s.Step]
	if s.Step == app.PairFailed {
		for i, r := range p.steps {
			if r.done.Visible() {
				continue
			}
			r.set(-1)
			for _, rest := range p.steps[i+1:] {
				rest.set(0)
			}
			break
		}
		p.result.SetText(s.Err)
		p.result.Importance = widget.DangerImportance
		p.result.Show()
		return
	}
	for i, r := range p.steps {
		if i < n {
			r.set(1)
		}
	}
}

func (p *pairProgress) done(t app.Thing) {
	p.u.log.Info("paired", "thing", t.DisplayName(), "addr", t.Addr)
	p.thing = t.ID
	for _, r := range p.steps {
		r.set(1)
	}
	p.title.SetText("Paired with " + t.DisplayName())
	p.addr.SetText(t.Addr)
	p.fpr.SetText("Key " + fingerprintGroups(t.ID))
	p.result.SetText(fmt.Sprintf("%s is now in your home. Only you can use it until you invite someone.", t.DisplayName()))
	if t.Role != "" && t.Role != wire.RoleOwner {
		p.result.SetText(fmt.Sprintf("%s is now in your home; you are %s.", t.DisplayName(), t.Role))
	}
	p.result.Importance = widget.SuccessImportance
	p.result.Show()
	p.open.SetText("Open " + t.DisplayName())
	p.open.Show()
	p.more.Show()
	if !isMobile() {
		p.u.win.Canvas().Focus(p.open)
	}
}

// failed shows why Pair failed, unless a failure event said it already.
func (p *pairProgress) failed(err error) {
	if p.last.Step != app.PairFailed {
		s := p.last
		s.Step, s.Err = app.PairFailed, "Pairing failed: "+strings.TrimPrefix(err.Error(), "pairing failed: ")
		p.step(s)
	}
	p.more.Show()
}
