package main

// Your identity and mail account: init, status, my-code.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/thingpost/thingpost/app"
	"github.com/thingpost/thingpost/internal/cli"
	"github.com/thingpost/thingpost/transport"
)

func cmdInit(ctx context.Context, g *globals, c *cli.Call) error {
	fs := c.Flags
	addr := fs.String("addr", "", "your e-mail address (the identity's and the account's)")
	name := fs.String("name", "", "your display name")
	importKey := fs.String("import", "", "import this secret key (GnuPG export) instead of creating one")
	keyPass := fs.String("key-passphrase-file", "", "passphrase of the imported key (default: none)")
	var af accountFlags
	af.declare(fs)
	noCheck := fs.Bool("no-check", false, "store the account without logging in first")
	return g.withApp(c, func(a *app.App) error {
		p, err := g.initProfile(ctx, a, *addr, *name, *importKey, *keyPass)
		if err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "identity %s <%s>, key %s\n", p.Name, p.Addr, p.Fingerprint)
		acct, given, err := af.account(p.Addr)
		if err != nil {
			return err
		}
		if !given {
			fmt.Fprintln(g.stdout, "no mail account given; run init again with --dclogin or --imap/--smtp")
			return nil
		}
		if err := a.SetAccount(ctx, acct, !*noCheck); err != nil {
			return err
		}
		_, where, _ := a.AccountSettings()
		fmt.Fprintf(g.stdout, "account %s set (password kept %s)\n", acct.Address, map[app.PasswordPlace]string{app.PasswordInKeyring: "in the OS keyring", app.PasswordEncrypted: "encrypted to your key"}[where])
		return nil
	})
}

// initProfile unlocks the profile there is with the passphrase, or makes
// one: from the key file importKey when set, else a new identity for addr.
func (g *globals) initProfile(ctx context.Context, a *app.App, addr, name, importKey, keyPass string) (app.Profile, error) {
	pw, err := g.passphrase("Passphrase for your identity: ")
	if err != nil {
		return app.Profile{}, err
	}
	p, found, err := a.Profile()
	switch {
	case err != nil:
		return p, err
	case found:
		return p, a.Unlock(ctx, pw)
	case importKey != "":
		key, kp, err := readKey(importKey, keyPass)
		if err != nil {
			return p, err
		}
		return a.ImportProfile(ctx, key, kp, pw)
	case addr == "":
		return p, cli.Usagef("--addr is required for a new identity")
	}
	return a.CreateProfile(ctx, name, addr, pw)
}

// accountFlags are init's mail account settings: a DCLOGIN: code, or the
// servers and login.
type accountFlags struct {
	dclogin, imap, smtp, security, user, pin, pwFile string
}

func (f *accountFlags) declare(fs *flag.FlagSet) {
	fs.StringVar(&f.dclogin, "dclogin", "", "a DCLOGIN: code with all account settings")
	fs.StringVar(&f.imap, "imap", "", "IMAP server HOST:PORT")
	fs.StringVar(&f.smtp, "smtp", "", "SMTP submission server HOST:PORT")
	fs.StringVar(&f.security, "security", "tls", "tls, starttls or plain (plain: loopback only)")
	fs.StringVar(&f.user, "user", "", "login name (default: the address)")
	fs.StringVar(&f.pin, "pin", "", "SHA-256 fingerprint of a self-signed server certificate")
	fs.StringVar(&f.pwFile, "password-file", "", "mail password file (default $THINGPOST_MAIL_PASSWORD)")
}

// account is the account the flags give for addr; given is false when
// they give none.
func (f *accountFlags) account(addr string) (acct transport.Account, given bool, err error) {
	switch {
	case f.dclogin != "":
		acct, err = transport.ParseDCLOGIN(f.dclogin)
		return acct, true, err
	case f.imap != "" || f.smtp != "":
		sec, err := transport.ParseSecurity(f.security)
		if err != nil {
			return acct, true, err
		}
		acct = transport.Account{Address: addr, User: f.user, PinSHA256: f.pin,
			IMAP: transport.Server{HostPort: f.imap, Security: sec}, SMTP: transport.Server{HostPort: f.smtp, Security: sec}}
		acct.Password, err = mailPassword(f.pwFile)
		return acct, true, err
	}
	return acct, false, nil
}

func mailPassword(file string) (string, error) {
	if file != "" {
		b, err := readSecret(file)
		return string(b), err
	}
	if p := os.Getenv("THINGPOST_MAIL_PASSWORD"); p != "" {
		return p, nil
	}
	return "", errors.New("no mail password: use --password-file or set THINGPOST_MAIL_PASSWORD")
}

func cmdStatus(_ context.Context, g *globals, c *cli.Call) error {
	fs := c.Flags
	asJSON := fs.Bool("json", false, "print JSON")
	return g.withApp(c, func(a *app.App) error { return g.status(a, *asJSON) })
}

func (g *globals) status(a *app.App, asJSON bool) error {
	p, found, err := a.Profile()
	if err != nil {
		return err
	}
	st := struct {
		Profile  *app.Profile      `json:"profile,omitempty"`
		Account  string            `json:"account,omitempty"`
		Password app.PasswordPlace `json:"password_in,omitempty"`
		Things   int               `json:"things"`
		Pending  int               `json:"pending_commands"`
	}{Things: len(a.Things())}
	if found {
		st.Profile = &p
	}
	if acct, where, err := a.AccountSettings(); err == nil {
		st.Account = fmt.Sprintf("%s (IMAP %s %s, SMTP %s %s)", acct.Address, acct.IMAP.HostPort, acct.IMAP.Security, acct.SMTP.HostPort, acct.SMTP.Security)
		st.Password = where
	}
	if pend, err := a.Pending(); err == nil {
		st.Pending = len(pend)
	}
	if asJSON {
		return g.printJSON(st)
	}
	if st.Profile == nil {
		fmt.Fprintln(g.stdout, "no profile: run thingctl init")
		return nil
	}
	fmt.Fprintf(g.stdout, "identity: %s <%s>, key %s\naccount:  %s\nthings:   %d\npending:  %d commands\n", p.Name, p.Addr, p.Fingerprint, st.Account, st.Things, st.Pending)
	return nil
}

func cmdMyCode(_ context.Context, g *globals, c *cli.Call) error {
	fs := c.Flags
	qr := fs.String("qr", "", "write the code's QR image to this PNG file")
	asJSON := fs.Bool("json", false, "print JSON")
	return g.withApp(c, func(a *app.App) error {
		code, err := a.MyCode()
		if err != nil {
			return err
		}
		if *qr != "" {
			if err := os.WriteFile(*qr, code.QR, 0o600); err != nil {
				return err
			}
		}
		if *asJSON {
			return g.printJSON(code)
		}
		fmt.Fprintf(g.stdout, "%s\n%s <%s>\nkey %s\n", code.Text, code.Name, code.Addr, code.FingerprintGroups)
		return nil
	})
}
