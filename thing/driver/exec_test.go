package driver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/thingpost/thingpost/wire"
)

const helperEnv = "THINGPOST_DRIVER_HELPER"

// TestHelperProcess is not a test: it is the program the exec tests run,
// this test binary started again with helperEnv set. Its first argument
// after "--" says what to do.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("only runs as the program of the exec tests")
	}
	args := os.Args
	if i := slices.Index(args, "--"); i >= 0 {
		args = args[i+1:]
	}
	code := 0
	switch args[0] {
	case "args": // record the argv elements exactly
		b, _ := json.Marshal(args[1:])
		if out := os.Getenv("HELPER_OUT"); out != "" {
			os.WriteFile(out, b, 0o600)
		}
		os.Stdout.Write(b)
	case "env":
		env := os.Environ()
		slices.Sort(env)
		fmt.Print(strings.Join(env, "\n"))
	case "fail":
		fmt.Println("working")
		fmt.Fprintln(os.Stderr, "boom: disk full")
		code = 3
	case "spew":
		line := strings.Repeat("x", 1023) + "\n"
		for range 1024 {
			os.Stdout.WriteString(line)
		}
	case "ansi":
		os.Stdout.WriteString("\x1b[31mred\x1b[0m\r\nline2\x00\xff\u2028end\n\n")
	case "hang": // start a grandchild, note its pid in args[1], wait forever
		self, _ := os.Executable()
		child := exec.Command(self, "-test.run=^TestHelperProcess$", "--", "hang-leaf")
		child.Env = os.Environ()
		if err := child.Start(); err != nil {
			code = 1
			break
		}
		os.WriteFile(args[1], []byte(strconv.Itoa(child.Process.Pid)), 0o600)
		time.Sleep(time.Hour)
	case "hang-leaf":
		time.Sleep(time.Hour)
	default:
		code = 2
	}
	os.Exit(code)
}

// helperExec makes an ExecConfig whose commands run the test binary as
// TestHelperProcess (commands without a Program) with the given argv.
func helperExec(t *testing.T, cmds ...ExecCommand) ExecConfig {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for i := range cmds {
		if cmds[i].Program == "" {
			cmds[i].Program = self
			cmds[i].Argv = append([]string{"-test.run=^TestHelperProcess$", "--"}, cmds[i].Argv...)
			cmds[i].Env = append([]string{helperEnv + "=1"}, cmds[i].Env...)
		}
	}
	return ExecConfig{Commands: cmds}
}

// allTypesCommand has one argument of each type.
func allTypesCommand() ExecCommand {
	return ExecCommand{
		Name: "run",
		Args: []ExecArg{
			{Name: "n", Type: "int", Min: ptr(0.0), Max: ptr(9.0)},
			{Name: "f", Type: "float", Min: ptr(-1.5), Max: ptr(2.5)},
			{Name: "mode", Type: "enum", Values: []string{"fast", "slow"}},
			{Name: "s", Type: "string", Pattern: `[a-z]+`},
		},
		Argv: []string{"args", "{n}", "--f={f}", "{mode}", "{s}"},
	}
}

func newExec(t *testing.T, cmds ...ExecCommand) *Exec {
	t.Helper()
	e, err := NewExec(Config{Exec: helperExec(t, cmds...)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func helperArgs(t *testing.T, out string) []string {
	t.Helper()
	var got []string
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("helper output %q: %v", out, err)
	}
	return got
}

func TestExecRuns(t *testing.T) {
	e := newExec(t, allTypesCommand())
	tests := []struct {
		in   string
		argv []string
	}{
		{"run 3 2.5 fast abc", []string{"3", "--f=2.5", "fast", "abc"}},
		{"run 0 -1.5 slow z", []string{"0", "--f=-1.5", "slow", "z"}},
		{"/run 9 0.25 FAST Hello", []string{"9", "--f=0.25", "fast", "hello"}},
	}
	for _, tt := range tests {
		s, err := send(t, e, tt.in)
		if err != nil {
			t.Fatalf("%q: %v", tt.in, err)
		}
		out, ok := strings.CutPrefix(s.Text, "run finished:\n")
		if !ok {
			t.Fatalf("%q: text %q", tt.in, s.Text)
		}
		if got := helperArgs(t, out); !slices.Equal(got, tt.argv) {
			t.Errorf("%q: argv %q, want %q", tt.in, got, tt.argv)
		}
		if !s.State.Equal(wire.State{"last": wire.StringValue("run"), "exit": wire.IntValue(0)}) {
			t.Errorf("state %v", s.State)
		}
		checkWire(t, e, s)
	}
	if got := e.Status().Text; got != "The last command, run, exited with status 0." {
		t.Errorf("status %q", got)
	}
	for _, tt := range []struct {
		in   string
		kind error
		why  string
	}{
		{"run 10 0 fast abc", wire.ErrBadValue, `n goes from 0 to 9, not "10"`},
		{"run 1 3 fast abc", wire.ErrBadValue, `f goes from -1.5 to 2.5, not "3"`},
		{"run 1 0 medium abc", wire.ErrBadValue, `mode is one of fast, slow; not "medium"`},
		{"run 1 0 fast", wire.ErrBadCommand, "usage: run N F MODE S"},
		{"run 1.5 0 fast abc", wire.ErrBadValue, "whole number"},
	} {
		_, err := send(t, e, tt.in)
		wantRefusal(t, err, tt.kind, tt.why)
	}
}

func TestExecStatusBeforeAnyRun(t *testing.T) {
	e := newExec(t, allTypesCommand())
	if s := e.Status(); s.Text != "No command has run yet." || len(s.State) != 0 {
		t.Errorf("status %+v", s)
	}
}

// shellPayload is everything a shell would act on. Files a shell would
// create land in the command's Dir.
const shellPayload = "; rm -rf / $(touch pwned1) | & > pwned2 < /etc/passwd `touch pwned3` && touch pwned4 || true ' \" \\ * ? ~ # {a,b} ${IFS} !!"

func noPwned(t *testing.T, dir string) {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "pwned*"))
	if len(m) > 0 {
		t.Fatalf("a shell ran: %v", m)
	}
}

// TestExecShellMetacharacters: what a sender writes never reaches a shell.
// Types that forbid the characters refuse them before anything runs; a
// string type whose strict pattern allows them hands them to the program
// as one literal argv element.
func TestExecShellMetacharacters(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.json")
	payload := shellPayload
	withNewline := payload + "\n touch pwned5"

	refusing := []ExecArg{
		{Name: "x", Type: "int", Min: ptr(0.0), Max: ptr(9.0)},
		{Name: "x", Type: "float", Min: ptr(0.0), Max: ptr(9.0)},
		{Name: "x", Type: "enum", Values: []string{"full", "quick"}},
		{Name: "x", Type: "string", Pattern: `[a-z0-9_-]{1,32}`},
	}
	for _, a := range refusing {
		t.Run("refused by "+a.Type, func(t *testing.T) {
			e := newExec(t, ExecCommand{Name: "go", Args: []ExecArg{a}, Argv: []string{"args", "{x}"}, Env: []string{"HELPER_OUT=" + out}, Dir: dir})
			for _, v := range []string{payload, withNewline, "$(touch pwned6)", "`id`", "a;b", "1;2", "1 2", "full;rm"} {
				_, err := e.Do(context.Background(), plain("go", wire.StringValue(v)))
				wantRefusal(t, err, wire.ErrBadValue, "x ")
				// Through wire as a person would send it, too.
				if _, err := send(t, e, "go "+v); err == nil {
					t.Errorf("%q accepted from text", v)
				}
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the program ran: %v", err)
			}
			noPwned(t, dir)
		})
	}

	t.Run("literal through a permissive string type", func(t *testing.T) {
		e := newExec(t, ExecCommand{
			Name: "say",
			Args: []ExecArg{{Name: "msg", Type: "string", Pattern: `[ -~]{1,250}`}}, // printable ASCII, one line
			Argv: []string{"args", "{msg}", "--msg={msg}"},
			Env:  []string{"HELPER_OUT=" + out},
			Dir:  dir, // where a shell would create relative files
		})
		s, err := e.Do(context.Background(), plain("say", wire.StringValue(payload)))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if got := helperArgs(t, string(b)); !slices.Equal(got, []string{payload, "--msg=" + payload}) {
			t.Errorf("argv %q, want the payload as one element twice", got)
		}
		if !strings.HasPrefix(s.Text, "say finished:\n") {
			t.Errorf("text %q", s.Text)
		}
		noPwned(t, dir)
		os.Remove(out)

		// Line breaks and a leading '-' are refused whatever the pattern.
		for _, v := range []string{withNewline, "-rf /", "a\rb", "a\x00b", "tab\there"} {
			_, err := e.Do(context.Background(), plain("say", wire.StringValue(v)))
			wantRefusal(t, err, wire.ErrBadValue, "msg must not")
		}
		if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
			t.Fatal("the program ran for a refused value")
		}

		// As a person types it: wire splits on white space and lower-cases,
		// so one token reaches the program as one literal element.
		token := ";$(touch${ifs}pwned7)|`id`&&>pwned8<y" // lower case: wire lower-cases
		if _, err := send(t, e, "say "+token); err != nil {
			t.Fatal(err)
		}
		b, _ = os.ReadFile(out)
		if got := helperArgs(t, string(b)); !slices.Equal(got, []string{token, "--msg=" + token}) {
			t.Errorf("argv %q", got)
		}
		noPwned(t, dir)
	})

	t.Run("a real program, /bin/echo", func(t *testing.T) {
		if _, err := os.Stat("/bin/echo"); err != nil {
			t.Skip("no /bin/echo on this system")
		}
		e := newExec(t, ExecCommand{
			Name: "echo", Program: "/bin/echo", Dir: dir,
			Args: []ExecArg{{Name: "msg", Type: "string", Pattern: `[ -~]{1,250}`}},
			Argv: []string{"{msg}"},
		})
		s, err := e.Do(context.Background(), plain("echo", wire.StringValue(payload)))
		if err != nil {
			t.Fatal(err)
		}
		if s.Text != "echo finished:\n"+payload {
			t.Errorf("echo printed %q, want the payload unchanged", s.Text)
		}
		noPwned(t, dir)
	})
}

func TestExecShellProgramRefused(t *testing.T) {
	for _, sh := range []string{"/bin/sh", "/bin/bash", "/usr/bin/env"} {
		if _, err := os.Stat(sh); err != nil {
			continue
		}
		cfg := Config{Exec: ExecConfig{Commands: []ExecCommand{{
			Name: "x", Program: sh, Args: []ExecArg{{Name: "s", Type: "string", Pattern: "[a-z]+"}}, Argv: []string{"-c", "echo {s}"},
		}}}}
		err := cfg.Check("exec")
		if sh == "/usr/bin/env" {
			// Not a shell, and not caught: the config author is trusted to
			// name programs; the check only stops the obvious mistake.
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "is a shell") {
			t.Errorf("%s with arguments: %v", sh, err)
		}
		cfg.Exec.Commands[0].Args, cfg.Exec.Commands[0].Argv = nil, []string{"-c", "true"}
		if err := cfg.Check("exec"); err != nil {
			t.Errorf("%s with a fixed script: %v", sh, err)
		}
	}
}

func TestExecFailures(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	e := newExec(t,
		ExecCommand{Name: "fail", Argv: []string{"fail"}},
		ExecCommand{Name: "spew", Argv: []string{"spew"}, MaxOutput: 100},
		ExecCommand{Name: "ansi", Argv: []string{"ansi"}},
		ExecCommand{Name: "env", Argv: []string{"env"}, Env: []string{"LANG=C"}, Dir: dir},
		// Long enough for the helper to start its grandchild on a busy machine.
		ExecCommand{Name: "hang", Argv: []string{"hang", pidFile}, Timeout: 3 * time.Second},
	)

	_, err := send(t, e, "fail")
	var ee *ExecError
	if !errors.As(err, &ee) || ee.ExitCode != 3 || ee.Timeout != 0 || !strings.Contains(ee.Output, "boom: disk full") {
		t.Fatalf("fail: %v (%+v)", err, ee)
	}
	if err.Error() != "fail failed with exit status 3: working" {
		t.Errorf("error text %q", err)
	}
	if s := e.Status(); s.Text != "The last command, fail, exited with status 3." || !s.State["exit"].Equal(wire.IntValue(3)) {
		t.Errorf("status %+v", s)
	}
	if r := wire.Refusal(&wire.Command{Name: "fail"}, err); r.Code != wire.CodeFailed {
		t.Errorf("refusal %+v", r)
	}

	s, err := send(t, e, "spew")
	if err != nil {
		t.Fatal(err)
	}
	if want := "spew finished:\n" + strings.Repeat("x", 100) + "\n[output cut after 100 bytes]"; s.Text != want {
		t.Errorf("spew text %q", s.Text)
	}

	s, err = send(t, e, "ansi")
	if err != nil {
		t.Fatal(err)
	}
	if want := "ansi finished:\n\uFFFD[31mred\uFFFD[0m\nline2\uFFFD\uFFFD\u2028end"; s.Text != want {
		t.Errorf("ansi text %q, want %q", s.Text, want)
	}
	if !utf8.ValidString(s.Text) || strings.ContainsFunc(s.Text, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }) {
		t.Errorf("control characters in %q", s.Text)
	}
	checkWire(t, e, s)

	s, err = send(t, e, "env")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{"LANG=C", "PATH=" + ExecPath, helperEnv + "=1"}, "\n")
	if got := strings.TrimPrefix(s.Text, "env finished:\n"); got != want {
		t.Errorf("environment:\n%s\nwant:\n%s", got, want)
	}

	start := time.Now()
	_, err = send(t, e, "hang")
	if !errors.As(err, &ee) || ee.Timeout != 3*time.Second || ee.ExitCode != -1 {
		t.Fatalf("hang: %v", err)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("timeout took %v", took)
	}
	if err.Error() != "hang timed out after 3s and was stopped" {
		t.Errorf("error text %q", err)
	}
	if s := e.Status(); s.Text != "The last command, hang, did not finish." {
		t.Errorf("status %q", s.Text)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(string(b))
	waitGone(t, pid)
}

// waitGone waits until process pid is dead (gone or a zombie).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc to see the process group killed; only on Linux")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return // gone
		}
		// The state follows the ")" that ends the command name.
		if i := strings.LastIndexByte(string(b), ')'); i >= 0 && i+2 < len(b) && b[i+2] == 'Z' {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("grandchild %d still runs after the timeout", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestExecBusyAndClose(t *testing.T) {
	e := newExec(t,
		ExecCommand{Name: "hang", Argv: []string{"hang", filepath.Join(t.TempDir(), "pid")}, Timeout: time.Hour},
		ExecCommand{Name: "fail", Argv: []string{"fail"}},
	)
	done := make(chan error, 1)
	go func() {
		_, err := send(t, e, "hang")
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(e.Status().Text, "hang is running") {
		if time.Now().After(deadline) {
			t.Fatal("hang never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	_, err := send(t, e, "fail")
	if !errors.Is(err, ErrBusy) || err.Error() != "busy: hang is still running; try again later" {
		t.Fatalf("second command: %v", err)
	}
	start := time.Now()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	var ee *ExecError
	if err := <-done; !errors.As(err, &ee) || ee.Timeout != 0 || !errors.Is(err, context.Canceled) {
		t.Errorf("hang after Close: %v", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Close took %v", took)
	}
	if _, err := send(t, e, "fail"); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}

func TestExecCallerCancels(t *testing.T) {
	e := newExec(t, ExecCommand{Name: "hang", Argv: []string{"hang", filepath.Join(t.TempDir(), "pid")}})
	call, err := command(e, "hang")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = e.Do(ctx, call)
	var ee *ExecError
	if !errors.As(err, &ee) || ee.Timeout != 0 || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Do with a short context: %v", err)
	}
}

func TestExecConfigErrors(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "script")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	intArg := ExecArg{Name: "n", Type: "int", Min: ptr(0.0), Max: ptr(9.0)}
	ok := ExecCommand{Name: "ok", Program: self, Args: []ExecArg{intArg}, Argv: []string{"{n}"}}
	with := func(f func(c *ExecCommand)) []ExecCommand {
		c := ok
		c.Args = slices.Clone(ok.Args)
		f(&c)
		return []ExecCommand{c}
	}
	arg := func(a ExecArg) []ExecCommand {
		return with(func(c *ExecCommand) { c.Args = []ExecArg{a} })
	}
	nine := make([]ExecArg, 9)
	var nineArgv []string
	for i := range nine {
		nine[i] = ExecArg{Name: fmt.Sprintf("a%d", i), Type: "int", Min: ptr(0.0), Max: ptr(1.0)}
		nineArgv = append(nineArgv, fmt.Sprintf("{a%d}", i))
	}
	tests := []struct {
		cmds []ExecCommand
		why  string
	}{
		{nil, "no commands configured"},
		{with(func(c *ExecCommand) { c.Program = "backup" }), `"backup" is not an absolute path`},
		{with(func(c *ExecCommand) { c.Program = "/nonexistent/bin/backup" }), "program: /nonexistent/bin/backup does not exist"},
		{with(func(c *ExecCommand) { c.Program = dir }), "is not a regular file"},
		{with(func(c *ExecCommand) { c.Program = notExec }), "is not executable"},
		{with(func(c *ExecCommand) { c.Name = "Backup" }), "is not a lower-case name"},
		{with(func(c *ExecCommand) { c.Name = "" }), "exec.command[0].name"},
		{with(func(c *ExecCommand) { c.Name = "status" }), `"status" is built in`},
		{with(func(c *ExecCommand) { c.Name = "on" }), `built-in command "on" takes no arguments`},
		{append(with(func(*ExecCommand) {}), ok), "the name is used twice"},
		{with(func(c *ExecCommand) { c.Args = append(c.Args, intArg) }), `argument "n" is declared twice`},
		{with(func(c *ExecCommand) { c.Args, c.Argv = nine, nineArgv }), "more than 8 arguments"},
		{arg(ExecArg{Name: "n", Type: "bool"}), `"bool" is not int, float, enum or string`},
		{arg(ExecArg{Name: "n", Type: "string"}), "needs a pattern"},
		{arg(ExecArg{Name: "n", Type: "string", Pattern: "(a"}), "missing closing )"},
		{arg(ExecArg{Name: "n", Type: "int", Min: ptr(0.0)}), "needs min and max"},
		{arg(ExecArg{Name: "n", Type: "float", Max: ptr(1.0)}), "needs min and max"},
		{arg(ExecArg{Name: "n", Type: "int", Min: ptr(0.5), Max: ptr(2.0)}), "whole numbers"},
		{arg(ExecArg{Name: "n", Type: "int", Min: ptr(3.0), Max: ptr(2.0)}), "are not a range"},
		{arg(ExecArg{Name: "n", Type: "enum"}), "needs 1 to 64 values"},
		{arg(ExecArg{Name: "n", Type: "enum", Values: []string{"Full"}}), `"Full" is not a lower-case token`},
		{arg(ExecArg{Name: "n", Type: "enum", Values: []string{"a b"}}), "not a lower-case token"},
		{arg(ExecArg{Name: "n", Type: "int", Min: ptr(0.0), Max: ptr(1.0), Pattern: "x"}), "a pattern is for string"},
		{arg(ExecArg{Name: "n", Type: "string", Pattern: "x", Values: []string{"x"}}), "values are for enum"},
		{arg(ExecArg{Name: "n", Type: "enum", Values: []string{"x"}, Min: ptr(0.0)}), "min and max are for int and float"},
		{with(func(c *ExecCommand) { c.Argv = []string{"fixed"} }), `argument "n" is declared but never used`},
		{with(func(c *ExecCommand) { c.Argv = []string{"{n}", "{level}"} }), `names no declared argument "level"`},
		{with(func(c *ExecCommand) { c.Argv = []string{"{n"} }), "without '}'"},
		{with(func(c *ExecCommand) { c.Argv = []string{"{n}", "a}b"} }), "without '{'"},
		{with(func(c *ExecCommand) { c.Argv = []string{"{n}", "a\x00"} }), "NUL"},
		{with(func(c *ExecCommand) { c.Timeout = -time.Second }), "timeout"},
		{with(func(c *ExecCommand) { c.Timeout = 25 * time.Hour }), "timeout"},
		{with(func(c *ExecCommand) { c.MaxOutput = 1 << 20 }), "max_output"},
		{with(func(c *ExecCommand) { c.Dir = "/nonexistent" }), `"/nonexistent" is not a directory`},
		{with(func(c *ExecCommand) { c.Env = []string{"1X=y"} }), `"1X=y" is not NAME=value`},
		{with(func(c *ExecCommand) { c.Env = []string{"NOEQUALS"} }), "is not NAME=value"},
	}
	for _, tt := range tests {
		cfg := Config{Exec: ExecConfig{Commands: tt.cmds}}
		err := cfg.Check("exec")
		if err == nil || !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), tt.why) {
			t.Errorf("%+v: error %v, want one that says %q", tt.cmds, err, tt.why)
		}
		if _, err := New("exec", cfg); err == nil {
			t.Errorf("New accepted %+v", tt.cmds)
		}
	}
	// The config names the failing command.
	cfg := Config{Exec: ExecConfig{Commands: with(func(c *ExecCommand) { c.Name = "backup"; c.Program = "/nonexistent/backup" })}}
	if err := cfg.Check("exec"); err == nil || err.Error() != `bad driver config: exec.command "backup".program: /nonexistent/backup does not exist` {
		t.Errorf("error %v", err)
	}
	if err := (&Config{Exec: ExecConfig{Commands: []ExecCommand{ok}}}).Check("exec"); err != nil {
		t.Errorf("good config: %v", err)
	}
}

func TestParseTemplate(t *testing.T) {
	args := []execArg{{name: "a"}, {name: "b"}}
	vals := []string{"A;", "$(B)"}
	tests := []struct{ in, want string }{
		{"{a}", "A;"},
		{"--x={a}", "--x=A;"},
		{"{a}{b}", "A;$(B)"},
		{"{{a}}", "{a}"},
		{"{{{a}}}", "{A;}"},
		{"pre{b}post", "pre$(B)post"},
		{"", ""},
		{"plain", "plain"},
	}
	for _, tt := range tests {
		segs, err := parseTemplate(tt.in, args)
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if got := expand(segs, vals); got != tt.want {
			t.Errorf("%q gives %q, want %q", tt.in, got, tt.want)
		}
	}
}
