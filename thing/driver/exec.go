package driver

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/thingpost/thingpost/wire"
)

// Limits of exec commands.
const (
	DefaultExecTimeout = 30 * time.Second
	MaxExecTimeout     = 24 * time.Hour
	// DefaultMaxOutput and MaxOutput bound what is kept of a program's
	// output (stdout and stderr together) for the reply; the rest is read
	// and dropped. MaxOutput keeps a reply within wire.MaxText.
	DefaultMaxOutput = 2048
	MaxOutput        = 3072
	// ExecPath is the PATH a program gets unless its env sets one.
	ExecPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// ExecConfig lists the commands of an exec thing. In TOML:
//
//	[[exec.command]]
//	name = "backup"
//	program = "/usr/local/bin/backup"
//	args = [{name = "level", type = "int", min = 0, max = 9}]
//	argv = ["--level", "{level}"]
//	timeout = "30s"
type ExecConfig struct {
	Commands []ExecCommand `toml:"command"`
}

// ExecCommand maps one command a person may send to one program. The
// program runs directly, never through a shell, with the argument vector
// Argv in which each "{name}" is replaced by the checked value of that
// argument; a value always stays inside its one argv element. "{{" and
// "}}" stand for literal braces.
type ExecCommand struct {
	Name    string    `toml:"name"`    // the command word: a lower-case name token
	Program string    `toml:"program"` // absolute path of an executable file
	Args    []ExecArg `toml:"args"`    // typed arguments, in the order the person writes them
	Argv    []string  `toml:"argv"`    // what follows the program name in its argv
	// Timeout kills the program (and its process group) when exceeded;
	// default DefaultExecTimeout, at most MaxExecTimeout.
	Timeout time.Duration `toml:"timeout"`
	// MaxOutput is how many bytes of output the reply keeps; default
	// DefaultMaxOutput, at most MaxOutput.
	MaxOutput int `toml:"max_output"`
	// Dir is the working directory; default "/".
	Dir string `toml:"dir"`
	// Env is the whole environment beyond PATH=ExecPath, as "NAME=value".
	Env []string `toml:"env"`
}

// ExecArg is one typed argument. Every type is checked before the program
// runs: int and float need Min and Max; enum needs Values (lower-case
// tokens); string needs Pattern, a regular expression (RE2 syntax) the
// whole value must match. A string value never contains control
// characters and never starts with '-', whatever the pattern says, so that
// it cannot end a line in a log or pass as an option to the program.
type ExecArg struct {
	Name    string   `toml:"name"`
	Type    string   `toml:"type"` // int, float, enum or string
	Min     *float64 `toml:"min"`
	Max     *float64 `toml:"max"`
	Values  []string `toml:"values"`
	Pattern string   `toml:"pattern"`
}

// shells interpret their arguments as code; a program that is one of them
// would let an argument reach a shell after all.
func isShell(path string) bool {
	switch filepath.Base(path) {
	case "sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "yash", "csh", "tcsh", "fish", "busybox", "toybox":
		return true
	}
	return false
}

type execCmd struct {
	name    string
	program string
	args    []execArg
	argv    [][]segment
	timeout time.Duration
	maxOut  int
	dir     string
	env     []string
}

type execArg struct {
	name    string
	typ     wire.Type
	lim     limit          // int and float
	values  []string       // enum
	pattern *regexp.Regexp // string, anchored
}

// segment is a literal part of an argv element, or the value of argument arg.
type segment struct {
	lit string
	arg int // -1 for a literal
}

func (c ExecConfig) resolve() ([]execCmd, error) {
	if len(c.Commands) == 0 {
		return nil, configErr("exec.command", "no commands configured")
	}
	if len(c.Commands) > wire.MaxCommands {
		return nil, configErr("exec.command", "more than %d commands", wire.MaxCommands)
	}
	var out []execCmd
	for i, cc := range c.Commands {
		at := fmt.Sprintf("exec.command[%d]", i)
		if cc.Name != "" {
			at = fmt.Sprintf("exec.command %q", cc.Name)
		}
		ec, err := cc.resolve(at)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(out, func(o execCmd) bool { return o.name == ec.name }) {
			return nil, configErr(at, "the name is used twice")
		}
		out = append(out, ec)
	}
	// The description must pass wire's own checks (names, reserved words).
	caps := execCaps(out)
	if err := caps.Check(); err != nil {
		return nil, configErr("exec.command", "%v", err)
	}
	return out, nil
}

func (cc ExecCommand) resolve(at string) (execCmd, error) {
	ec := execCmd{name: cc.Name, program: cc.Program, timeout: cc.Timeout, maxOut: cc.MaxOutput, dir: cc.Dir}
	if !wire.IsName(cc.Name) {
		return ec, configErr(at+".name", "%q is not a lower-case name (a-z, then a-z, 0-9, - or _)", cc.Name)
	}
	if err := checkProgram(cc.Program); err != nil {
		return ec, configErr(at+".program", "%v", err)
	}
	if isShell(cc.Program) || isShell(evalSymlinks(cc.Program)) {
		if len(cc.Args) > 0 {
			return ec, configErr(at+".program", "%s is a shell, which would run arguments as code; put the work in a script and make the script the program", cc.Program)
		}
	}
	if len(cc.Args) > wire.MaxArgs {
		return ec, configErr(at+".args", "more than %d arguments", wire.MaxArgs)
	}
	for j, a := range cc.Args {
		ea, err := a.resolve(fmt.Sprintf("%s.args[%d]", at, j))
		if err != nil {
			return ec, err
		}
		if slices.ContainsFunc(ec.args, func(o execArg) bool { return o.name == ea.name }) {
			return ec, configErr(at+".args", "argument %q is declared twice", ea.name)
		}
		ec.args = append(ec.args, ea)
	}
	used := make([]bool, len(ec.args))
	for j, el := range cc.Argv {
		segs, err := parseTemplate(el, ec.args)
		if err != nil {
			return ec, configErr(fmt.Sprintf("%s.argv[%d]", at, j), "%v", err)
		}
		for _, s := range segs {
			if s.arg >= 0 {
				used[s.arg] = true
			}
		}
		ec.argv = append(ec.argv, segs)
	}
	if j := slices.Index(used, false); j >= 0 {
		return ec, configErr(at+".argv", "argument %q is declared but never used", ec.args[j].name)
	}
	switch {
	case ec.timeout == 0:
		ec.timeout = DefaultExecTimeout
	case ec.timeout < 0 || ec.timeout > MaxExecTimeout:
		return ec, configErr(at+".timeout", "must be between 0 and %v", MaxExecTimeout)
	}
	switch {
	case ec.maxOut == 0:
		ec.maxOut = DefaultMaxOutput
	case ec.maxOut < 0 || ec.maxOut > MaxOutput:
		return ec, configErr(at+".max_output", "must be between 0 and %d bytes", MaxOutput)
	}
	if ec.dir == "" {
		ec.dir = "/"
	}
	if fi, err := os.Stat(ec.dir); err != nil || !fi.IsDir() {
		return ec, configErr(at+".dir", "%q is not a directory", ec.dir)
	}
	ec.env = []string{"PATH=" + ExecPath}
	for _, kv := range cc.Env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || !isEnvName(k) || strings.ContainsRune(kv, 0) {
			return ec, configErr(at+".env", "%q is not NAME=value", kv)
		}
		ec.env = append(ec.env, kv)
	}
	return ec, nil
}

func checkProgram(p string) error {
	if !filepath.IsAbs(p) {
		return fmt.Errorf("%q is not an absolute path (no PATH lookup is done)", p)
	}
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%s does not exist", p)
	case err != nil:
		return err
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file", p)
	case fi.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("%s is not executable", p)
	}
	return nil
}

func evalSymlinks(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

func isEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || 'A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || i > 0 && '0' <= r && r <= '9') {
			return false
		}
	}
	return true
}

func (a ExecArg) resolve(at string) (execArg, error) {
	ea := execArg{name: a.Name, typ: wire.Type(a.Type)}
	if !wire.IsName(a.Name) {
		return ea, configErr(at+".name", "%q is not a lower-case name", a.Name)
	}
	numeric := ea.typ == wire.TypeInt || ea.typ == wire.TypeFloat
	if !numeric && (a.Min != nil || a.Max != nil) {
		return ea, configErr(at, "min and max are for int and float arguments")
	}
	if ea.typ != wire.TypeEnum && len(a.Values) > 0 {
		return ea, configErr(at+".values", "values are for enum arguments")
	}
	if ea.typ != wire.TypeString && a.Pattern != "" {
		return ea, configErr(at+".pattern", "a pattern is for string arguments")
	}
	switch ea.typ {
	case wire.TypeInt, wire.TypeFloat:
		if a.Min == nil || a.Max == nil {
			return ea, configErr(at, "an %s argument needs min and max", ea.typ)
		}
		lo, hi := *a.Min, *a.Max
		if math.IsNaN(lo) || math.IsNaN(hi) || lo > hi || math.Abs(lo) > wire.MaxMagnitude || math.Abs(hi) > wire.MaxMagnitude {
			return ea, configErr(at, "min %v and max %v are not a range", lo, hi)
		}
		if ea.typ == wire.TypeInt {
			if lo != math.Trunc(lo) || hi != math.Trunc(hi) {
				return ea, configErr(at, "min and max of an int are whole numbers")
			}
			ea.lim = intLimit(lo, hi, "")
		} else {
			ea.lim = floatLimit(lo, hi, 0, "")
		}
	case wire.TypeEnum:
		if len(a.Values) == 0 || len(a.Values) > wire.MaxEnum {
			return ea, configErr(at+".values", "an enum needs 1 to %d values", wire.MaxEnum)
		}
		for _, v := range a.Values {
			if !wire.IsEnumValue(v) {
				return ea, configErr(at+".values", "%q is not a lower-case token", v)
			}
		}
		ea.values = slices.Clone(a.Values)
	case wire.TypeString:
		if a.Pattern == "" {
			return ea, configErr(at+".pattern", "a string argument needs a pattern that its values must match")
		}
		re, err := regexp.Compile(`^(?:` + a.Pattern + `)$`)
		if err != nil {
			return ea, configErr(at+".pattern", "%v", err)
		}
		ea.pattern = re
	default:
		return ea, configErr(at+".type", "%q is not int, float, enum or string", a.Type)
	}
	return ea, nil
}

// parseTemplate splits one argv element into literals and argument values.
func parseTemplate(el string, args []execArg) ([]segment, error) {
	var segs []segment
	var lit strings.Builder
	for i := 0; i < len(el); i++ {
		c := el[i]
		switch {
		case c == '{' && i+1 < len(el) && el[i+1] == '{', c == '}' && i+1 < len(el) && el[i+1] == '}':
			lit.WriteByte(c)
			i++
		case c == '{':
			end := strings.IndexByte(el[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("%q has a '{' without '}' (write {{ for a literal brace)", el)
			}
			name := el[i+1 : i+end]
			j := slices.IndexFunc(args, func(a execArg) bool { return a.name == name })
			if j < 0 {
				return nil, fmt.Errorf("%q names no declared argument %q", el, name)
			}
			if lit.Len() > 0 {
				segs = append(segs, segment{lit: lit.String(), arg: -1})
				lit.Reset()
			}
			segs = append(segs, segment{arg: j})
			i += end
		case c == '}':
			return nil, fmt.Errorf("%q has a '}' without '{' (write }} for a literal brace)", el)
		case c == 0:
			return nil, fmt.Errorf("%q contains a NUL byte", el)
		default:
			lit.WriteByte(c)
		}
	}
	if lit.Len() > 0 || len(segs) == 0 {
		segs = append(segs, segment{lit: lit.String(), arg: -1})
	}
	return segs, nil
}

// check gives the argv text of one argument value, or the reason it is
// refused.
func (a execArg) check(v wire.Value) (string, error) {
	switch a.typ {
	case wire.TypeInt:
		x, err := a.lim.check(a.name, v)
		if err != nil {
			return "", err
		}
		return strconv.FormatInt(int64(x), 10), nil
	case wire.TypeFloat:
		x, err := a.lim.check(a.name, v)
		if err != nil {
			return "", err
		}
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case wire.TypeEnum:
		return enumArg(a.name, v, a.values)
	}
	s, ok := v.AsString()
	switch {
	case !ok:
		return "", refuse(wire.ErrBadValue, "%s must be text, not %q", a.name, v.String())
	case len(s) > wire.MaxStringValue || !utf8.ValidString(s):
		return "", refuse(wire.ErrBadValue, "%s is too long or not UTF-8 text", a.name)
	case strings.ContainsFunc(s, unicode.IsControl):
		return "", refuse(wire.ErrBadValue, "%s must not contain control characters or line breaks", a.name)
	case strings.HasPrefix(s, "-"):
		return "", refuse(wire.ErrBadValue, "%s must not start with '-'", a.name)
	case !a.pattern.MatchString(s):
		return "", refuse(wire.ErrBadValue, "%s has characters or a form that is not allowed: %q", a.name, clipText(s, 40))
	}
	return s, nil
}

// command checks call against the configuration and gives the command and
// the program's argv (without the program itself).
func (e *Exec) command(call wire.Call) (*execCmd, []string, error) {
	i := slices.IndexFunc(e.cmds, func(c execCmd) bool { return c.name == call.Command.Name })
	if i < 0 {
		return nil, nil, refuse(wire.ErrUnsupported, "this thing cannot %q; try \"help\"", call.Command.Name)
	}
	c := &e.cmds[i]
	if len(call.Values) != len(c.args) {
		return nil, nil, refuse(wire.ErrBadCommand, "usage: %s", execSpec(c).Usage())
	}
	vals := make([]string, len(c.args))
	for j, a := range c.args {
		s, err := a.check(call.Values[j])
		if err != nil {
			return nil, nil, err
		}
		vals[j] = s
	}
	argv := make([]string, len(c.argv))
	for j, segs := range c.argv {
		argv[j] = expand(segs, vals)
	}
	return c, argv, nil
}

// expand fills a parsed template with the checked argument values.
func expand(segs []segment, vals []string) string {
	var b strings.Builder
	for _, s := range segs {
		if s.arg >= 0 {
			b.WriteString(vals[s.arg])
		} else {
			b.WriteString(s.lit)
		}
	}
	return b.String()
}

func execSpec(c *execCmd) wire.CommandSpec {
	s := wire.CommandSpec{Name: c.name}
	for _, a := range c.args {
		as := wire.ArgSpec{Name: a.name, ValueSpec: wire.ValueSpec{Type: a.typ}}
		switch a.typ {
		case wire.TypeInt, wire.TypeFloat:
			as.ValueSpec = a.lim.valueSpec()
		case wire.TypeEnum:
			as.Enum = slices.Clone(a.values)
		}
		s.Args = append(s.Args, as)
	}
	return s
}

func execCaps(cmds []execCmd) *wire.Capabilities {
	caps := &wire.Capabilities{Kind: "exec"}
	var names []string
	for i := range cmds {
		caps.Commands = append(caps.Commands, execSpec(&cmds[i]))
		names = append(names, cmds[i].name)
	}
	caps.Properties = []wire.Property{
		{Name: "last", ValueSpec: wire.ValueSpec{Type: wire.TypeEnum, Enum: names}},
		{Name: "exit", ValueSpec: wire.ValueSpec{Type: wire.TypeInt}},
	}
	return caps
}

// ExecError is an exec command that ran and failed: a non-zero exit
// status, a timeout, a program that could not start, or a stop by Close
// or the caller's context.
type ExecError struct {
	Command  string
	ExitCode int           // -1 when the program did not exit by itself
	Timeout  time.Duration // the timeout that struck; 0 if none
	Output   string        // the start of the program's output, cleaned for people
	Err      error         // the underlying error
}

func (e *ExecError) Error() string {
	var msg string
	switch {
	case e.Timeout > 0:
		msg = fmt.Sprintf("%s timed out after %v and was stopped", e.Command, e.Timeout)
	case e.ExitCode >= 0:
		msg = fmt.Sprintf("%s failed with exit status %d", e.Command, e.ExitCode)
	default:
		msg = fmt.Sprintf("%s failed: %v", e.Command, e.Err)
	}
	if line, _, _ := strings.Cut(e.Output, "\n"); line != "" {
		msg += ": " + clipText(line, 80)
	}
	return msg
}

func (e *ExecError) Unwrap() error { return e.Err }

// Exec runs configured programs for commands: no shell, a fixed program
// path, typed and checked arguments, a timeout, capped output, a minimal
// environment. One command runs at a time; another one meanwhile is
// refused with ErrBusy. Its state is the last command run and its exit
// status (-1: it did not exit by itself).
type Exec struct {
	base
	cmds    []execCmd
	running string // the command running now, "" if none
	last    string
	exit    int

	stopRuns context.CancelFunc // stops running programs on Close
	runCtx   context.Context
	runs     sync.WaitGroup
}

// NewExec builds an exec thing from cfg.Exec, after checking every
// command, program and argument type.
func NewExec(cfg Config) (*Exec, error) {
	if err := cfg.Check("exec"); err != nil {
		return nil, err
	}
	cmds, _ := cfg.Exec.resolve() // checked above
	e := &Exec{cmds: cmds}
	e.init(&cfg)
	e.runCtx, e.stopRuns = context.WithCancel(context.Background())
	return e, nil
}

// Capabilities: one command per configured command, with its typed
// arguments, and the read-only last and exit.
func (e *Exec) Capabilities() *wire.Capabilities { return execCaps(e.cmds) }

// Status tells what ran last and what runs now.
func (e *Exec) Status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.status()
}

func (e *Exec) status() Status {
	s := Status{State: wire.State{}}
	switch {
	case e.last == "":
		s.Text = "No command has run yet."
	case e.exit < 0:
		s.Text = fmt.Sprintf("The last command, %s, did not finish.", e.last)
	default:
		s.Text = fmt.Sprintf("The last command, %s, exited with status %d.", e.last, e.exit)
	}
	if e.last != "" {
		s.State["last"], s.State["exit"] = wire.StringValue(e.last), wire.IntValue(int64(e.exit))
	}
	if e.running != "" {
		s.Text += " " + e.running + " is running."
	}
	return s
}

// Do checks the call against the configuration and runs the program. A
// refused call is a *wire.CommandError and runs nothing; a program that
// fails gives an *ExecError.
func (e *Exec) Do(ctx context.Context, call wire.Call) (Status, error) {
	if err := e.begin(ctx); err != nil {
		return Status{}, err
	}
	c, argv, err := e.command(call)
	if err != nil {
		e.mu.Unlock()
		return Status{}, err
	}
	if e.running != "" {
		running := e.running
		e.mu.Unlock()
		return Status{}, fmt.Errorf("%w: %s is still running; try again later", ErrBusy, running)
	}
	e.running = c.name
	e.runs.Add(1)
	e.mu.Unlock()
	defer e.runs.Done()

	out, code, runErr := e.run(ctx, c, argv)

	e.mu.Lock()
	defer e.mu.Unlock()
	e.running, e.last, e.exit = "", c.name, code
	if runErr != nil {
		return Status{}, runErr
	}
	s := e.status()
	s.Text = c.name + " finished."
	if out != "" {
		s.Text = c.name + " finished:\n" + out
	}
	return s, nil
}

// run starts the program and waits for it. It gives the cleaned output and
// the exit status.
func (e *Exec) run(ctx context.Context, c *execCmd, argv []string) (string, int, error) {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	stop := context.AfterFunc(e.runCtx, cancel)
	defer stop()

	cmd := exec.CommandContext(ctx, c.program, argv...)
	cmd.Env = slices.Clone(c.env)
	cmd.Dir = c.dir
	out := &cappedBuffer{max: c.maxOut}
	cmd.Stdout, cmd.Stderr = out, out
	killProcessGroup(cmd)
	// Grandchildren that keep the output pipe open must not hold us after
	// the program itself is gone.
	cmd.WaitDelay = 2 * time.Second

	err := cmd.Run()
	text := out.text()
	if err == nil {
		return text, 0, nil
	}
	ee := &ExecError{Command: c.name, ExitCode: -1, Output: text, Err: err}
	var exitErr *exec.ExitError
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) && parent.Err() == nil && e.runCtx.Err() == nil:
		ee.Timeout = c.timeout
		ee.Err = context.DeadlineExceeded
	case ctx.Err() != nil:
		ee.Err = fmt.Errorf("stopped: %w", ctx.Err())
	case errors.As(err, &exitErr) && exitErr.ExitCode() >= 0:
		ee.ExitCode = exitErr.ExitCode()
	}
	return text, ee.ExitCode, ee
}

// Close stops running programs and waits for them.
func (e *Exec) Close() error {
	err := e.base.Close()
	e.stopRuns()
	e.runs.Wait()
	return err
}

// cappedBuffer keeps the first max bytes written and reads on, so that a
// chatty program neither blocks on a full pipe nor fills memory.
type cappedBuffer struct {
	max       int
	buf       []byte
	truncated bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if room := b.max - len(b.buf); n > room {
		b.truncated = true
		p = p[:room]
	}
	b.buf = append(b.buf, p...)
	return n, nil // all of it, read or dropped
}

// text is the output as text people can read in a reply: valid UTF-8,
// without control characters other than new line and tab.
func (b *cappedBuffer) text() string {
	s := strings.ToValidUTF8(string(b.buf), "\uFFFD")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\r':
			return -1
		case r == '\n' || r == '\t':
			return r
		case unicode.IsControl(r):
			return '\uFFFD'
		}
		return r
	}, s)
	s = strings.TrimRightFunc(s, unicode.IsSpace)
	if b.truncated {
		s += "\n[output cut after " + strconv.Itoa(b.max) + " bytes]"
	}
	return s
}

func clipText(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
