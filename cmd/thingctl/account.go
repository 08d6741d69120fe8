package main

// Your identity and mail account: init, status, my-code.

import (
	"context"
	"errors"
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
	dclogin := fs.String("dclogin", "", "a DCLOGIN: code with all account settings")
	imap := fs.String("imap", "", "IMAP server HOST:PORT")
	smtp := fs.String("smtp", "", "SMTP submission server HOST:PORT")
	security := fs.String("security", "tls", "tls, starttls or plain (plain: loopback only)")
	user := fs.String("user", "", "login name (default: the address)")
	pin := fs.String("pin", "", "SHA-256 fingerprint of a self-signed server certificate")
	pwFile := fs.String("password-file", "", "mail password file (default $THINGPOST_MAIL_PASSWORD)")
	noCheck := fs.Bool("no-check", false, "store the account without logging in first")
	if err := c.Parse(0, 0); err != nil {
		return err
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.Close()
	pw, err := g.passphrase("Passphrase for your identity: ")
	if err != nil {
		return err
	}
	p, found, err := a.Profile()
	switch {
	case err != nil:
		return err
	case found:
		if err := a.Unlock(ctx, pw); err != nil {
			return err
		}
	case *importKey != "":
		key, kp, err := readKey(*importKey, *keyPass)
		if err != nil {
			return err
		}
		if p, err = a.ImportProfile(ctx, key, kp, pw); err != nil {
			return err
		}
	default:
		if *addr == "" {
			return cli.Usagef("--addr is required for a new identity")
		}
		if p, err = a.CreateProfile(ctx, *name, *addr, pw); err != nil {
			return err
		}
	}
	fmt.Fprintf(g.stdout, "identity %s <%s>, key %s\n", p.Name, p.Addr, p.Fingerprint)
	var acct transport.Account
	switch {
	case *dclogin != "":
		if acct, err = transport.ParseDCLOGIN(*dclogin); err != nil {
			return err
		}
	case *imap != "" || *smtp != "":
		sec, err := transport.ParseSecurity(*security)
		if err != nil {
			return err
		}
		acct = transport.Account{Address: p.Addr, User: *user, PinSHA256: *pin,
			IMAP: transport.Server{HostPort: *imap, Security: sec}, SMTP: transport.Server{HostPort: *smtp, Security: sec}}
		if acct.Password, err = mailPassword(*pwFile); err != nil {
			return err
		}
	default:
		fmt.Fprintln(g.stdout, "no mail account given; run init again with --dclogin or --imap/--smtp")
		return nil
	}
	if err := a.SetAccount(ctx, acct, !*noCheck); err != nil {
		return err
	}
	_, where, _ := a.AccountSettings()
	fmt.Fprintf(g.stdout, "account %s set (password kept %s)\n", acct.Address, map[app.PasswordPlace]string{app.PasswordInKeyring: "in the OS keyring", app.PasswordEncrypted: "encrypted to your key"}[where])
	return nil
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
	if err := c.Parse(0, 0); err != nil {
		return err
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.Close()
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
	if *asJSON {
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
	if err := c.Parse(0, 0); err != nil {
		return err
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.Close()
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
}
