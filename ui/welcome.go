package ui

import (
	"context"
	"errors"
	"io"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/thingpost/thingpost/app"
)

// minPassphrase is the shortest passphrase accepted for a new identity.
const minPassphrase = 8

// showWelcome is the first run: try the demo, create an identity or
// restore one.
func (u *UI) showWelcome() {
	logo := sizedIcon(appIcon(), 96)
	title := widget.NewLabelWithStyle("Welcome to Thingpost", fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	title.SizeName = theme.SizeNameHeadingText
	sub := hint("Your things, controlled by end-to-end encrypted email: every command signed by your key, every answer verified.")
	sub.Alignment = fyne.TextAlignCenter
	demo := widget.NewButtonWithIcon("Try the demo home", theme.MediaPlayIcon(), u.showDemoSetup)
	demo.Importance = widget.HighImportance
	create := widget.NewButtonWithIcon("Create my identity", theme.AccountIcon(), u.showCreate)
	restore := widget.NewButtonWithIcon("Restore from a key backup", theme.UploadIcon(), u.showImport)
	demoHint := hint("The demo runs a small mail server and three simulated things (a light, a thermostat and a lock) inside this app, on this device only.")
	demoHint.Alignment = fyne.TextAlignCenter
	col := container.NewVBox(container.NewCenter(logo), title, fixedWidth(sub, 420),
		widget.NewSeparator(), demo, fixedWidth(demoHint, 420), create, restore)
	u.setRoot(&page{name: "welcome", title: "Thingpost", content: container.NewCenter(container.NewPadded(col)), focus: demo})
}

// passphraseFields are a new passphrase and its repetition.
type passphraseFields struct {
	pass, again *widget.Entry
}

func newPassphraseFields() passphraseFields {
	f := passphraseFields{pass: widget.NewPasswordEntry(), again: widget.NewPasswordEntry()}
	f.pass.SetPlaceHolder("at least 8 characters")
	return f
}

// items are the fields in a form: the passphrase, named label, and its
// repetition.
func (f passphraseFields) items(label string) []*widget.FormItem {
	return []*widget.FormItem{widget.NewFormItem(label, f.pass), widget.NewFormItem("Repeat it", f.again)}
}

// check returns the passphrase, or what is wrong with it.
func (f passphraseFields) check() ([]byte, error) {
	switch {
	case len([]rune(f.pass.Text)) < minPassphrase:
		return nil, errors.New("the passphrase needs at least 8 characters")
	case f.pass.Text != f.again.Text:
		return nil, errors.New("the two passphrases differ")
	}
	return []byte(f.pass.Text), nil
}

// formPage is a centred form with a title, an explanation, an error line
// and a button that runs submit.
type formPage struct {
	err    *widget.Label
	button *widget.Button
	busy   *widget.ProgressBarInfinite
	box    fyne.CanvasObject
}

func newFormPage(title, explain string, items []*widget.FormItem, action string, submit func()) *formPage {
	f := &formPage{err: widget.NewLabel(""), busy: widget.NewProgressBarInfinite()}
	f.err.Importance = widget.DangerImportance
	f.err.Wrapping = fyne.TextWrapWord
	f.err.Hide()
	f.busy.Hide()
	form := widget.NewForm(items...)
	f.button = widget.NewButton(action, submit)
	f.button.Importance = widget.HighImportance
	for _, it := range items {
		if e, ok := it.Widget.(*widget.Entry); ok && !e.MultiLine {
			e.OnSubmitted = func(string) { submit() }
		}
	}
	col := container.NewVBox(heading(title), hint(explain), form, f.err, f.busy, container.NewHBox(layoutSpacer(), f.button))
	f.box = container.NewCenter(fixedWidth(panel(col), 480))
	return f
}

// working disables the form while submit runs.
func (f *formPage) working(on bool) {
	if on {
		f.err.Hide()
		f.busy.Show()
		f.button.Disable()
	} else {
		f.busy.Hide()
		f.button.Enable()
	}
}

func (f *formPage) fail(msg string) {
	f.working(false)
	f.err.SetText(msg)
	f.err.Show()
}

// passphrase is pf's passphrase; false after the form says what is wrong
// with it.
func (f *formPage) passphrase(pf passphraseFields) ([]byte, bool) {
	pass, err := pf.check()
	if err != nil {
		f.fail(upperFirst(err.Error()) + ".")
		return nil, false
	}
	return pass, true
}

// newProfile makes the person's profile from the form f in the background
// (create, with pf's passphrase) and goes on to the mail account. A failure
// shows on the form: in explain's words when it knows the error (else it
// returns ""), otherwise in the error's own, without prefix.
func (u *UI) newProfile(f *formPage, pf passphraseFields, prefix string, create func(ctx context.Context, pass []byte) error, explain func(error) string) {
	pass, ok := f.passphrase(pf)
	if !ok {
		return
	}
	f.working(true)
	u.background(func(ctx context.Context) error { return create(ctx, pass) }, func(err error) {
		if err == nil {
			u.showAccountSetup(true)
			return
		}
		msg := explain(err)
		if msg == "" {
			msg = upperFirst(strings.TrimPrefix(err.Error(), prefix))
		}
		f.fail(msg)
	})
}

// showDemoSetup asks for a name and passphrase, then starts the demo.
func (u *UI) showDemoSetup() {
	name := nameEntry()
	pf := newPassphraseFields()
	var f *formPage
	f = newFormPage("Try the demo home",
		"Your key is made on this device and locked with the passphrase; you need the passphrase each time Thingpost starts.",
		append([]*widget.FormItem{widget.NewFormItem("Name", name)}, pf.items("Passphrase")...),
		"Start the demo", func() {
			pass, ok := f.passphrase(pf)
			if !ok {
				return
			}
			n := strings.TrimSpace(name.Text)
			if n == "" {
				n = "Me"
			}
			f.working(true)
			u.startDemo(n, pass, true, func(err error) {
				if err != nil {
					f.fail("The demo did not start: " + err.Error())
				}
			})
		})
	u.push(&page{name: "demo-setup", title: "Demo home", content: f.box, focus: name})
}

// nameEntry is the entry for the person's display name.
func nameEntry() *widget.Entry {
	e := widget.NewEntry()
	e.SetPlaceHolder("Your name")
	return e
}

// showCreate makes a new identity for the person's own mail address.
func (u *UI) showCreate() {
	name := nameEntry()
	addr := widget.NewEntry()
	addr.SetPlaceHolder("you@example.org")
	pf := newPassphraseFields()
	var f *formPage
	f = newFormPage("Create my identity",
		"Your key is made on this device for your mail address and locked with the passphrase. Things will know you by it.",
		append([]*widget.FormItem{widget.NewFormItem("Name", name), widget.NewFormItem("Mail address", addr)}, pf.items("Passphrase")...),
		"Create", func() {
			n, a := strings.TrimSpace(name.Text), strings.TrimSpace(addr.Text)
			u.newProfile(f, pf, "create profile: ", func(ctx context.Context, pass []byte) error {
				_, err := u.core.CreateProfile(ctx, n, a, pass)
				return err
			}, func(err error) string {
				if errors.Is(err, app.ErrBadAddress) {
					return "Write the mail address alone, as you@example.org.\n(" + err.Error() + ")"
				}
				return ""
			})
		})
	u.push(&page{name: "create", title: "New identity", content: f.box, focus: name})
}

// showImport restores an identity from a key backup (Thingpost's or
// GnuPG's export).
func (u *UI) showImport() {
	var key []byte
	file := widget.NewLabel("No file chosen")
	file.Importance = widget.LowImportance
	choose := widget.NewButtonWithIcon("Choose…", theme.FolderOpenIcon(), nil)
	keyPass := widget.NewPasswordEntry()
	keyPass.SetPlaceHolder("the backup's passphrase, if it has one")
	pf := newPassphraseFields()
	choose.OnTapped = func() {
		d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
			if err != nil || r == nil {
				return
			}
			name := r.URI().Name()
			u.background(func(context.Context) error {
				defer r.Close()
				b, err := io.ReadAll(io.LimitReader(r, 1<<20))
				if err == nil {
					u.post(func() { key = b })
				}
				return err
			}, func(err error) {
				if err != nil {
					file.SetText("Cannot read " + name + ": " + err.Error())
					return
				}
				file.SetText(name)
				file.Importance = widget.MediumImportance
				file.Refresh()
			})
		}, u.win)
		d.Resize(fyne.NewSize(760, 520))
		d.Show()
	}
	var f *formPage
	f = newFormPage("Restore from a key backup",
		"Choose the key you backed up (Settings, Back up my key) or a secret key exported by GnuPG. It is stored here locked with a new passphrase.",
		append([]*widget.FormItem{widget.NewFormItem("Key file", container.NewBorder(nil, nil, nil, choose, file)),
			widget.NewFormItem("Backup passphrase", keyPass)}, pf.items("New passphrase")...),
		"Restore", func() {
			if key == nil {
				f.fail("Choose the key file first.")
				return
			}
			kp := []byte(keyPass.Text)
			u.newProfile(f, pf, "import key: ", func(ctx context.Context, pass []byte) error {
				_, err := u.core.ImportProfile(ctx, key, kp, pass)
				return err
			}, func(err error) string {
				if errors.Is(err, app.ErrWrongPassphrase) {
					keyPass.SetText("")
					return "The backup's passphrase does not open this key."
				}
				return ""
			})
		})
	u.push(&page{name: "restore", title: "Restore", content: f.box, focus: choose})
}

// showUnlock asks for the passphrase at start.
func (u *UI) showUnlock(p app.Profile) {
	pass := widget.NewPasswordEntry()
	pass.SetPlaceHolder("Passphrase")
	var f *formPage
	f = newFormPage("Welcome back, "+p.Name, "Enter your passphrase to unlock your key ("+p.Addr+").",
		[]*widget.FormItem{widget.NewFormItem("Passphrase", pass)}, "Unlock", func() {
			f.working(true)
			pw := []byte(pass.Text)
			u.background(func(ctx context.Context) error {
				return u.core.Unlock(ctx, pw)
			}, func(err error) {
				if err != nil {
					pass.SetText("")
					if errors.Is(err, app.ErrWrongPassphrase) {
						f.fail("Wrong passphrase.")
					} else {
						f.fail(err.Error())
					}
					return
				}
				u.connect()
			})
		})
	u.setRoot(&page{name: "unlock", title: "Thingpost", content: f.box, focus: pass})
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
