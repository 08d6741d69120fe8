package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"
)

// testProgram has a global flag, plain commands and a group.
func testProgram(global *string) *Program {
	return &Program{
		Name:    "prog",
		Summary: "A test program.",
		Globals: func(fs *flag.FlagSet) { fs.StringVar(global, "g", "", "a global `VALUE`") },
		Footer:  "The footer.",
		Commands: []*Command{
			{Name: "echo", Args: "[-n] WORD...", Summary: "print the words", Run: func(_ context.Context, c *Call) error {
				n := c.Flags.Bool("n", false, "no newline")
				if err := c.Parse(1, -1); err != nil {
					return err
				}
				fmt.Fprint(c.Stdout, strings.Join(c.Args(), " "))
				if !*n {
					fmt.Fprintln(c.Stdout)
				}
				return nil
			}},
			{Name: "need", Args: "--data DIR", Summary: "want --data", Run: func(_ context.Context, c *Call) error {
				c.Flags.String("data", "", "the `DIR`")
				c.Flags.String("plain", "", "no placeholder")
				if err := c.Parse(0, 0); err != nil {
					return err
				}
				return c.Require("data", "plain")
			}},
			{Name: "fail", Summary: "fail on two lines", Run: func(_ context.Context, c *Call) error {
				if err := c.Parse(0, 0); err != nil {
					return err
				}
				return errors.Join(errors.New("first"), errors.New("second"))
			}},
			{Name: "code", Summary: "fail with status 3", Run: func(_ context.Context, c *Call) error {
				if err := c.Parse(0, 2); err != nil {
					return err
				}
				return Exit(3, errors.New("three"))
			}},
			{Name: "grp", Summary: "a group", Commands: []*Command{
				{Name: "one", Args: "ARG --x X", Summary: "one argument, flags anywhere", FlagsAnywhere: true,
					Run: func(_ context.Context, c *Call) error {
						x := c.Flags.String("x", "", "a flag")
						if err := c.Parse(1, 1); err != nil {
							return err
						}
						fmt.Fprintf(c.Stdout, "%s %s %s\n", c.Arg(0), *x, *global)
						return nil
					}},
			}},
		},
	}
}

func TestRun(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		stdout string // a substring; "" means stdout must be empty
		stderr string // the whole of stderr
	}{
		{[]string{"--help"}, 0, "Usage: prog [flags] COMMAND", ""},
		{[]string{"-h"}, 0, "  grp   a group\n", ""},
		{[]string{"help"}, 0, "The footer.", ""},
		{[]string{"--version"}, 0, "prog (devel) (go", ""},
		{nil, 2, "", "prog: no command given (see prog --help)\n"},
		{[]string{"nope"}, 2, "", "prog: unknown command \"nope\" (see prog --help)\n"},
		{[]string{"--nope"}, 2, "", "prog: flag provided but not defined: -nope (see prog --help)\n"},
		{[]string{"echo", "--help"}, 0, "Usage: prog echo [-n] WORD...\n\nPrint the words.\n\nFlags:\n  -n\tno newline\n", ""},
		{[]string{"help", "echo"}, 0, "Usage: prog echo", ""},
		{[]string{"echo", "-n", "a", "-n"}, 0, "a -n", ""},
		{[]string{"echo"}, 2, "", "prog echo: want at least 1 arguments, got 0 (see prog echo --help)\n"},
		{[]string{"echo", "--nope", "a"}, 2, "", "prog echo: flag provided but not defined: -nope (see prog echo --help)\n"},
		{[]string{"need"}, 2, "", "prog need: --data DIR is required (see prog need --help)\n"},
		{[]string{"need", "--data", "d"}, 2, "", "prog need: --plain is required (see prog need --help)\n"},
		{[]string{"need", "--data", "d", "--plain", "p"}, 0, "", ""},
		{[]string{"need", "extra"}, 2, "", "prog need: unexpected argument \"extra\" (see prog need --help)\n"},
		{[]string{"fail"}, 1, "", "prog fail: first; second\n"},
		{[]string{"code"}, 3, "", "prog code: three\n"},
		{[]string{"code", "a", "b", "c"}, 2, "", "prog code: want at most 2 arguments, got 3 (see prog code --help)\n"},
		{[]string{"grp"}, 2, "", "prog grp: want a subcommand: one (see prog grp --help)\n"},
		{[]string{"grp", "--help"}, 0, "Usage: prog grp COMMAND [flags] [arguments]\n\nA group.\n", ""},
		{[]string{"grp", "two"}, 2, "", "prog grp: unknown subcommand \"two\" (see prog grp --help)\n"},
		{[]string{"grp", "one", "-h"}, 0, "Usage: prog grp one ARG --x X", ""},
		{[]string{"help", "grp", "one"}, 0, "Usage: prog grp one", ""},
		{[]string{"-g", "G", "grp", "one", "A", "--x", "X"}, 0, "A X G\n", ""},
		{[]string{"grp", "one", "A", "B"}, 2, "", "prog grp one: want 1 argument(s), got 2 (see prog grp one --help)\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var global string
			var stdout, stderr bytes.Buffer
			code := testProgram(&global).Run(context.Background(), tt.args, strings.NewReader(""), &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit %d, want %d", code, tt.code)
			}
			if tt.stdout == "" && stdout.Len() > 0 || !strings.Contains(stdout.String(), tt.stdout) {
				t.Errorf("stdout %q, want it to contain %q", stdout.String(), tt.stdout)
			}
			if stderr.String() != tt.stderr {
				t.Errorf("stderr %q, want %q", stderr.String(), tt.stderr)
			}
		})
	}
}
