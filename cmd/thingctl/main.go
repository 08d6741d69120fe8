// Command thingctl is the person's side of Thingpost on a terminal: the
// core of the app (package app) without the GUI, for scripts, servers and
// tests.
//
//	thingctl [--data DIR] init --addr ADDR [--name NAME] (--dclogin CODE | --imap H:P --smtp H:P ...)
//	thingctl pair CODE|IMAGE
//	thingctl send THING COMMAND...      exit 0 answered, 1 refused, 2 expired or failed
//	thingctl demo                        runs the demo home until interrupted
//
// Run "thingctl help" for every command. The conventions (--help,
// --version, exit statuses) are package cli's; the commands are in one
// file per group: account.go, keys.go, pair.go, things.go, send.go,
// demo.go.
package main

import (
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

	"golang.org/x/term"

	"github.com/thingpost/thingpost/app"
	"github.com/thingpost/thingpost/demo"
	"github.com/thingpost/thingpost/internal/cli"
)

// The exit statuses of send, besides 0 (answered).
const (
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

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := &globals{stdin: stdin, stdout: stdout, stderr: stderr}
	cmd := func(name, args, summary string, run func(context.Context, *globals, *cli.Call) error) *cli.Command {
		return &cli.Command{Name: name, Args: args, Summary: summary, Run: func(ctx context.Context, c *cli.Call) error {
			if err := g.resolveData(); err != nil {
				return err
			}
			err := run(ctx, g, c)
			for _, h := range g.hosts {
				if cerr := h.Close(); cerr != nil {
					err = errors.Join(err, cerr)
				}
			}
			return err
		}}
	}
	p := &cli.Program{
		Name:    "thingctl",
		Summary: "Thingpost for people, on a terminal.",
		Globals: func(fs *flag.FlagSet) {
			fs.StringVar(&g.data, "data", "", "data directory `DIR` (default $THINGPOST_DATA, else the user config dir/thingpost)")
			fs.StringVar(&g.passFile, "passphrase-file", "", "read the identity passphrase from `FILE` (else $THINGPOST_PASSPHRASE, else a prompt)")
			fs.BoolVar(&g.noKeyring, "no-keyring", false, "keep the mail password encrypted to your key, not in the OS keyring")
			fs.BoolVar(&g.verbose, "v", false, "log what happens to stderr")
		},
		Footer: "THING is a name, address or fingerprint (prefix of 8 or more).",
		Commands: []*cli.Command{
			cmd("init", "--addr ADDR [--name NAME] [--import KEYFILE] (--dclogin CODE | --imap HOST:PORT --smtp HOST:PORT [--security tls|starttls|plain] [--user U] [--pin SHA256]) [--password-file F]",
				"create (or import) your identity and set your mail account", cmdInit),
			cmd("pair", "[--json] CODE|IMAGE", "pair with a thing: CODE (i.delta.chat link, OPENPGP4FPR:) or IMAGE (PNG/JPEG of its QR code)", cmdPair),
			cmd("things", "[--json]", "list the paired things", cmdThings),
			cmd("send", "[--timeout D] [--json] THING COMMAND...", "send THING COMMAND... and wait for the answer (exit 0 answered, 1 refused, 2 expired or failed)", cmdSend),
			cmd("watch", "[--json]", "print events (replies, events of things, connection) until interrupted", cmdWatch),
			cmd("history", "[--limit N] [--before SEQ] [--kind K] [--grep TEXT] [--json] THING", "show a thing's history", cmdHistory),
			cmd("invite", "[--qr FILE.png] [--json] THING [member|guest [DURATION]]", "invite another person to THING (owner only)", cmdInvite),
			cmd("users", "[--json] THING", "list who may use THING (owner only)", cmdUsers),
			cmd("confirm", "THING WHO", "let WHO use THING: a joiner whose address THING could not verify waits for this (owner only)", cmdConfirm),
			cmd("revoke", "THING WHO", "take THING away from WHO, or refuse a waiting joiner (address or fingerprint; owner only)", cmdRevoke),
			cmd("rename", "THING NAME", "give THING a local name", cmdRename),
			cmd("remove", "[--force] THING", "unpair THING (asks it to let you go first)", cmdRemove),
			cmd("status", "[--json]", "show the profile, account and outbox", cmdStatus),
			cmd("my-code", "[--qr FILE.png] [--json]", "show your own contact code (for another person) and your key fingerprint", cmdMyCode),
			cmd("demo", "[--dir DIR] [--name NAME] [--pair] [--json]", "run the demo home (a mail node and three simulated things) until interrupted", cmdDemo),
			cmd("export-key", "[--out FILE] [--export-passphrase-file F]", "write your secret key, locked with a passphrase (a backup; GnuPG reads it)", cmdExportKey),
			cmd("import-key", "[--key-passphrase-file F] KEYFILE", "make a secret key (from export-key or GnuPG) your identity", cmdImportKey),
		},
	}
	return p.Run(ctx, args, stdin, stdout, stderr)
}

// resolveData picks the data directory: --data, $THINGPOST_DATA, or
// thingpost in the user config directory.
func (g *globals) resolveData() error {
	if g.data == "" {
		g.data = os.Getenv("THINGPOST_DATA")
	}
	if g.data == "" {
		dir, err := os.UserConfigDir()
		if err != nil {
			return fmt.Errorf("no data directory: use --data (%w)", err)
		}
		g.data = filepath.Join(dir, "thingpost")
	}
	return nil
}

// readSecret reads a passphrase or password file without its line end.
func readSecret(file string) ([]byte, error) {
	b, err := os.ReadFile(file)
	return []byte(strings.TrimRight(string(b), "\r\n")), err
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
		return readSecret(g.passFile)
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

// withApp parses a command line without arguments and runs f with the
// app open (locked), closing it after.
func (g *globals) withApp(c *cli.Call, f func(*app.App) error) error {
	if err := c.Parse(0, 0); err != nil {
		return err
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.Close()
	return f(a)
}

// withThing parses the command line of a command about THING, its first
// argument (minArgs to maxArgs arguments, maxArgs < 0: no limit), and runs
// f with the app open (connected with connect) and THING found, closing the
// app after.
func (g *globals) withThing(ctx context.Context, c *cli.Call, minArgs, maxArgs int, connect bool, f func(*app.App, app.Thing) error) error {
	if err := c.Parse(minArgs, maxArgs); err != nil {
		return err
	}
	a, th, err := g.thing(ctx, c.Arg(0), connect)
	if err != nil {
		return err
	}
	defer a.Close()
	return f(a, th)
}

// connected is unlocked and started.
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
