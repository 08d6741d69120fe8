package ui

import (
	"context"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// showMyCode shows the person's own code and key fingerprint, for another
// person to scan or compare. Package app makes the code and its QR
// picture, off the UI goroutine.
func (u *UI) showMyCode() {
	qr := canvas.NewImageFromResource(nil)
	qr.FillMode = canvas.ImageFillContain
	qr.ScaleMode = canvas.ImageScalePixels
	qr.SetMinSize(fyne.NewSize(260, 260))
	name := heading("")
	name.Alignment = fyne.TextAlignCenter
	addr := widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{})
	fpr := widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{Monospace: true})
	fpr.Wrapping = fyne.TextWrapWord
	var code string
	copyCode := widget.NewButtonWithIcon("Copy the code", theme.ContentCopyIcon(), func() {
		u.fa.Clipboard().SetContent(code)
		u.showToast("Your code is on the clipboard.")
	})
	copyCode.Disable()
	u.background(func(context.Context) error {
		c, err := u.core.MyCode()
		if err != nil {
			return err
		}
		u.post(func() {
			qr.Resource = fyne.NewStaticResource("my-code.png", c.QR)
			qr.Refresh()
			name.SetText(c.Name)
			addr.SetText(c.Addr)
			fpr.SetText(fingerprintGroups(c.Fingerprint))
			code = c.Text
			copyCode.Enable()
		})
		return nil
	}, func(err error) {
		if err != nil {
			u.notifyError("My code", err)
		}
	})
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
	explain := hint("Another person can scan this code with Thingpost or Delta Chat to know your key. " +
		"To compare keys in person, read the fingerprint aloud: it must be the same on both screens.")
	explain.Alignment = fyne.TextAlignCenter
	col := container.NewVBox(container.NewCenter(qr), name, addr,
		widget.NewLabelWithStyle("Key fingerprint", fyne.TextAlignCenter, fyne.TextStyle{Bold: true}), fpr,
		fixedWidth(explain, 420), container.NewCenter(container.NewHBox(copyCode, copyKey)))
	u.push(&page{name: "mycode", title: "My code", content: container.NewVScroll(container.NewCenter(fixedWidth(panel(col), 460)))})
}
