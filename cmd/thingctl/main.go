// Command thingctl is the person's side of Thingpost on a terminal: the
// core of the app (package app) without the GUI, for scripts, servers and
// tests.
//
//	thingctl [--data DIR] init --addr ADDR [--name NAME] (--dclogin CODE | --imap H:P --smtp H:P ...)
//	thingctl pair CODE|IMAGE
//	thingctl send THING COMMAND...      exit 0 answered, 1 refused, 2 expired or failed
//	thingctl demo                        runs the demo home until interrupted
//
// Run "thingctl help" for every command.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/thingpost/thingpost/app"
	"github.com/thingpost/thingpost/demo"
	"github.com/thingpost/thingpost/transport"
	"github.com/thingpost/thingpost/wire"
)

const usage = `thingctl: Thingpost for people, on a terminal

Usage: thingctl [global flags] COMMAND [flags] [arguments]

Commands:
  init        create (or import) your identity and set your mail account
  pair        pair with a thing: CODE (i.delta.chat link, OPENPGP4FPR:) or IMAGE (PNG/JPEG of its QR code)
  things      list the paired things
  send        send THING COMMAND... and wait for the answer (exit 0 answered, 1 refused, 2 expired or failed)
  watch       print events (replies, events of things, connection) until interrupted
  history     show a thing's history
  invite      invite another person to THING [member|guest [DURATION]] (owner only)
  users       list who may use THING (owner only)
  revoke      take THING away from WHO (address or fingerprint; owner only)
  rename      give THING a local name
  remove      unpair THING (asks it to let you go first)
  status      show the profile, account and outbox
  my-code     show your own contact code (for another person) and your key fingerprint
  demo        run the demo home (a mail node and three simulated things) until interrupted
  export-key  write your secret key, locked with a passphrase (a backup; GnuPG reads it)
  import-key  make a secret key (from export-key or GnuPG) your identity

Global flags:
  --data DIR             data directory (default $THINGPOST_DATA, else the user config dir/thingpost)
  --passphrase-file F    read the identity passphrase from F (else $THINGPOST_PASSPHRASE, else a prompt)
  --no-keyring           keep the mail password encrypted to your key, not in the OS keyring
  -v                     log what happens to stderr

THING is a name, address or fingerprint (prefix of 8 or more). Run "thingctl COMMAND --help" for a command's flags.
`

// Exit statuses.
const (
	exitOK      = 0
	exitRefused = 1
	exitFailed  = 2
)

type globals struct {
	data      string
	passFile  string
	noKeyring bool
	verbose   bool
	stdin     io.Reader
	stdout    io.Writer
	stderr    io.Writer
	hosts     []*demo.Host // closed when the command ends (see start)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// exitError carries an exit status other than the default failure.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := &globals{stdin: stdin, stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("thingctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&g.data, "data", "", "data directory")
	fs.StringVar(&g.passFile, "passphrase-file", "", "identity passphrase file")
	fs.BoolVar(&g.noKeyring, "no-keyring", false, "do not use the OS keyring")
	fs.BoolVar(&g.verbose, "v", false, "log to stderr")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return exitOK
		}
		fmt.Fprintf(stderr, "thingctl: %v\n", err)
		return exitFailed
	}
	args = fs.Args()
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitFailed
	}
	if args[0] == "help" {
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	if g.data == "" {
		g.data = os.Getenv("THINGPOST_DATA")
	}
	if g.data == "" {
		dir, err := os.UserConfigDir()
		if err != nil {
			fmt.Fprintf(stderr, "thingctl: no data directory: use --data (%v)\n", err)
			return exitFailed
		}
		g.data = filepath.Join(dir, "thingpost")
	}
	cmds := map[string]func(context.Context, *globals, []string) error{
		"init": cmdInit, "pair": cmdPair, "things": cmdThings, "send": cmdSend, "watch": cmdWatch,
		"history": cmdHistory, "invite": cmdInvite, "users": cmdUsers, "revoke": cmdRevoke,
		"rename": cmdRename, "remove": cmdRemove, "status": cmdStatus, "my-code": cmdMyCode, "demo": cmdDemo,
		"export-key": cmdExportKey, "import-key": cmdImportKey,
	}
	f, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "thingctl: unknown command %q (see thingctl help)\n", args[0])
		return exitFailed
	}
	err := f(ctx, g, args[1:])
	for _, h := range g.hosts {
		if cerr := h.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}
	var ee *exitError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ee):
		fmt.Fprintf(stderr, "thingctl %s: %v\n", args[0], oneLine(ee.err))
		return ee.code
	}
	fmt.Fprintf(stderr, "thingctl %s: %v\n", args[0], oneLine(err))
	return exitFailed
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

// flags makes a subcommand's flag set; its --help prints synopsis and flags.
func flags(g *globals, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(g.stderr)
	fs.Usage = func() {
		fmt.Fprintf(g.stdout, "Usage: thingctl %s %s\n", name, synopsis)
		fs.SetOutput(g.stdout)
		fs.PrintDefaults()
		fs.SetOutput(g.stderr)
	}
	return fs
}

// parse parses flags and checks the number of arguments.
func parse(fs *flag.FlagSet, args []string, minArgs, maxArgs int) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if n := fs.NArg(); n < minArgs || (maxArgs >= 0 && n > maxArgs) {
		return fmt.Errorf("wrong number of arguments (see thingctl %s --help)", fs.Name())
	}
	return nil
}

func (g *globals) logger() *slog.Logger {
	if g.verbose {
		return slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func (g *globals) open() (*app.App, error) {
	opts := app.Options{Dir: g.data, Logger: g.logger()}
	if g.noKeyring || os.Getenv("THINGPOST_NO_KEYRING") != "" {
		opts.Secrets = app.NoKeyring{}
	}
	return app.Open(opts)
}

// passphrase reads the identity passphrase: the file, the environment, or
// a prompt on the terminal.
func (g *globals) passphrase(prompt string) ([]byte, error) {
	if g.passFile != "" {
		b, err := os.ReadFile(g.passFile)
		if err != nil {
			return nil, err
		}
		return []byte(strings.TrimRight(string(b), "\r\n")), nil
	}
	if p := os.Getenv("THINGPOST_PASSPHRASE"); p != "" {
		return []byte(p), nil
	}
	if f, ok := g.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(g.stderr, prompt)
		p, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(g.stderr)
		return p, err
	}
	return nil, errors.New("no passphrase: use --passphrase-file or set THINGPOST_PASSPHRASE")
}

// unlocked opens the data directory and unlocks the identity.
func (g *globals) unlocked(ctx context.Context) (*app.App, error) {
	a, err := g.open()
	if err != nil {
		return nil, err
	}
	if _, found, err := a.Profile(); err != nil || !found {
		a.Close()
		return nil, errors.Join(app.ErrNoProfile, err)
	}
	pw, err := g.passphrase("Passphrase: ")
	if err == nil {
		err = a.Unlock(ctx, pw)
	}
	if err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// connected is unlocked and started.
// thing opens the app (connected, for a command that talks to the thing)
// and finds THING by name, address or fingerprint prefix.
func (g *globals) thing(ctx context.Context, query string, connect bool) (*app.App, app.Thing, error) {
	open := func() (*app.App, error) { return g.open() }
	if connect {
		open = func() (*app.App, error) { return g.connected(ctx) }
	}
	a, err := open()
	if err != nil {
		return nil, app.Thing{}, err
	}
	th, err := a.FindThing(query)
	if err != nil {
		a.Close()
		return nil, app.Thing{}, err
	}
	return a, th, nil
}

func (g *globals) connected(ctx context.Context) (*app.App, error) {
	a, err := g.unlocked(ctx)
	if err != nil {
		return nil, err
	}
	if err := g.start(ctx, a); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// start starts a through a demo.Host: when the account is the demo's and
// no "thingctl demo" runs its home any more, the home runs in this process
// until the command ends.
func (g *globals) start(ctx context.Context, a *app.App) error {
	h := demo.NewHost(a, g.logger())
	g.hosts = append(g.hosts, h)
	return h.Start(ctx)
}

func (g *globals) printJSON(v any) error {
	enc := json.NewEncoder(g.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func cmdInit(ctx context.Context, g *globals, args []string) error {
	fs := flags(g, "init", "--addr ADDR [--name NAME] [--import KEYFILE] (--dclogin CODE | --imap HOST:PORT --smtp HOST:PORT [--security tls|starttls|plain] [--user U] [--pin SHA256]) [--password-file F]")
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
	if err := parse(fs, args, 0, 0); err != nil {
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
		key, err := os.ReadFile(*importKey)
		if err != nil {
			return err
		}
		var kp []byte
		if *keyPass != "" {
			if kp, err = os.ReadFile(*keyPass); err != nil {
				return err
			}
			kp = []byte(strings.TrimRight(string(kp), "\r\n"))
		}
		if p, err = a.ImportProfile(ctx, key, kp, pw); err != nil {
			return err
		}
	default:
		if *addr == "" {
			return errors.New("--addr is required for a new identity")
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
		b, err := os.ReadFile(file)
		return strings.TrimRight(string(b), "\r\n"), err
	}
	if p := os.Getenv("THINGPOST_MAIL_PASSWORD"); p != "" {
		return p, nil
	}
	return "", errors.New("no mail password: use --password-file or set THINGPOST_MAIL_PASSWORD")
}

func cmdPair(ctx context.Context, g *globals, args []string) error {
	fs := flags(g, "pair", "[--json] CODE|IMAGE")
	asJSON := fs.Bool("json", false, "print the thing as JSON")
	if err := parse(fs, args, 1, 1); err != nil {
		return err
	}
	a, err := g.connected(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	arg := fs.Arg(0)
	var th app.Thing
	data, rerr := os.ReadFile(arg)
	switch ext := strings.ToLower(filepath.Ext(arg)); {
	case rerr == nil:
		th, err = a.PairImage(ctx, data)
	case ext == ".png" || ext == ".jpg" || ext == ".jpeg":
		return rerr
	default:
		th, err = a.Pair(ctx, arg)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return g.printJSON(th)
	}
	fmt.Fprintf(g.stdout, "paired with %s <%s>, a %s; you are its %s; key %s\n", th.DisplayName(), th.Addr, th.Kind, th.Role, th.ID)
	return nil
}

func cmdThings(_ context.Context, g *globals, args []string) error {
	fs := flags(g, "things", "[--json]")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.Close()
	ts := a.Things()
	if *asJSON {
		return g.printJSON(ts)
	}
	for _, t := range ts {
		seen := "never"
		if !t.LastSeen.IsZero() {
			seen = t.LastSeen.Local().Format(time.DateTime)
		}
		mark := ""
		if t.Unanswered > 0 {
			mark = " (not answering)"
		}
		fmt.Fprintf(g.stdout, "%s\t%s\t%s\t%s\t%s\tseen %s%s\n", t.DisplayName(), t.Kind, t.Addr, t.Role, stateText(t.State), seen, mark)
	}
	return nil
}

func stateText(s wire.State) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func cmdSend(ctx context.Context, g *globals, args []string) error {
	fs := flags(g, "send", "[--timeout D] [--json] THING COMMAND...")
	timeout := fs.Duration("timeout", app.DefaultCommandTimeout, "how long to wait for the answer")
	asJSON := fs.Bool("json", false, "print the command and its outcome as JSON")
	if err := parse(fs, args, 2, -1); err != nil {
		return err
	}
	a, err := g.connected(ctx)
	if err != nil {
		return &exitError{exitFailed, err}
	}
	defer a.Close()
	th, err := a.FindThing(fs.Arg(0))
	if err != nil {
		return &exitError{exitFailed, err}
	}
	c, err := a.Send(ctx, th.ID, strings.Join(fs.Args()[1:], " "), *timeout)
	if err != nil {
		return &exitError{exitFailed, err}
	}
	c, err = a.Wait(ctx, c.ID)
	if *asJSON {
		if jerr := g.printJSON(c); jerr != nil {
			return jerr
		}
	} else if c.Reply != nil {
		fmt.Fprintln(g.stdout, c.Reply.Text)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, app.ErrRefused):
		return &exitError{exitRefused, err}
	}
	return &exitError{exitFailed, err}
}

func cmdWatch(ctx context.Context, g *globals, args []string) error {
	fs := flags(g, "watch", "[--json]")
	asJSON := fs.Bool("json", false, "print one JSON object per event")
	if err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	a, err := g.unlocked(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	events, stop := a.Events()
	defer stop()
	if err := g.start(ctx, a); err != nil {
		return err
	}
	enc := json.NewEncoder(g.stdout)
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-events:
			if *asJSON {
				if err := enc.Encode(e); err != nil {
					return err
				}
				continue
			}
			if line := eventText(a, e); line != "" {
				fmt.Fprintf(g.stdout, "%s %s\n", e.Time.Local().Format(time.TimeOnly), line)
			}
		}
	}
}

func eventText(a *app.App, e app.Event) string {
	name := e.ThingID
	if t, err := a.Thing(e.ThingID); err == nil {
		name = t.DisplayName()
	}
	switch e.Kind {
	case app.EventConnection:
		if e.Conn.Err != "" {
			return fmt.Sprintf("connection %s: %s", e.Conn.State, e.Conn.Err)
		}
		return "connection " + string(e.Conn.State)
	case app.EventPairing:
		if e.Pairing.Err != "" {
			return fmt.Sprintf("pairing with %s failed: %s", e.Pairing.ThingAddr, e.Pairing.Err)
		}
		return fmt.Sprintf("pairing with %s: %s", e.Pairing.ThingAddr, e.Pairing.Step)
	case app.EventCommand:
		s := fmt.Sprintf("%s: %q %s", name, e.Command.Command.String(), e.Command.Status)
		if e.Command.Reply != nil {
			s += ": " + e.Command.Reply.Text
		} else if e.Command.Error != "" {
			s += ": " + e.Command.Error
		}
		return s
	case app.EventThingEvent:
		return fmt.Sprintf("%s says: %s", name, e.Entry.Text)
	case app.EventThingRemoved:
		return name + " removed"
	}
	return ""
}

func cmdHistory(ctx context.Context, g *globals, args []string) error {
	fs := flags(g, "history", "[--limit N] [--before SEQ] [--kind K] [--grep TEXT] [--json] THING")
	limit := fs.Int("limit", 20, "entries per page")
	before := fs.Uint64("before", 0, "show entries older than this sequence number (paging)")
	kind := fs.String("kind", "", "only command, reply, event, message or paired")
	grep := fs.String("grep", "", "only entries whose text contains this")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args, 1, 1); err != nil {
		return err
	}
	a, th, err := g.thing(ctx, fs.Arg(0), false)
	if err != nil {
		return err
	}
	defer a.Close()
	q := app.HistoryQuery{Limit: *limit, Before: *before, Contains: *grep}
	if *kind != "" {
		q.Kinds = []app.EntryKind{app.EntryKind(*kind)}
	}
	page, err := a.History(ctx, th.ID, q)
	if err != nil {
		return err
	}
	if *asJSON {
		return g.printJSON(page)
	}
	for _, e := range page.Entries {
		mark := "✓"
		if !e.Verified {
			mark = "?"
		}
		status := ""
		if e.Kind == app.EntryCommand {
			status = " [" + string(e.Status) + "]"
		}
		fmt.Fprintf(g.stdout, "%d\t%s\t%s %-7s %s%s\n", e.Seq, e.Time.Local().Format(time.DateTime), mark, e.Kind, strings.ReplaceAll(e.Text, "\n", " / "), status)
	}
	if page.Next != 0 {
		fmt.Fprintf(g.stdout, "(more: --before %d)\n", page.Next)
	}
	return nil
}

func cmdInvite(ctx context.Context, g *globals, args []string) error {
	fs := flags(g, "invite", "[--qr FILE.png] [--json] THING [member|guest [DURATION]]")
	qr := fs.String("qr", "", "write the invite's QR code to this PNG file")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args, 1, 3); err != nil {
		return err
	}
	a, th, err := g.thing(ctx, fs.Arg(0), true)
	if err != nil {
		return err
	}
	defer a.Close()
	inv, err := a.Invite(ctx, th.ID, wire.Role(fs.Arg(1)), fs.Arg(2))
	if err != nil {
		return err
	}
	if *qr != "" {
		if err := os.WriteFile(*qr, inv.QR, 0o600); err != nil {
			return err
		}
	}
	if *asJSON {
		return g.printJSON(inv)
	}
	fmt.Fprintf(g.stdout, "%s\n%s invite, works once until %s\n", inv.URL, inv.Role, inv.Expires.Local().Format(time.DateTime))
	return nil
}

func cmdUsers(ctx context.Context, g *globals, args []string) error {
	fs := flags(g, "users", "[--json] THING")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args, 1, 1); err != nil {
		return err
	}
	a, th, err := g.thing(ctx, fs.Arg(0), true)
	if err != nil {
		return err
	}
	defer a.Close()
	users, err := a.Users(ctx, th.ID)
	if err != nil {
		return err
	}
	if *asJSON {
		return g.printJSON(users)
	}
	for _, u := range users {
		until := ""
		if !u.Expires.IsZero() {
			until = " until " + u.Expires.Local().Format(time.DateTime)
		}
		fmt.Fprintf(g.stdout, "%s\t%s\t%s%s\n", u.Role, u.Addr, u.Fingerprint, until)
	}
	return nil
}

func cmdRevoke(ctx context.Context, g *globals, args []string) error {
	fs := flags(g, "revoke", "THING WHO")
	if err := parse(fs, args, 2, 2); err != nil {
		return err
	}
	a, th, err := g.thing(ctx, fs.Arg(0), true)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.Revoke(ctx, th.ID, fs.Arg(1)); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "%s can no longer use %s\n", fs.Arg(1), th.DisplayName())
	return nil
}

func cmdRename(ctx context.Context, g *globals, args []string) error {
	fs := flags(g, "rename", "THING NAME")
	if err := parse(fs, args, 2, -1); err != nil {
		return err
	}
	a, th, err := g.thing(ctx, fs.Arg(0), false)
	if err != nil {
		return err
	}
	defer a.Close()
	_, err = a.Rename(ctx, th.ID, strings.Join(fs.Args()[1:], " "))
	return err
}

func cmdRemove(ctx context.Context, g *globals, args []string) error {
	fs := flags(g, "remove", "[--force] THING")
	force := fs.Bool("force", false, "forget the thing even if it does not answer")
	if err := parse(fs, args, 1, 1); err != nil {
		return err
	}
	a, th, err := g.thing(ctx, fs.Arg(0), true)
	if err != nil {
		return err
	}
	defer a.Close()
	return a.Remove(ctx, th.ID, *force)
}

func cmdStatus(_ context.Context, g *globals, args []string) error {
	fs := flags(g, "status", "[--json]")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args, 0, 0); err != nil {
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

func cmdMyCode(_ context.Context, g *globals, args []string) error {
	fs := flags(g, "my-code", "[--qr FILE.png] [--json]")
	qr := fs.String("qr", "", "write the code's QR image to this PNG file")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.Close()
	c, err := a.MyCode()
	if err != nil {
		return err
	}
	if *qr != "" {
		if err := os.WriteFile(*qr, c.QR, 0o600); err != nil {
			return err
		}
	}
	if *asJSON {
		return g.printJSON(c)
	}
	fmt.Fprintf(g.stdout, "%s\n%s <%s>\nkey %s\n", c.Text, c.Name, c.Addr, c.FingerprintGroups)
	return nil
}

func cmdDemo(ctx context.Context, g *globals, args []string) error {
	fs := flags(g, "demo", "[--dir DIR] [--name NAME] [--pair] [--json]")
	dir := fs.String("dir", "", "demo home directory (default DATA/demo)")
	name := fs.String("name", "Me", "your display name, when a profile is made")
	pair := fs.Bool("pair", false, "also pair with the three things")
	asJSON := fs.Bool("json", false, "print the things as one JSON line")
	if err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	pw, err := g.passphrase("Passphrase for your identity: ")
	if err != nil {
		a.Close()
		return err
	}
	if _, found, _ := a.Profile(); found {
		if err := a.Unlock(ctx, pw); err != nil {
			a.Close()
			return err
		}
	}
	host := demo.NewHost(a, g.logger())
	defer host.Close()
	d, err := host.Run(ctx, demo.RunOptions{Dir: *dir, Name: *name, Passphrase: pw})
	if err != nil {
		a.Close()
		return err
	}
	if *pair {
		err = a.Start(ctx)
		for _, t := range d.Things {
			if err != nil {
				break
			}
			_, err = a.Pair(ctx, t.Invite)
		}
	}
	// Other thingctl commands need the data directory while the demo runs.
	a.Close()
	if err != nil {
		return err
	}
	type thingOut struct {
		Kind   string `json:"kind"`
		Name   string `json:"name"`
		Addr   string `json:"addr"`
		Invite string `json:"invite"`
		QRFile string `json:"qr_file"`
	}
	var out []thingOut
	for _, t := range d.Things {
		f := filepath.Join(d.Dir, "qr-"+t.Kind+".png")
		if err := os.WriteFile(f, t.QR, 0o600); err != nil {
			return err
		}
		out = append(out, thingOut{t.Kind, t.Name, t.Addr, t.Invite, f})
	}
	if *asJSON {
		b, _ := json.Marshal(map[string]any{"account": d.Person.Address, "things": out})
		fmt.Fprintln(g.stdout, string(b))
	} else {
		fmt.Fprintf(g.stdout, "demo home running; your account %s is set in %s\n", d.Person.Address, g.data)
		for _, t := range out {
			fmt.Fprintf(g.stdout, "%-10s %s <%s>\n           %s\n           QR: %s\n", t.Kind, t.Name, t.Addr, t.Invite, t.QRFile)
		}
		fmt.Fprintln(g.stdout, `type "open" or "close" for the front door, "quit" to stop (or Ctrl-C)`)
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(g.stdin)
		for sc.Scan() {
			lines <- strings.TrimSpace(sc.Text())
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case l := <-lines:
			var err error
			switch l {
			case "open":
				err = d.OpenDoor()
			case "close":
				err = d.CloseDoor()
			case "quit", "exit":
				return nil
			case "":
				continue
			default:
				err = fmt.Errorf("unknown %q: open, close or quit", l)
			}
			if err != nil {
				fmt.Fprintln(g.stderr, err)
			} else {
				fmt.Fprintln(g.stdout, "ok")
			}
		}
	}
}

func cmdExportKey(_ context.Context, g *globals, args []string) error {
	fs := flags(g, "export-key", "[--out FILE] [--export-passphrase-file F]")
	out := fs.String("out", "", "write to FILE (0600) instead of standard output")
	expPass := fs.String("export-passphrase-file", "", "lock the export with this passphrase (default: the identity's)")
	if err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	a, err := g.unlocked(context.Background())
	if err != nil {
		return err
	}
	defer a.Close()
	pw, err := g.passphrase("")
	if err != nil {
		return err
	}
	if *expPass != "" {
		b, err := os.ReadFile(*expPass)
		if err != nil {
			return err
		}
		pw = []byte(strings.TrimRight(string(b), "\r\n"))
	}
	armored, err := a.ExportKey(pw)
	if err != nil {
		return err
	}
	if *out != "" {
		return os.WriteFile(*out, []byte(armored), 0o600)
	}
	_, err = io.WriteString(g.stdout, armored)
	return err
}

func cmdImportKey(ctx context.Context, g *globals, args []string) error {
	fs := flags(g, "import-key", "[--key-passphrase-file F] KEYFILE")
	keyPass := fs.String("key-passphrase-file", "", "passphrase of the key file (default: none)")
	if err := parse(fs, args, 1, 1); err != nil {
		return err
	}
	key, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	var kp []byte
	if *keyPass != "" {
		if kp, err = os.ReadFile(*keyPass); err != nil {
			return err
		}
		kp = []byte(strings.TrimRight(string(kp), "\r\n"))
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
	p, err := a.ImportProfile(ctx, key, kp, pw)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "identity %s <%s>, key %s\n", p.Name, p.Addr, p.Fingerprint)
	return nil
}
