// Package cli is the command-line skeleton that thingd, homenode and
// thingctl share: a table of commands (groups such as "homenode user add"
// nest), flags parsed with the standard flag package, usage text made from
// the table, one version string, and one set of conventions:
//
//   - -h or --help, at the top, after a group or after a command, and
//     "PROG help [COMMAND...]", print the usage on stdout: exit 0.
//   - --version prints "PROG VERSION (GOVERSION)" on stdout: exit 0.
//   - A bad command line (unknown command or flag, missing flag or
//     argument) prints one line on stderr, "PROG CMD: what (see PROG CMD
//     --help)": exit 2.
//   - A failure prints one line on stderr, "PROG CMD: error": exit 1; a
//     command that documents other statuses returns Exit(code, err).
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// Exit statuses.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// Program is a command-line program: its commands and its global flags.
type Program struct {
	Name    string // "thingd"
	Summary string // what the program is, one line
	// Globals declares the flags that come before the command (optional).
	Globals func(*flag.FlagSet)
	// Footer is printed at the end of the top-level usage (optional).
	Footer   string
	Commands []*Command
}

// Command is one command, or a group of commands when Commands is set.
type Command struct {
	Name    string
	Args    string // synopsis after "PROG NAME": "--data DIR [--json]"
	Summary string // one line for the command list
	Help    string // the text of NAME --help (default: Summary)
	// FlagsAnywhere lets flags follow positional arguments ("user add
	// ADDR --data DIR"). Off, the first argument ends the flags, so that
	// "send lamp set target -5" keeps its "-5".
	FlagsAnywhere bool
	// Run declares its flags on c.Flags, calls c.Parse and does the work.
	Run      func(ctx context.Context, c *Call) error
	Commands []*Command
}

// Call is one run of a command.
type Call struct {
	Flags          *flag.FlagSet
	Stdin          io.Reader
	Stdout, Stderr io.Writer

	cmd  *Command
	path string // "homenode user add"
	rest []string
	args []string
}

// usageError is a bad command line: exit 2, with a hint to --help.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// Usagef reports a bad command line: one line on stderr with a hint to the
// command's --help, exit 2.
func Usagef(format string, a ...any) error {
	return usageError{fmt.Sprintf(format, a...)}
}

// ExitError is a failure with an exit status other than 1.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// Exit makes err end the program with status code.
func Exit(code int, err error) error { return &ExitError{Code: code, Err: err} }

// Version is the program's version: the module version the go command
// stamped in (a release tag, or a pseudo-version with the commit and
// "+dirty" for a local build) and the Go version.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	return fmt.Sprintf("%s (%s)", v, bi.GoVersion)
}

// Run runs the program with the command-line arguments (without the
// program name) and returns the exit status.
func (p *Program) Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := quietFlags(p.Name)
	if p.Globals != nil {
		p.Globals(fs)
	}
	version := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			p.usage(stdout, fs)
			return ExitOK
		}
		return fail(stderr, p.Name, usageError{err.Error()})
	}
	if *version {
		fmt.Fprintf(stdout, "%s %s\n", p.Name, Version())
		return ExitOK
	}
	rest := fs.Args()
	if len(rest) > 0 && rest[0] == "help" {
		if len(rest) == 1 {
			p.usage(stdout, fs)
			return ExitOK
		}
		rest = append(rest[1:], "--help")
	}
	if len(rest) == 0 {
		return fail(stderr, p.Name, Usagef("no command given"))
	}
	path, cmds, unknown := p.Name, p.Commands, "unknown command %q"
	for {
		cmd := find(cmds, rest[0])
		if cmd == nil {
			return fail(stderr, path, Usagef(unknown, rest[0]))
		}
		path, rest = path+" "+cmd.Name, rest[1:]
		if cmd.Commands == nil {
			c := &Call{Flags: quietFlags(path), Stdin: stdin, Stdout: stdout, Stderr: stderr, cmd: cmd, path: path, rest: rest}
			err := cmd.Run(ctx, c)
			if errors.Is(err, flag.ErrHelp) {
				return ExitOK
			}
			return fail(stderr, path, err)
		}
		if len(rest) == 0 {
			return fail(stderr, path, Usagef("want a subcommand: %s", names(cmd.Commands)))
		}
		if isHelp(rest[0]) {
			groupUsage(stdout, path, cmd)
			return ExitOK
		}
		cmds, unknown = cmd.Commands, "unknown subcommand %q"
	}
}

// fail prints err as one line and returns its exit status.
func fail(stderr io.Writer, path string, err error) int {
	var ue usageError
	var ee *ExitError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "%s: %s (see %s --help)\n", path, oneLine(ue.msg), path)
		return ExitUsage
	case errors.As(err, &ee):
		fmt.Fprintf(stderr, "%s: %s\n", path, oneLine(err.Error()))
		return ee.Code
	}
	fmt.Fprintf(stderr, "%s: %s\n", path, oneLine(err.Error()))
	return ExitFailure
}

// oneLine joins the lines of an error (errors.Join makes several).
func oneLine(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ") }

// quietFlags is a flag set that prints nothing itself: Run prints errors as
// one line and Parse prints the help.
func quietFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

func find(cmds []*Command, name string) *Command {
	for _, c := range cmds {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func names(cmds []*Command) string {
	n := make([]string, len(cmds))
	for i, c := range cmds {
		n[i] = c.Name
	}
	return strings.Join(n, ", ")
}

func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help":
		return true
	}
	return false
}

// Parse parses the command's flags and checks that it got between minArgs
// and maxArgs positional arguments (maxArgs < 0: no upper limit). It
// returns flag.ErrHelp after printing the help for -h or --help, and a
// usage error for a bad command line.
func (c *Call) Parse(minArgs, maxArgs int) error {
	args := c.rest
	for {
		if err := c.Flags.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				c.help()
				return err
			}
			return usageError{err.Error()}
		}
		args = c.Flags.Args()
		if !c.cmd.FlagsAnywhere || len(args) == 0 {
			c.args = append(c.args, args...)
			break
		}
		c.args, args = append(c.args, args[0]), args[1:]
	}
	switch n := len(c.args); {
	case maxArgs == 0 && n > 0:
		return Usagef("unexpected argument %q", c.args[0])
	case minArgs == maxArgs && n != minArgs:
		return Usagef("want %d argument(s), got %d", minArgs, n)
	case n < minArgs:
		return Usagef("want at least %d arguments, got %d", minArgs, n)
	case maxArgs > 0 && n > maxArgs:
		return Usagef("want at most %d arguments, got %d", maxArgs, n)
	}
	return nil
}

// Args are the positional arguments; Arg(i) is one of them, or "".
func (c *Call) Args() []string { return c.args }

// Arg is the i-th positional argument, or "" when there are fewer.
func (c *Call) Arg(i int) string {
	if i < len(c.args) {
		return c.args[i]
	}
	return ""
}

// Require reports the first of the named flags that is still empty, as
// "--data DIR is required" (DIR from the flag's `backquoted` usage word).
func (c *Call) Require(names ...string) error {
	for _, n := range names {
		f := c.Flags.Lookup(n)
		if f.Value.String() != "" {
			continue
		}
		if word, _ := flag.UnquoteUsage(f); word != "" && word != "string" && word != "value" {
			return Usagef("--%s %s is required", n, word)
		}
		return Usagef("--%s is required", n)
	}
	return nil
}

func (c *Call) help() {
	w := c.Stdout
	fmt.Fprintf(w, "Usage: %s %s\n\n", c.path, c.cmd.Args)
	text := c.cmd.Help
	if text == "" {
		text = sentence(c.cmd.Summary)
	}
	fmt.Fprintln(w, strings.TrimSpace(text))
	printFlags(w, "Flags", c.Flags)
}

func (p *Program) usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: %s [flags] COMMAND [flags] [arguments]\n\n%s\n", p.Name, p.Summary)
	listCommands(w, p.Commands)
	printFlags(w, "Flags", fs)
	if p.Footer != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(p.Footer))
	}
	fmt.Fprintf(w, "\nRun \"%s COMMAND --help\" for a command's flags. Exit status: 0 ok, 1 failure, 2 bad usage.\n", p.Name)
}

func groupUsage(w io.Writer, path string, cmd *Command) {
	fmt.Fprintf(w, "Usage: %s COMMAND [flags] [arguments]\n\n%s\n", path, sentence(cmd.Summary))
	listCommands(w, cmd.Commands)
	fmt.Fprintf(w, "\nRun \"%s COMMAND --help\" for a command's flags.\n", path)
}

// sentence makes a one-line summary ("list the accounts") a paragraph.
func sentence(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

func listCommands(w io.Writer, cmds []*Command) {
	width := 0
	for _, c := range cmds {
		width = max(width, len(c.Name))
	}
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.Name, c.Summary)
	}
}

func printFlags(w io.Writer, title string, fs *flag.FlagSet) {
	has := false
	fs.VisitAll(func(*flag.Flag) { has = true })
	if !has {
		return
	}
	fmt.Fprintf(w, "\n%s:\n", title)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}
