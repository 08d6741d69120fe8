package ui

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/thingpost/thingpost/app"
)

// Security choices of the account form.
const (
	secTLS      = "TLS"
	secSTARTTLS = "STARTTLS"
	secPlain    = "None (this computer only)"
)

// serverFields are one server's host, port and security.
type serverFields struct {
	host *widget.Entry
	port *widget.Entry
	sec  *widget.Select
	row  fyne.CanvasObject
}

func newServerFields(placeholder string, tlsPort, startTLSPort int) *serverFields {
	f := &serverFields{host: widget.NewEntry(), port: widget.NewEntry()}
	f.host.SetPlaceHolder(placeholder)
	f.port.SetText(strconv.Itoa(tlsPort))
	f.sec = widget.NewSelect([]string{secTLS, secSTARTTLS, secPlain}, func(s string) {
		switch s {
		case secTLS:
			f.port.SetText(strconv.Itoa(tlsPort))
		case secSTARTTLS:
			f.port.SetText(strconv.Itoa(startTLSPort))
		}
	})
	f.sec.SetSelected(secTLS)
	f.row = container.NewBorder(nil, nil, nil, container.NewHBox(fixedWidth(f.port, 70), f.sec), f.host)
	return f
}

// hostPort is the server as "host:port".
func (f *serverFields) hostPort() string {
	return net.JoinHostPort(strings.TrimSpace(f.host.Text), strings.TrimSpace(f.port.Text))
}

// showAccountSetup asks for the mail account, checks it by logging in to
// both servers, and stores it. firstRun adds the way to the demo instead.
func (u *UI) showAccountSetup(firstRun bool) {
	p, _, _ := u.core.Profile()
	addr := widget.NewEntry()
	addr.SetText(p.Addr)
	addr.Disable()
	pass := widget.NewPasswordEntry()
	imap := newServerFields("imap.example.org", 993, 143)
	smtp := newServerFields("smtp.example.org", 465, 587)
	if dom := p.Addr[strings.LastIndexByte(p.Addr, '@')+1:]; dom != "" {
		imap.host.SetText("imap." + dom)
		smtp.host.SetText("smtp." + dom)
	}
	user := widget.NewEntry()
	user.SetPlaceHolder("the mail address, if empty")
	pin := widget.NewEntry()
	pin.SetPlaceHolder("SHA-256 of a self-signed certificate (home node)")
	dclogin := widget.NewEntry()
	dclogin.SetPlaceHolder("DCLOGIN:… (instead of the fields above)")
	var f *formPage
	submit := func() {
		f.working(true)
		code := strings.TrimSpace(dclogin.Text)
		acct := app.Account{
			Address: p.Addr, Password: pass.Text,
			User: strings.TrimSpace(user.Text), PinSHA256: strings.TrimSpace(pin.Text),
			IMAP: app.Server{HostPort: imap.hostPort(), Security: security(imap.sec.Selected)},
			SMTP: app.Server{HostPort: smtp.hostPort(), Security: security(smtp.sec.Selected)},
		}
		u.background(func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, 45*time.Second)
			defer cancel()
			if code != "" {
				return u.core.SetAccountDCLOGIN(ctx, code, true)
			}
			return u.core.SetAccount(ctx, acct, true)
		}, func(err error) {
			if err != nil {
				f.fail(explainAccountError(err))
				return
			}
			u.showHome()
			u.life.Restart()
			u.activate()
			u.showToast("Connected to " + p.Addr + ".")
		})
	}
	f = newFormPage("Connect your mail account",
		"Thingpost sends your commands and receives the answers as encrypted mail through this account. "+
			"The password is kept in the system keyring, or encrypted with your key.",
		[]*widget.FormItem{
			widget.NewFormItem("Mail address", addr),
			widget.NewFormItem("Password", pass),
			widget.NewFormItem("IMAP server", imap.row),
			widget.NewFormItem("SMTP server", smtp.row),
			widget.NewFormItem("User name", user),
			widget.NewFormItem("Certificate", pin),
			widget.NewFormItem("Or a code", dclogin),
		}, "Check and connect", submit)
	col := container.NewVBox(f.box)
	if firstRun {
		demo := widget.NewButton("Try the demo home instead", func() {
			u.startDemo("", nil, true, nil)
		})
		demo.Importance = widget.LowImportance
		col.Add(container.NewCenter(demo))
	}
	content := container.NewVScroll(col)
	pg := &page{name: "account", title: "Mail account", content: content, focus: pass}
	if firstRun {
		u.setRoot(pg)
	} else {
		u.push(pg)
	}
}

// security is the form's security choice for package app.
func security(choice string) app.Security {
	switch choice {
	case secSTARTTLS:
		return app.SecuritySTARTTLS
	case secPlain:
		return app.SecurityPlain
	}
	return app.SecurityTLS
}

// errorHint is what to tell a person about an error that wraps one of errs.
type errorHint struct {
	errs []error
	hint string
}

// hintFor is the hint of the first of hints that err matches; "" when none
// does.
func hintFor(err error, hints []errorHint) string {
	for _, h := range hints {
		for _, e := range h.errs {
			if errors.Is(err, e) {
				return h.hint
			}
		}
	}
	return ""
}

// accountHints say what to fix when an account check fails.
var accountHints = []errorHint{
	{[]error{app.ErrTimeout, context.DeadlineExceeded}, "The server did not answer: check the host name and the port, and that this network lets you reach it."},
	{[]error{app.ErrDNS}, "The server's name was not found: check the spelling of the IMAP and SMTP servers."},
	{[]error{app.ErrConnRefused}, "Nothing answers on that port: check the port and the security (TLS is usually 993 and 465, STARTTLS 143 and 587)."},
	{[]error{app.ErrPinMismatch}, "The server's certificate is not the one pinned: check the certificate fingerprint, or leave it empty for a provider."},
	{[]error{app.ErrTLS}, "The secure connection failed: check the security setting and the port, or pin the certificate of a home node."},
	{[]error{app.ErrAuth}, "The server refused the user name or the password."},
	{[]error{app.ErrPlainNotLoopback}, "Unencrypted connections are only allowed to this computer: choose TLS or STARTTLS."},
	{[]error{app.ErrCertChecksOff}, "The code turns the certificate check off without pinning a certificate: Thingpost does not connect that way. Ask for a code with the certificate's fingerprint, or fill in the fields."},
	{[]error{app.ErrInvalidAccount}, "Some of the settings are incomplete or wrong."},
	{[]error{app.ErrLocked}, "Unlock your key first."},
}

// explainAccountError turns a failed check into what to fix, and keeps
// the error's own words in brackets.
func explainAccountError(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "account check: ")
	msg = strings.TrimPrefix(msg, "account: ")
	hint := hintFor(err, accountHints)
	if hint == "" {
		return upperFirst(msg)
	}
	return hint + "\n(" + msg + ")"
}
