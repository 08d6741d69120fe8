package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/thingpost/thingpost/app"
)

// showSettings: account, key backup and restore, passphrase, notifications.
func (u *UI) showSettings() {
	p, _, _ := u.core.Profile()
	profile := section("You",
		container.New(&formLayout{},
			widget.NewLabel("Name"), widget.NewLabel(p.Name),
			widget.NewLabel("Address"), widget.NewLabel(p.Addr),
			widget.NewLabel("Key"), monoWrap(fingerprintGroups(p.Fingerprint))))

	var account fyne.CanvasObject
	acct, where, err := u.core.AccountSettings()
	if err != nil {
		account = section("Mail account", hint(err.Error()),
			container.NewHBox(widget.NewButton("Connect an account…", func() { u.showAccountSetup(false) })))
	} else {
		kept := map[app.PasswordPlace]string{app.PasswordInKeyring: "in the system keyring", app.PasswordEncrypted: "encrypted with your key"}[where]
		if kept == "" {
			kept = string(where)
		}
		rows := container.New(&formLayout{},
			widget.NewLabel("IMAP"), widget.NewLabel(fmt.Sprintf("%s (%s)", acct.IMAP.HostPort, securityName(acct.IMAP.Security))),
			widget.NewLabel("SMTP"), widget.NewLabel(fmt.Sprintf("%s (%s)", acct.SMTP.HostPort, securityName(acct.SMTP.Security))),
			widget.NewLabel("Password"), widget.NewLabel("kept "+kept),
			widget.NewLabel("Status"), widget.NewLabel(connDetailShort(u)),
		)
		items := []fyne.CanvasObject{rows}
		if u.demo != nil {
			items = append(items, hint("This is the demo home's account, on this device only."),
				container.NewHBox(widget.NewButton("Show the demo things", u.showDemo)))
		}
		change := widget.NewButton("Use another account…", func() { u.showAccountSetup(false) })
		items = append(items, container.NewHBox(change))
		account = section("Mail account", items...)
	}

	backup := widget.NewButtonWithIcon("Back up my key…", theme.DownloadIcon(), u.backupKey)
	change := widget.NewButtonWithIcon("Change passphrase…", theme.AccountIcon(), u.changePassphrase)
	key := section("Your key",
		hint("Your key proves to your things that commands come from you. Back it up, locked with a passphrase, to move to another device or to recover after a loss: "+
			"choose “Restore from a key backup” when Thingpost starts for the first time there."),
		container.NewHBox(backup, change))

	notify := newToggle("Notifications", u.prefs.notifications(), u.prefs.setNotifications)
	notifications := section("Notifications",
		container.NewBorder(nil, nil, nil, notify, wrapLabel("Tell me when a thing reports something (a door opened, a temperature crossed a limit).")))

	items := []fyne.CanvasObject{profile, account, key, notifications}
	if !isMobile() {
		items = append(items, section("Keyboard", container.New(&formLayout{}, shortcutRows()...)))
	}
	version := hint("Thingpost " + u.fa.Metadata().Version)
	items = append(items, version)
	u.push(&page{name: "settings", title: "Settings", content: container.NewVScroll(container.NewPadded(
		container.NewCenter(fixedWidth(container.NewVBox(items...), 620))))})
}

func monoWrap(s string) *widget.Label {
	l := widget.NewLabelWithStyle(s, fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	l.Wrapping = fyne.TextWrapWord
	return l
}

func securityName(s app.Security) string {
	switch s {
	case app.SecuritySTARTTLS:
		return "STARTTLS"
	case app.SecurityPlain:
		return "no encryption, this computer only"
	}
	return "TLS"
}

func connDetailShort(u *UI) string {
	text, _ := connSummary(u.conn)
	if !u.started {
		return "not connected"
	}
	return text
}

// backupKey exports the key locked with a passphrase into a file.
func (u *UI) backupKey() {
	pf := newPassphraseFields()
	u.passphraseForm("Back up my key", "Save…", pf.items("Backup passphrase"), pf, func(pass []byte) {
		u.background(func(context.Context) error {
			armored, err := u.core.ExportKey(pass)
			if err != nil {
				return err
			}
			u.post(func() { u.saveBackup(armored) })
			return nil
		}, func(err error) {
			if err != nil {
				u.notifyError("Backup", err)
			}
		})
	})
}

// passphraseForm shows a dialog with the form items, which hold pf's
// fields, and once it is confirmed with a passphrase pf accepts runs then
// with it; a passphrase it does not accept shows why.
func (u *UI) passphraseForm(title, confirm string, items []*widget.FormItem, pf passphraseFields, then func(pass []byte)) {
	dialog.ShowForm(title, confirm, "Cancel", items, func(ok bool) {
		if !ok {
			return
		}
		pass, err := pf.check()
		if err != nil {
			dialog.ShowError(err, u.win)
			return
		}
		then(pass)
	}, u.win)
}

func (u *UI) saveBackup(armored string) {
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil || w == nil {
			return
		}
		u.background(func(context.Context) error {
			_, werr := w.Write([]byte(armored))
			return errors.Join(werr, w.Close())
		}, func(err error) {
			if err != nil {
				u.notifyError("Backup", err)
				return
			}
			u.showToast("Your key is backed up. Keep the file and its passphrase apart.")
		})
	}, u.win)
	p, _, _ := u.core.Profile()
	d.SetFileName("thingpost-key-" + strings.ReplaceAll(p.Addr, "@", "-at-") + ".asc")
	d.Resize(fyne.NewSize(760, 520))
	d.Show()
}

// changePassphrase locks the key with a new passphrase.
func (u *UI) changePassphrase() {
	old := widget.NewPasswordEntry()
	pf := newPassphraseFields()
	items := append([]*widget.FormItem{widget.NewFormItem("Current passphrase", old)}, pf.items("New passphrase")...)
	u.passphraseForm("Change passphrase", "Change", items, pf, func(pass []byte) {
		oldPass := []byte(old.Text)
		u.background(func(ctx context.Context) error {
			return u.core.ChangePassphrase(ctx, oldPass, pass)
		}, func(err error) {
			if err != nil {
				if errors.Is(err, app.ErrWrongPassphrase) {
					err = errors.New("the current passphrase is not right")
				}
				dialog.ShowError(err, u.win)
				return
			}
			u.showToast("Your passphrase is changed.")
		})
	})
}
