// Command thingd is the thing agent: it gives a thing its address, key and
// rules, and makes it obey exactly the people it should, over any IMAP/SMTP
// server.
//
//	thingd init --data DIR --addr ADDR --name NAME --kind KIND --imap HOST:PORT --smtp HOST:PORT ...
//	thingd qr   --data DIR
//	thingd run  --data DIR [--data DIR2 ...]
//
// The conventions (--help, --version, exit statuses) are package cli's.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/thingpost/thingpost/internal/cli"
	"github.com/thingpost/thingpost/internal/qr"
	"github.com/thingpost/thingpost/thing"
	"github.com/thingpost/thingpost/thing/driver"
	"github.com/thingpost/thingpost/transport"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	p := &cli.Program{
		Name:    "thingd",
		Summary: "The Thingpost thing agent: a thing's address, key and rules, over any IMAP/SMTP server.",
		Commands: []*cli.Command{
			{Name: "init", Run: cmdInit, Args: "--data DIR --addr ADDR --name NAME --kind KIND --imap HOST:PORT --smtp HOST:PORT [flags]",
				Summary: "create a thing's identity and configuration, and print its pairing code",
				Help: `Creates DIR with the thing's key and thing.toml, and prints its pairing code:
the invite link on stdout, the QR code on stderr and in DIR/invite.png.
First it logs in to the IMAP and SMTP servers with the given security and
pin, and writes nothing when that fails; --no-check skips the login (for a
setup offline).`},
			{Name: "qr", Run: cmdQR, Args: "--data DIR", Summary: "print the thing's invite link and rewrite DIR/invite.png"},
			{Name: "run", Run: cmdRun, Args: "--data DIR [--data DIR ...] [--log-level LEVEL]",
				Summary: "serve one or more things until SIGTERM or SIGINT"},
		},
	}
	return p.Run(ctx, args, stdin, stdout, stderr)
}

func cmdInit(ctx context.Context, c *cli.Call) error {
	fs := c.Flags
	dir := fs.String("data", "", "data directory `DIR` to create (required)")
	addr := fs.String("addr", "", "the thing's mail address `ADDR` (required)")
	name := fs.String("name", "", "the `NAME` people see (required)")
	kind := fs.String("kind", "", "device `KIND`: "+strings.Join(driver.Kinds(), ", ")+" (required)")
	imap := fs.String("imap", "", "IMAP server `HOST:PORT` (required)")
	smtp := fs.String("smtp", "", "SMTP submission server `HOST:PORT` (required)")
	security := fs.String("security", "tls", "tls, starttls, or plain (loopback only)")
	user := fs.String("user", "", "login name (default: the address)")
	pwStdin := fs.Bool("password-stdin", false, "read the account password from the first line of stdin")
	pin := fs.String("pin", "", "SHA-256 fingerprint of the server certificate (self-signed home node)")
	authserv := fs.String("authserv-id", "", "the mail server whose Authentication-Results vouch for a joiner's address (on homenode: its hostname); empty: the owner confirms each invited joiner")
	noCheck := fs.Bool("no-check", false, "write the configuration without logging in to the servers first")
	if err := c.Parse(0, 0); err != nil {
		return err
	}
	if err := c.Require("data", "addr", "name", "kind", "imap", "smtp"); err != nil {
		return err
	}
	var password string
	if *pwStdin {
		line, err := bufio.NewReader(c.Stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read password: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	}
	f := &thing.File{Name: *name, Kind: *kind, Addr: *addr, Processed: thing.DefaultProcessed, Quarantine: thing.DefaultQuarantine, AuthservID: *authserv}
	f.Mail.IMAP, f.Mail.SMTP, f.Mail.Security, f.Mail.User, f.Mail.Password, f.Mail.PinSHA256 = *imap, *smtp, *security, *user, password, *pin
	acct, err := f.Account()
	if err != nil {
		return err
	}
	if err := thing.CheckAuthservID(*authserv); err != nil {
		return cli.Usagef("--authserv-id: %v", err)
	}
	if *kind != "exec" {
		if err := (&driver.Config{}).Check(*kind); err != nil {
			return err
		}
	}
	if !*noCheck {
		if err := transport.Check(ctx, acct); err != nil {
			return fmt.Errorf("account check (--no-check skips it): %w", err)
		}
	}
	if _, err := thing.Init(*dir, *addr, *name); err != nil {
		return err
	}
	if err := thing.WriteConfig(*dir, f); err != nil {
		return err
	}
	if *kind == "exec" {
		fmt.Fprintf(c.Stderr, "Add the commands to %s before running the thing.\n", filepath.Join(*dir, thing.ConfigFile))
		inv, _, err := thing.ReadFactoryInvite(*dir, *name)
		if err != nil {
			return err
		}
		return showQR(*dir, inv.URL(), inv.Addr, inv.Fingerprint.Human(), c.Stdout, c.Stderr)
	}
	return printQR(*dir, c.Stdout, c.Stderr)
}

func cmdQR(_ context.Context, c *cli.Call) error {
	dir := c.Flags.String("data", "", "the thing's data directory `DIR` (required)")
	if err := c.Parse(0, 0); err != nil {
		return err
	}
	if err := c.Require("data"); err != nil {
		return err
	}
	return printQR(*dir, c.Stdout, c.Stderr)
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
	img, err := qr.Encode(url, qr.Size)
	if err != nil {
		return err
	}
	text, err := qr.Text(url)
	if err != nil {
		return err
	}
	png := filepath.Join(dir, "invite.png")
	if err := os.WriteFile(png, img, 0o644); err != nil {
		return fmt.Errorf("QR code: %w", err)
	}
	fmt.Fprint(stderr, text)
	fmt.Fprintf(stderr, "%s\nFingerprint: %s\nQR image: %s\n", addr, fpr, png)
	fmt.Fprintln(stdout, url)
	return nil
}

func cmdRun(ctx context.Context, c *cli.Call) error {
	var dirs multiFlag
	c.Flags.Var(&dirs, "data", "a thing's data directory `DIR` (repeat for several things)")
	level := c.Flags.String("log-level", "info", "debug, info, warn or error")
	if err := c.Parse(0, 0); err != nil {
		return err
	}
	if err := c.Require("data"); err != nil {
		return err
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		return cli.Usagef("--log-level: %v", err)
	}
	log := slog.New(slog.NewTextHandler(c.Stderr, &slog.HandlerOptions{Level: lv}))
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
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
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
