// Command homenode is the home mail node: a small SMTP + IMAP server for a
// home's addresses. See "homenode --help".
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
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/thingpost/thingpost/homenode"
	"github.com/thingpost/thingpost/homenode/accounts"
)

const usage = `Usage: homenode COMMAND [ARGS] [FLAGS]

The home mail node: SMTP + IMAP for a home's addresses.

Commands:
  homenode init   --data DIR --domain DOMAIN [--hostname NAME] [--smtp HOST:PORT]
                  [--submission HOST:PORT] [--imap HOST:PORT]
                  [--submissions HOST:PORT] [--imaps HOST:PORT] [--plain]
  homenode run    --data DIR
  homenode status --data DIR [--json]
  homenode user add    ADDR --data DIR [--password-stdin]
  homenode user list   --data DIR
  homenode user del    ADDR --data DIR
  homenode user passwd ADDR --data DIR [--password-stdin]

Every command takes --help. Exit status: 0 ok, 1 failure, 2 bad usage.
`

// errUsage marks errors that exit 2; the message is already one line.
type errUsage struct{ msg string }

func (e errUsage) Error() string { return e.msg }

func main() {
	err := dispatch(os.Args[1:], os.Stdin, os.Stdout)
	var ue errUsage
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.As(err, &ue):
		fmt.Fprintln(os.Stderr, "homenode:", ue.msg)
		os.Exit(2)
	case errors.Is(err, homenode.ErrBadConfig):
		fmt.Fprintln(os.Stderr, "homenode: bad config:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "homenode:", err)
		os.Exit(1)
	}
}

func dispatch(args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return errUsage{"no command given (see homenode --help)"}
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	case "init":
		return cmdInit(args[1:], stdout)
	case "run":
		return cmdRun(args[1:], stdout)
	case "status":
		return cmdStatus(args[1:], stdout)
	case "user":
		if len(args) < 2 {
			return errUsage{"user: want a subcommand: add, list, del or passwd"}
		}
		switch args[1] {
		case "add":
			return cmdUserAdd(args[2:], stdin, stdout)
		case "list":
			return cmdUserList(args[2:], stdout)
		case "del":
			return cmdUserDel(args[2:], stdout)
		case "passwd":
			return cmdUserPasswd(args[2:], stdin, stdout)
		case "-h", "-help", "--help":
			fmt.Fprint(stdout, usage)
			return nil
		}
		return errUsage{fmt.Sprintf("user: unknown subcommand %q (want add, list, del or passwd)", args[1])}
	}
	return errUsage{fmt.Sprintf("unknown command %q (want init, run, status or user; see homenode --help)", args[0])}
}

// newFlags makes a FlagSet whose --help prints to stdout and whose errors are
// returned (not printed) so that main prints one line.
// cmdFlags is a subcommand's FlagSet with its --help text.
type cmdFlags struct {
	*flag.FlagSet
	help func()
}

func newFlags(name, args, about string, stdout io.Writer) *cmdFlags {
	fs := &cmdFlags{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError)}
	fs.SetOutput(io.Discard)
	// The flag package calls Usage on every parse error too; parse prints
	// the help only for --help, so that errors stay one line.
	fs.Usage = func() {}
	fs.help = func() {
		fmt.Fprintf(stdout, "Usage: homenode %s %s\n\n%s\n\nFlags:\n", name, args, about)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parse parses flags that may come before or after the positional
// arguments, and checks the positional count.
func parse(fs *cmdFlags, args []string, positional int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.help()
				return nil, err
			}
			return nil, errUsage{fmt.Sprintf("%s: %v (see homenode %s --help)", fs.Name(), err, fs.Name())}
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) != positional {
		if positional == 0 {
			return nil, errUsage{fmt.Sprintf("%s: unexpected argument %q (see homenode %s --help)", fs.Name(), pos[0], fs.Name())}
		}
		return nil, errUsage{fmt.Sprintf("%s: want %d argument(s), got %d (see homenode %s --help)", fs.Name(), positional, len(pos), fs.Name())}
	}
	return pos, nil
}

func dataFlag(fs *cmdFlags) *string {
	return fs.String("data", "", "data directory (config, keys, mail store) (required)")
}

func needData(fs *cmdFlags, dir string) error {
	if dir == "" {
		return errUsage{fmt.Sprintf("%s: --data DIR is required", fs.Name())}
	}
	return nil
}

func cmdInit(args []string, stdout io.Writer) error {
	fs := newFlags("init", "--data DIR --domain DOMAIN [flags]", `Creates DIR (mode 0700) with a commented config file (homenode.toml), a
self-signed TLS certificate and a DKIM key, and prints the certificate's
SHA-256 fingerprint (for pinning) and the DKIM DNS record to publish.

Listener defaults: smtp :25, submission :587, submissions :465, imap :143,
imaps :993 on every interface. With --plain the node is a loopback demo/test
node: smtp `+homenode.DefaultPlainSMTP+`, plain-text submission `+homenode.DefaultPlainSubmission+` and
plain-text IMAP `+homenode.DefaultPlainIMAP+` (passwords allowed without TLS;
STARTTLS still offered), no implicit-TLS listeners unless given. Plain-text
listeners are refused unless their host is a loopback address. "off" turns a
listener off.`, stdout)
	var o homenode.InitOptions
	fs.StringVar(&o.Dir, "data", "", "data directory to create (required)")
	fs.StringVar(&o.Domain, "domain", "", "mail domain of the home, e.g. home.example (required)")
	fs.StringVar(&o.Hostname, "hostname", "", "this node's DNS name (default: the domain)")
	fs.StringVar(&o.SMTP, "smtp", "", "inbound MX listener HOST:PORT")
	fs.StringVar(&o.Submission, "submission", "", "submission listener HOST:PORT (STARTTLS; plain-text with --plain)")
	fs.StringVar(&o.Submissions, "submissions", "", "implicit-TLS submission listener HOST:PORT")
	fs.StringVar(&o.IMAP, "imap", "", "IMAP listener HOST:PORT (STARTTLS; plain-text with --plain)")
	fs.StringVar(&o.IMAPS, "imaps", "", "implicit-TLS IMAP listener HOST:PORT")
	fs.BoolVar(&o.Plain, "plain", false, "plain-text submission and IMAP listeners (loopback only)")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	if err := needData(fs, o.Dir); err != nil {
		return err
	}
	if o.Domain == "" {
		return errUsage{"init: --domain DOMAIN is required"}
	}
	res, err := homenode.Init(o)
	if err != nil {
		var ce *homenode.ConfigError
		if errors.As(err, &ce) {
			return errUsage{"init: " + err.Error()}
		}
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", res.ConfigPath)
	fmt.Fprintf(stdout, "TLS certificate SHA-256 fingerprint (pin this in clients):\n  %s\n", res.CertFingerprint)
	fmt.Fprintln(stdout, "DKIM: publish this DNS TXT record:")
	for _, r := range res.DKIM {
		fmt.Fprintf(stdout, "  %s\n", r)
	}
	fmt.Fprintf(stdout, "Next: homenode user add ADDR --data %s; then homenode run --data %s\n", o.Dir, o.Dir)
	return nil
}

func loadConfig(fs *cmdFlags, dir string) (*homenode.Config, error) {
	if err := needData(fs, dir); err != nil {
		return nil, err
	}
	return homenode.LoadConfig(dir)
}

func cmdRun(args []string, stdout io.Writer) error {
	fs := newFlags("run", "--data DIR", `Serves SMTP and IMAP as configured in DIR/homenode.toml until SIGTERM or
SIGINT, then shuts down gracefully: no new connections, SMTP transactions in
flight finish (cut off after --grace), then the store closes. Logs go to
standard error. Unless GOMEMLIMIT is set, the Go runtime gets the soft memory
limit memory_limit of the config (16 MiB by default), and unless GOGC is set,
GOGC=25: the resident size stays small.`, stdout)
	dir := dataFlag(fs)
	grace := fs.Duration("grace", 30*time.Second, "how long SMTP transactions in flight may take at shutdown")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	cfg, err := loadConfig(fs, *dir)
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
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel.Level}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	node, err := homenode.Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	<-ctx.Done()
	stop() // a second signal kills at once
	sctx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	return node.Shutdown(sctx)
}

func cmdStatus(args []string, stdout io.Writer) error {
	fs := newFlags("status", "--data DIR [--json]", `Prints accounts, outbound queue length, listeners, the TLS fingerprint and
the DKIM record. Asks the running node over its control socket; when no node
runs, reads the store directly.`, stdout)
	dir := dataFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	return withAdmin(fs, *dir, func(ctx context.Context, a homenode.Admin) error {
		st, err := a.Status(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(stdout, st)
		}
		_, err = io.WriteString(stdout, st.Text())
		return err
	})
}

func withAdmin(fs *cmdFlags, dir string, fn func(context.Context, homenode.Admin) error) error {
	cfg, err := loadConfig(fs, dir)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
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
		return "", false, errUsage{"--password-stdin: standard input is empty"}
	}
	return pw, false, nil
}

func cmdUserAdd(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := newFlags("user add", "ADDR --data DIR [--password-stdin]", `Adds an account (its INBOX too). The address must be in one of the node's
domains. The password is read from the first line of standard input with
--password-stdin; otherwise a random one is generated and printed once.
Works whether or not the node is running.`, stdout)
	dir := dataFlag(fs)
	fromStdin := fs.Bool("password-stdin", false, "read the password from standard input")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	return withAdmin(fs, *dir, func(ctx context.Context, a homenode.Admin) error {
		pw, generated, err := readPassword(*fromStdin, stdin)
		if err != nil {
			return err
		}
		if err := a.AddUser(ctx, pos[0], pw); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "added %s\n", strings.ToLower(pos[0]))
		if generated {
			fmt.Fprintf(stdout, "password: %s\n(shown once; change it with homenode user passwd)\n", pw)
		}
		return nil
	})
}

func cmdUserList(args []string, stdout io.Writer) error {
	fs := newFlags("user list", "--data DIR", "Lists the accounts, one address per line.", stdout)
	dir := dataFlag(fs)
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	return withAdmin(fs, *dir, func(ctx context.Context, a homenode.Admin) error {
		users, err := a.Users(ctx)
		if err != nil {
			return err
		}
		for _, u := range users {
			fmt.Fprintln(stdout, u)
		}
		return nil
	})
}

func cmdUserDel(args []string, stdout io.Writer) error {
	fs := newFlags("user del", "ADDR --data DIR", "Deletes an account and all of its mail.", stdout)
	dir := dataFlag(fs)
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	return withAdmin(fs, *dir, func(ctx context.Context, a homenode.Admin) error {
		if err := a.DeleteUser(ctx, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "deleted %s\n", strings.ToLower(pos[0]))
		return nil
	})
}

func cmdUserPasswd(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := newFlags("user passwd", "ADDR --data DIR [--password-stdin]", `Sets a new password: the first line of standard input with --password-stdin,
otherwise a random one, printed once.`, stdout)
	dir := dataFlag(fs)
	fromStdin := fs.Bool("password-stdin", false, "read the password from standard input")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	return withAdmin(fs, *dir, func(ctx context.Context, a homenode.Admin) error {
		pw, generated, err := readPassword(*fromStdin, stdin)
		if err != nil {
			return err
		}
		if err := a.SetPassword(ctx, pos[0], pw); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "password changed for %s\n", strings.ToLower(pos[0]))
		if generated {
			fmt.Fprintf(stdout, "password: %s\n(shown once)\n", pw)
		}
		return nil
	})
}
