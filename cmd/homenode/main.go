// Command homenode is the home mail node: a small SMTP + IMAP server for a
// home's addresses. See "homenode --help"; the conventions (--help,
// --version, exit statuses) are package cli's.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/thingpost/thingpost/homenode"
	"github.com/thingpost/thingpost/homenode/accounts"
	"github.com/thingpost/thingpost/internal/cli"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	p := &cli.Program{
		Name:    "homenode",
		Summary: "The home mail node: SMTP + IMAP for a home's addresses.",
		Commands: []*cli.Command{
			{Name: "init", Run: cmdInit, Args: "--data DIR --domain DOMAIN [flags]",
				Summary: "create a node's data directory: config, TLS certificate, DKIM key", Help: initHelp},
			{Name: "run", Run: cmdRun, Args: "--data DIR [--grace D]", Summary: "serve SMTP and IMAP until SIGTERM or SIGINT", Help: runHelp},
			{Name: "status", Run: cmdStatus, Args: "--data DIR [--json]",
				Summary: "show accounts, queue, listeners, TLS fingerprint and DKIM record", Help: `Prints accounts, outbound queue length, listeners, the TLS fingerprint and
the DKIM record. Asks the running node over its control socket; when no node
runs, reads the store directly.`},
			{Name: "user", Summary: "manage the accounts (whether or not the node runs)", Commands: []*cli.Command{
				{Name: "add", Run: cmdUserAdd, FlagsAnywhere: true, Args: "ADDR --data DIR [--password-stdin]",
					Summary: "add an account", Help: `Adds an account (its INBOX too). The address must be in one of the node's
domains. The password is read from the first line of standard input with
--password-stdin; otherwise a random one is generated and printed once.
Works whether or not the node is running. A weak password is refused (exit
1): shorter than 10 characters, fewer than 4 different characters, or one
of the most common passwords (case, and digits and punctuation at the end,
do not matter: "Sunshine2024!" is "sunshine").`},
				{Name: "list", Run: cmdUserList, Args: "--data DIR", Summary: "list the accounts, one address per line"},
				{Name: "del", Run: cmdUserDel, FlagsAnywhere: true, Args: "ADDR --data DIR", Summary: "delete an account and all of its mail"},
				{Name: "passwd", Run: cmdUserPasswd, FlagsAnywhere: true, Args: "ADDR --data DIR [--password-stdin]",
					Summary: "set a new password", Help: `Sets a new password: the first line of standard input with --password-stdin,
otherwise a random one, printed once. Weak passwords are refused as by
user add.`},
			}},
		},
	}
	return p.Run(ctx, args, stdin, stdout, stderr)
}

func dataFlag(c *cli.Call) *string {
	return c.Flags.String("data", "", "the data directory `DIR` (config, keys, mail store) (required)")
}

const initHelp = `Creates DIR (mode 0700) with a commented config file (homenode.toml), a
self-signed TLS certificate and a DKIM key, and prints the certificate's
SHA-256 fingerprint (for pinning) and the DKIM DNS record to publish.

Listener defaults: smtp :25, submission :587, submissions :465, imap :143,
imaps :993 on every interface. With --plain the node is a loopback demo/test
node: smtp ` + homenode.DefaultPlainSMTP + `, plain-text submission ` + homenode.DefaultPlainSubmission + ` and
plain-text IMAP ` + homenode.DefaultPlainIMAP + ` (passwords allowed without TLS;
STARTTLS still offered), no implicit-TLS listeners unless given. Plain-text
listeners are refused unless their host is a loopback address. "off" turns a
listener off.`

const runHelp = `Serves SMTP and IMAP as configured in DIR/homenode.toml until SIGTERM or
SIGINT, then shuts down gracefully: no new connections, SMTP transactions in
flight finish (cut off after --grace), then the store closes. Logs go to
standard error. Unless GOMEMLIMIT is set, the Go runtime gets the soft memory
limit memory_limit of the config (16 MiB by default), and unless GOGC is set,
GOGC=25: the resident size stays small.`

func cmdInit(_ context.Context, c *cli.Call) error {
	fs := c.Flags
	var o homenode.InitOptions
	fs.StringVar(&o.Dir, "data", "", "data directory `DIR` to create (required)")
	fs.StringVar(&o.Domain, "domain", "", "mail `DOMAIN` of the home, e.g. home.example (required)")
	fs.StringVar(&o.Hostname, "hostname", "", "this node's DNS name (default: the domain)")
	fs.StringVar(&o.SMTP, "smtp", "", "inbound MX listener `HOST:PORT`")
	fs.StringVar(&o.Submission, "submission", "", "submission listener `HOST:PORT` (STARTTLS; plain-text with --plain)")
	fs.StringVar(&o.Submissions, "submissions", "", "implicit-TLS submission listener `HOST:PORT`")
	fs.StringVar(&o.IMAP, "imap", "", "IMAP listener `HOST:PORT` (STARTTLS; plain-text with --plain)")
	fs.StringVar(&o.IMAPS, "imaps", "", "implicit-TLS IMAP listener `HOST:PORT`")
	fs.BoolVar(&o.Plain, "plain", false, "plain-text submission and IMAP listeners (loopback only)")
	if err := c.Parse(0, 0); err != nil {
		return err
	}
	if err := c.Require("data", "domain"); err != nil {
		return err
	}
	res, err := homenode.Init(o)
	if err != nil {
		var ce *homenode.ConfigError
		if errors.As(err, &ce) {
			return cli.Usagef("%v", err)
		}
		return err
	}
	w := c.Stdout
	fmt.Fprintf(w, "wrote %s\n", res.ConfigPath)
	fmt.Fprintf(w, "TLS certificate SHA-256 fingerprint (pin this in clients):\n  %s\n", res.CertFingerprint)
	fmt.Fprintln(w, "DKIM: publish this DNS TXT record:")
	for _, r := range res.DKIM {
		fmt.Fprintf(w, "  %s\n", r)
	}
	fmt.Fprintf(w, "Next: homenode user add ADDR --data %s; then homenode run --data %s\n", o.Dir, o.Dir)
	return nil
}

// loadConfig reads DIR/homenode.toml; a broken or missing one is the
// operator's to fix: exit 2.
func loadConfig(c *cli.Call, dir string) (*homenode.Config, error) {
	if err := c.Require("data"); err != nil {
		return nil, err
	}
	cfg, err := homenode.LoadConfig(dir)
	if errors.Is(err, homenode.ErrBadConfig) {
		return nil, cli.Exit(cli.ExitUsage, fmt.Errorf("bad config: %w", err))
	}
	return cfg, err
}

func cmdRun(ctx context.Context, c *cli.Call) error {
	dir := dataFlag(c)
	grace := c.Flags.Duration("grace", 30*time.Second, "how long SMTP transactions in flight may take at shutdown")
	if err := c.Parse(0, 0); err != nil {
		return err
	}
	cfg, err := loadConfig(c, *dir)
	if err != nil {
		return err
	}
	// On a router the resident size is what counts (see
	// homenode.DefaultMemoryLimit and DefaultGCPercent).
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(int64(cfg.MemoryLimit))
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(homenode.DefaultGCPercent)
	}
	log := slog.New(slog.NewTextHandler(c.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel.Level}))
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	node, err := homenode.Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	<-ctx.Done()
	stop() // a second signal kills at once
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), *grace)
	defer cancel()
	return node.Shutdown(sctx)
}

func cmdStatus(ctx context.Context, c *cli.Call) error {
	asJSON := c.Flags.Bool("json", false, "print JSON")
	return withAdmin(ctx, c, 0, func(ctx context.Context, a homenode.Admin) error {
		st, err := a.Status(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(c.Stdout, st)
		}
		_, err = io.WriteString(c.Stdout, st.Text())
		return err
	})
}

// withAdmin declares --data DIR, parses the command line (nargs arguments,
// and the flags the command declared) and runs fn with the admin of the
// node in DIR.
func withAdmin(ctx context.Context, c *cli.Call, nargs int, fn func(context.Context, homenode.Admin) error) error {
	dir := dataFlag(c)
	if err := c.Parse(nargs, nargs); err != nil {
		return err
	}
	cfg, err := loadConfig(c, *dir)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	a, err := homenode.OpenAdmin(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(ctx, a)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// readPassword takes the first line of stdin (--password-stdin) or makes a
// random one, which is printed once.
func readPassword(fromStdin bool, stdin io.Reader) (pw string, generated bool, err error) {
	if !fromStdin {
		pw, err = accounts.GeneratePassword()
		return pw, true, err
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", false, fmt.Errorf("read password from stdin: %w", err)
	}
	pw = strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", false, cli.Usagef("--password-stdin: standard input is empty")
	}
	return pw, false, nil
}

func cmdUserAdd(ctx context.Context, c *cli.Call) error {
	return withPassword(ctx, c, homenode.Admin.AddUser, "added %s\n", "(shown once; change it with homenode user passwd)")
}

// withPassword is user add and user passwd: it parses ADDR --data DIR
// [--password-stdin] and gives ADDR a password with set (Admin.AddUser or
// Admin.SetPassword), saying done; a password it made is printed once,
// with note.
func withPassword(ctx context.Context, c *cli.Call, set func(homenode.Admin, context.Context, string, string) error, done, note string) error {
	fromStdin := c.Flags.Bool("password-stdin", false, "read the password from standard input")
	return withAdmin(ctx, c, 1, func(ctx context.Context, a homenode.Admin) error {
		pw, generated, err := readPassword(*fromStdin, c.Stdin)
		if err != nil {
			return err
		}
		if err := set(a, ctx, c.Arg(0), pw); err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, done, strings.ToLower(c.Arg(0)))
		if generated {
			fmt.Fprintf(c.Stdout, "password: %s\n%s\n", pw, note)
		}
		return nil
	})
}

func cmdUserList(ctx context.Context, c *cli.Call) error {
	return withAdmin(ctx, c, 0, func(ctx context.Context, a homenode.Admin) error {
		users, err := a.Users(ctx)
		if err != nil {
			return err
		}
		for _, u := range users {
			fmt.Fprintln(c.Stdout, u)
		}
		return nil
	})
}

func cmdUserDel(ctx context.Context, c *cli.Call) error {
	return withAdmin(ctx, c, 1, func(ctx context.Context, a homenode.Admin) error {
		if err := a.DeleteUser(ctx, c.Arg(0)); err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "deleted %s\n", strings.ToLower(c.Arg(0)))
		return nil
	})
}

func cmdUserPasswd(ctx context.Context, c *cli.Call) error {
	return withPassword(ctx, c, homenode.Admin.SetPassword, "password changed for %s\n", "(shown once)")
}
