package ui

import (
	"context"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/thingpost/thingpost/app"
	"github.com/thingpost/thingpost/wire"
)

// peopleView lets a thing's owner see who may use it, invite someone and
// revoke someone. Each of these is a command to the thing, so the list is
// loaded on request, not on every visit.
type peopleView struct {
	u      *UI
	id     string
	list   *fyne.Container
	status *widget.Label
	load   *widget.Button
	box    fyne.CanvasObject
}

func newPeopleView(u *UI, id string) *peopleView {
	p := &peopleView{u: u, id: id, list: container.NewVBox(), status: hint("")}
	p.status.Hide()
	p.load = widget.NewButtonWithIcon("Show people", theme.AccountIcon(), p.reload)
	invite := widget.NewButtonWithIcon("Invite someone…", theme.ContentAddIcon(), p.invite)
	p.box = section("People", hint("You own this thing. Others can use it only with an invite from you, and you can revoke them at any time (a lost phone)."),
		container.NewHBox(p.load, invite), p.status, p.list)
	return p
}

func (p *peopleView) reload() {
	p.load.Disable()
	p.status.SetText("Asking the thing…")
	p.status.Show()
	p.u.background(func(ctx context.Context) error {
		users, err := p.u.core.Users(ctx, p.id)
		if err != nil {
			return err
		}
		p.u.post(func() { p.show(users) })
		return nil
	}, func(err error) {
		p.load.Enable()
		p.load.SetText("Refresh")
		if err != nil {
			p.status.SetText("Could not get the list: " + err.Error())
			return
		}
		p.status.Hide()
	})
}

func (p *peopleView) show(users []wire.User) {
	p.list.Objects = nil
	me, _, _ := p.u.core.Profile()
	for _, usr := range users {
		who := usr.Addr
		if usr.Fingerprint == me.Fingerprint {
			who += " (you)"
		}
		role := roleText(usr.Role, usr.Expires)
		if usr.Pending {
			role = "waits for you: the thing could not check that the address is theirs · " + role
		}
		row := container.NewBorder(nil, nil, nil, nil,
			container.New(&tightVBox{}, widget.NewLabelWithStyle(who, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
				hint(role+" · key "+shortFingerprint(usr.Fingerprint))))
		if usr.Role != wire.RoleOwner && usr.Fingerprint != me.Fingerprint {
			fpr, addr := usr.Fingerprint, usr.Addr
			revoke := widget.NewButton("Revoke", func() { p.revoke(addr, fpr) })
			revoke.Importance = widget.DangerImportance
			buttons := container.NewHBox(revoke)
			if usr.Pending {
				revoke.SetText("Refuse")
				buttons.Add(widget.NewButton("Confirm", func() { p.confirm(addr, fpr) }))
			}
			row = container.NewBorder(nil, nil, nil, container.NewCenter(buttons), row)
		}
		p.list.Add(row)
	}
	if len(users) == 0 {
		p.list.Add(hint("Nobody else."))
	}
	p.list.Refresh()
}

func (p *peopleView) revoke(addr, fpr string) {
	p.ask("Revoke "+addr+"?", "The thing will no longer obey "+addr+" or tell them anything.", "Revoke", addr+" was revoked.",
		func(ctx context.Context) error { return p.u.core.Revoke(ctx, p.id, fpr) })
}

// confirm lets in a joiner who waits for the owner.
func (p *peopleView) confirm(addr, fpr string) {
	p.ask("Let "+addr+" in?", "Confirm only if you know that "+addr+" paired just now: the thing could not check that this address is theirs.",
		"Confirm", addr+" may use the thing now.", func(ctx context.Context) error { return p.u.core.Confirm(ctx, p.id, fpr) })
}

// ask runs an owner's action on one person once he agrees, then shows the
// list again.
func (p *peopleView) ask(title, text, what, done string, act func(context.Context) error) {
	dialog.ShowConfirm(title, text, func(ok bool) {
		if !ok {
			return
		}
		p.u.background(act, func(err error) {
			if err != nil {
				p.u.notifyError(what, err)
				return
			}
			p.u.showToast(done)
			p.reload()
		})
	}, p.u.win)
}

// invite asks for the role and asks the thing for a one-time code.
func (p *peopleView) invite() {
	role := widget.NewRadioGroup([]string{"Member: uses it like you, cannot invite", "Guest: for a while"}, nil)
	role.SetSelected("Member: uses it like you, cannot invite")
	dur := widget.NewSelect([]string{"1 hour", "1 day", "1 week"}, nil)
	dur.SetSelected("1 day")
	dur.Disable()
	role.OnChanged = func(s string) {
		if strings.HasPrefix(s, "Guest") {
			dur.Enable()
		} else {
			dur.Disable()
		}
	}
	items := []*widget.FormItem{widget.NewFormItem("Role", role), widget.NewFormItem("Guest for", dur)}
	dialog.ShowForm("Invite someone", "Get a code", "Cancel", items, func(ok bool) {
		if !ok {
			return
		}
		r, roleFor := wire.RoleMember, ""
		if strings.HasPrefix(role.Selected, "Guest") {
			r = wire.RoleGuest
			roleFor = map[string]string{"1 hour": "1h", "1 day": "1d", "1 week": "7d"}[dur.Selected]
		}
		p.u.showToast("Asking the thing for an invite code…")
		p.u.background(func(ctx context.Context) error {
			inv, err := p.u.core.Invite(ctx, p.id, r, roleFor)
			if err != nil {
				return err
			}
			p.u.post(func() { p.showInvite(inv) })
			return nil
		}, func(err error) {
			if err != nil {
				p.u.notifyError("Invite", err)
			}
		})
	}, p.u.win)
}

func (p *peopleView) showInvite(inv app.Invite) {
	img := canvas.NewImageFromResource(fyne.NewStaticResource("invite.png", inv.QR))
	img.FillMode = canvas.ImageFillContain
	img.ScaleMode = canvas.ImageScalePixels
	img.SetMinSize(fyne.NewSize(240, 240))
	link := widget.NewLabel(inv.URL)
	link.Wrapping = fyne.TextWrapBreak
	link.Selectable = true
	link.SizeName = theme.SizeNameCaptionText
	copyBtn := widget.NewButtonWithIcon("Copy the link", theme.ContentCopyIcon(), func() {
		p.u.fa.Clipboard().SetContent(inv.URL)
		p.u.showToast("Copied.")
	})
	what := fmt.Sprintf("Let the other person scan this code with Thingpost (or Delta Chat). They become %s", inv.Role)
	if inv.For > 0 {
		what += " for " + inv.For.String()
	}
	what += ". The code works once and expires at " + inv.Expires.Local().Format("15:04") + "."
	body := container.NewVBox(container.NewCenter(img), wrapLabel(what), link, container.NewCenter(copyBtn))
	dialog.NewCustom("Invite code", "Done", fixedWidth(body, 400), p.u.win).Show()
}
