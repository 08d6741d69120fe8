package driver

import (
	"errors"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/thingpost/thingpost/wire"
)

// FuzzExecArgs feeds untrusted text to the exec argument checks, both as a
// person's command line through wire and as typed values built by hand,
// and checks that whatever is accepted is exactly what the argument's type
// allows and reaches argv as one element.
func FuzzExecArgs(f *testing.F) {
	for _, s := range []string{
		"5", "-5", "6", "0.5", "1e3", "-0", "+3", "2.5", "nan", "inf", "0x10", "fast", "FAST", "slow ",
		"backup/daily.tar", "-rf", "--help", "a\nb", "a\x00b", "\xff", "ü", "$(id)", "`id`", "a;b", shellPayload,
		strings.Repeat("a", 300),
	} {
		f.Add(s)
	}
	self, err := os.Executable()
	if err != nil {
		f.Fatal(err)
	}
	e, err := NewExec(Config{Exec: ExecConfig{Commands: []ExecCommand{
		{Name: "i", Program: self, Args: []ExecArg{{Name: "v", Type: "int", Min: ptr(-5.0), Max: ptr(5.0)}}, Argv: []string{"--n={v}"}},
		{Name: "f", Program: self, Args: []ExecArg{{Name: "v", Type: "float", Min: ptr(-2.5), Max: ptr(2.5)}}, Argv: []string{"{v}"}},
		{Name: "e", Program: self, Args: []ExecArg{{Name: "v", Type: "enum", Values: []string{"fast", "slow"}}}, Argv: []string{"x", "{v}"}},
		{Name: "s", Program: self, Args: []ExecArg{{Name: "v", Type: "string", Pattern: `[a-z0-9._/-]{1,64}`}}, Argv: []string{"{v}"}},
		{Name: "p", Program: self, Args: []ExecArg{{Name: "v", Type: "string", Pattern: `(?s).*`}}, Argv: []string{"{{{v}}}"}},
	}}})
	if err != nil {
		f.Fatal(err)
	}
	defer e.Close()
	caps := e.Capabilities()
	strict := regexp.MustCompile(`^[a-z0-9._/-]{1,64}$`)

	check := func(t *testing.T, name string, argv []string) {
		if len(argv) == 0 {
			t.Fatalf("%s: empty argv", name)
		}
		v := argv[len(argv)-1]
		switch name {
		case "i":
			n, err := strconv.ParseInt(strings.TrimPrefix(v, "--n="), 10, 64)
			if len(argv) != 1 || !strings.HasPrefix(v, "--n=") || err != nil || n < -5 || n > 5 {
				t.Fatalf("int accepted as %q", argv)
			}
		case "f":
			x, err := strconv.ParseFloat(v, 64)
			if len(argv) != 1 || err != nil || math.IsNaN(x) || x < -2.5 || x > 2.5 || strings.ContainsAny(v, "eEx") {
				t.Fatalf("float accepted as %q", argv)
			}
		case "e":
			if len(argv) != 2 || argv[0] != "x" || (v != "fast" && v != "slow") {
				t.Fatalf("enum accepted as %q", argv)
			}
		case "s":
			if len(argv) != 1 || !strict.MatchString(v) || strings.HasPrefix(v, "-") {
				t.Fatalf("strict string accepted as %q", argv)
			}
		case "p":
			inner, ok := strings.CutPrefix(v, "{")
			inner, ok2 := strings.CutSuffix(inner, "}")
			if len(argv) != 1 || !ok || !ok2 || !utf8.ValidString(inner) || strings.HasPrefix(inner, "-") ||
				strings.ContainsFunc(inner, unicode.IsControl) || len(inner) > wire.MaxStringValue {
				t.Fatalf("permissive string accepted as %q", argv)
			}
		}
	}

	f.Fuzz(func(t *testing.T, s string) {
		for _, name := range []string{"i", "f", "e", "s", "p"} {
			// As a person writes it.
			if cmd, err := caps.ParseCommand(name + " " + s); err == nil {
				if call, err := caps.Resolve(cmd); err == nil {
					if _, argv, err := e.command(call); err == nil {
						check(t, name, argv)
					}
				}
			}
			// As typed values built by hand, skipping Resolve.
			vals := []wire.Value{wire.StringValue(s)}
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				vals = append(vals, wire.IntValue(n))
			}
			if x, err := strconv.ParseFloat(s, 64); err == nil {
				vals = append(vals, wire.FloatValue(x))
			}
			for _, v := range vals {
				_, argv, err := e.command(plain(name, v))
				if err != nil {
					var ce *wire.CommandError
					if !errors.As(err, &ce) || ce.Err != wire.ErrBadValue {
						t.Fatalf("%s %q: refusal %v is not a bad-value CommandError", name, s, err)
					}
					continue
				}
				check(t, name, argv)
				// A string reaches argv literally, as one element.
				if _, isStr := v.AsString(); isStr && (name == "s" && argv[0] != s || name == "p" && argv[0] != "{"+s+"}") {
					t.Fatalf("string %q reached argv as %q", s, argv)
				}
			}
		}
	})
}
