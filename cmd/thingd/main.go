// Command thingd is the thing agent: it gives a thing its address, key and
// rules, and makes it obey exactly the people it should, over any IMAP/SMTP
// server.
//
//	thingd init --data DIR --addr ADDR --name NAME --kind KIND --imap HOST:PORT --smtp HOST:PORT ...
//	thingd qr   --data DIR
//	thingd run  --data DIR [--data DIR2 ...]
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/thingpost/thingpost/thing"
	"github.com/thingpost/thingpost/thing/driver"
)

const usage = `thingd: the Thingpost thing agent

Usage:
  thingd init --data DIR --addr ADDR --name NAME --kind KIND --imap HOST:PORT --smtp HOST:PORT
              [--security tls|starttls|plain] [--user U] [--password-stdin] [--pin SHA256]
  thingd qr   --data DIR
  thingd run  --data DIR [--data DIR ...]

Run "thingd COMMAND --help" for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// errUsage marks a bad command line: exit status 2.
var errUsage = errors.New("usage")

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	var err error
	switch args[0] {
	case "init":
		err = cmdInit(args[1:], stdin, stdout, stderr)
	case "qr":
		err = cmdQR(args[1:], stdout, stderr)
	case "run":
		err = cmdRun(args[1:], stderr)
	default:
		fmt.Fprintf(stderr, "thingd: unknown command %q\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	fmt.Fprintf(stderr, "thingd %s: %v\n", args[0], err)
	return 1
}

// command is one subcommand's flags and its help text.
type command struct {
	*flag.FlagSet
	help string
}

func newFlags(name, help string, stderr io.Writer) *command {
	fs := flag.NewFlagSet("thingd "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	// The flag package prints the one-line error itself; the help text is
	// only for --help.
	fs.Usage = func() {}
	return &command{FlagSet: fs, help: help}
}

// parse parses the flags; problems are reported on the flag output.
func (c *command) parse(args []string) error {
	if err := c.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(c.Output(), "%s\n\nFlags:\n", c.help)
			c.PrintDefaults()
			return err
		}
		fmt.Fprintf(c.Output(), "Run \"%s --help\" for the flags.\n", c.Name())
		return errUsage
	}
	if c.NArg() > 0 {
		fmt.Fprintf(c.Output(), "%s: unexpected argument %q\n", c.Name(), c.Arg(0))
		return errUsage
	}
	return nil
}

func cmdInit(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("init", "thingd init: create a thing's identity and configuration, and print its pairing code.", stderr)
	dir := fs.String("data", "", "data directory to create (required)")
	addr := fs.String("addr", "", "the thing's mail address (required)")
	name := fs.String("name", "", "the name people see (required)")
	kind := fs.String("kind", "", "device: "+strings.Join(driver.Kinds(), ", ")+" (required)")
	imap := fs.String("imap", "", "IMAP server HOST:PORT (required)")
	smtp := fs.String("smtp", "", "SMTP submission server HOST:PORT (required)")
	security := fs.String("security", "tls", "tls, starttls, or plain (loopback only)")
	user := fs.String("user", "", "login name (default: the address)")
	pwStdin := fs.Bool("password-stdin", false, "read the account password from the first line of stdin")
	pin := fs.String("pin", "", "SHA-256 fingerprint of the server certificate (self-signed home node)")
	if err := fs.parse(args); err != nil {
		return err
	}
	for flagName, v := range map[string]string{"data": *dir, "addr": *addr, "name": *name, "kind": *kind, "imap": *imap, "smtp": *smtp} {
		if v == "" {
			fmt.Fprintf(stderr, "thingd init: --%s is required\n", flagName)
			return errUsage
		}
	}
	var password string
	if *pwStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read password: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	}
	f := &thing.File{Name: *name, Kind: *kind, Addr: *addr, Processed: thing.DefaultProcessed, Quarantine: thing.DefaultQuarantine}
	f.Mail.IMAP, f.Mail.SMTP, f.Mail.Security, f.Mail.User, f.Mail.Password, f.Mail.PinSHA256 = *imap, *smtp, *security, *user, password, *pin
	if _, err := f.Account(); err != nil {
		return err
	}
	if *kind != "exec" {
		if err := (&driver.Config{}).Check(*kind); err != nil {
			return err
		}
	}
	if _, err := thing.Init(*dir, *addr, *name); err != nil {
		return err
	}
	if err := thing.WriteConfig(*dir, f); err != nil {
		return err
	}
	if *kind == "exec" {
		fmt.Fprintf(stderr, "Add the commands to %s before running the thing.\n", filepath.Join(*dir, thing.ConfigFile))
		inv, _, err := thing.ReadFactoryInvite(*dir, *name)
		if err != nil {
			return err
		}
		return showQR(*dir, inv.URL(), inv.Addr, inv.Fingerprint.Human(), stdout, stderr)
	}
	return printQR(*dir, stdout, stderr)
}

func cmdQR(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("qr", "thingd qr: print the thing's invite link and rewrite DIR/invite.png.", stderr)
	dir := fs.String("data", "", "the thing's data directory (required)")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *dir == "" {
		fmt.Fprintln(stderr, "thingd qr: --data is required")
		return errUsage
	}
	return printQR(*dir, stdout, stderr)
}

// printQR shows the factory invite: the link on stdout, the QR code as
// UTF-8 blocks on stderr (a terminal), and as invite.png.
func printQR(dir string, stdout, stderr io.Writer) error {
	cfg, err := thing.LoadConfig(dir)
	if err != nil {
		return err
	}
	inv, owner, err := thing.ReadFactoryInvite(dir, cfg.Name)
	if err != nil {
		return err
	}
	if owner != nil {
		fmt.Fprintf(stderr, "Note: %s owns this thing already; this code grants nothing now. The owner sends \"invite\" for a new code.\n", owner.Addr)
	}
	return showQR(dir, inv.URL(), inv.Addr, inv.Fingerprint.Human(), stdout, stderr)
}

func showQR(dir, url, addr, fpr string, stdout, stderr io.Writer) error {
	q, err := qrcode.New(url, qrcode.Medium)
	if err != nil {
		return fmt.Errorf("QR code: %w", err)
	}
	png := filepath.Join(dir, "invite.png")
	if err := q.WriteFile(512, png); err != nil {
		return fmt.Errorf("QR code: %w", err)
	}
	fmt.Fprint(stderr, q.ToSmallString(false))
	fmt.Fprintf(stderr, "%s\nFingerprint: %s\nQR image: %s\n", addr, fpr, png)
	fmt.Fprintln(stdout, url)
	return nil
}

func cmdRun(args []string, stderr io.Writer) error {
	fs := newFlags("run", "thingd run: serve one or more things until SIGTERM or SIGINT.", stderr)
	var dirs multiFlag
	fs.Var(&dirs, "data", "a thing's data directory (repeat for several things)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.parse(args); err != nil {
		return err
	}
	if len(dirs) == 0 {
		fmt.Fprintln(stderr, "thingd run: --data is required")
		return errUsage
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(stderr, "thingd run: --log-level: %v\n", err)
		return errUsage
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lv}))
	var agents []*thing.Agent
	defer func() {
		for _, a := range agents {
			a.Close()
		}
	}()
	for _, d := range dirs {
		cfg, err := thing.LoadConfig(d)
		if err != nil {
			return err
		}
		cfg.Logger = log
		a, err := thing.Open(cfg)
		if err != nil {
			return err
		}
		agents = append(agents, a)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	var wg sync.WaitGroup
	errs := make([]error, len(agents))
	for i, a := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			log.Info("thing running", "addr", a.Identity().Addr(), "data", dirs[i])
			errs[i] = a.Run(ctx)
		}()
	}
	wg.Wait()
	log.Info("stopped")
	return errors.Join(errs...)
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
