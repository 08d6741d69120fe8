package ui

import (
	"context"
	"net/url"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/thingpost/thingpost/app"
)

// contactCode is the person's OPENPGP4FPR contact code: fingerprint,
// address and name, the form Delta Chat scans. It lives here only until
// package app offers the person's own code (asked for).
func contactCode(p app.Profile) string {
	return "OPENPGP4FPR:" + p.Fingerprint + "#a=" + url.QueryEscape(p.Addr) + "&n=" + url.QueryEscape(p.Name)
}

// showMyCode shows the person's own code and key fingerprint, for another
// person to scan or compare.
func (u *UI) showMyCode() {
	p, found, err := u.core.Profile()
	if err != nil || !found {
		return
	}
	code := contactCode(p)
	img := canvas.NewImageFromResource(nil)
	img.FillMode = canvas.ImageFillContain
	img.ScaleMode = canvas.ImageScalePixels
	img.SetMinSize(fyne.NewSize(260, 260))
	u.background(func(context.Context) error {
		png, err := app.EncodeQR(code, 512)
		if err != nil {
			return err
		}
		u.post(func() {
			img.Resource = fyne.NewStaticResource("my-code.png", png)
			img.Refresh()
		})
		return nil
	}, func(err error) {
		if err != nil {
			u.notifyError("My code", err)
		}
	})
	name := heading(p.Name)
	name.Alignment = fyne.TextAlignCenter
	addr := widget.NewLabelWithStyle(p.Addr, fyne.TextAlignCenter, fyne.TextStyle{})
	fpr := widget.NewLabelWithStyle(fingerprintGroups(p.Fingerprint), fyne.TextAlignCenter, fyne.TextStyle{Monospace: true})
	fpr.Wrapping = fyne.TextWrapWord
	copyKey := widget.NewButtonWithIcon("Copy my public key", theme.ContentCopyIcon(), func() {
		u.background(func(context.Context) error {
			k, err := u.core.PublicKey()
			if err == nil {
				u.post(func() {
					u.fa.Clipboard().SetContent(k)
					u.showToast("Your public key is on the clipboard.")
				})
			}
			return err
		}, func(err error) {
			if err != nil {
				u.notifyError("Public key", err)
			}
		})
	})
	copyCode := widget.NewButtonWithIcon("Copy the code", theme.ContentCopyIcon(), func() {
		u.fa.Clipboard().SetContent(code)
		u.showToast("Your code is on the clipboard.")
	})
	explain := hint("Another person can scan this code with Thingpost or Delta Chat to know your key. " +
		"To compare keys in person, read the fingerprint aloud: it must be the same on both screens.")
	explain.Alignment = fyne.TextAlignCenter
	col := container.NewVBox(container.NewCenter(img), name, addr,
		widget.NewLabelWithStyle("Key fingerprint", fyne.TextAlignCenter, fyne.TextStyle{Bold: true}), fpr,
		fixedWidth(explain, 420), container.NewCenter(container.NewHBox(copyCode, copyKey)))
	u.push(&page{name: "mycode", title: "My code", content: container.NewVScroll(container.NewCenter(fixedWidth(panel(col), 460)))})
}
