package cli_test

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestPrograms builds thingd, homenode and thingctl and checks that each
// keeps the conventions of this package: help on stdout with exit 0, the
// version, and one line on stderr with exit 2 for a bad command line and
// exit 1 for a failure.
func TestPrograms(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the three programs (seconds of linking); the full suite runs it")
	}
	bin := t.TempDir()
	out, err := exec.Command("go", "build", "-o", bin+string(filepath.Separator),
		"github.com/thingpost/thingpost/cmd/thingd",
		"github.com/thingpost/thingpost/cmd/homenode",
		"github.com/thingpost/thingpost/cmd/thingctl").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	programs := []struct {
		name, sub string
		// fail is a command line that fails (exit 1) without a server.
		fail       []string
		failStderr string
	}{
		{"thingd", "init", []string{"qr", "--data", missing}, "thingd qr: "},
		{"homenode", "init", []string{"init", "--data", "/dev/null/node", "--domain", "home.test"}, "homenode init: "},
		{"thingctl", "init", []string{"--data", missing, "--no-keyring", "my-code"}, "thingctl my-code: "},
	}
	for _, p := range programs {
		usage := "Usage: " + p.name + " "
		tests := []struct {
			name   string
			args   []string
			code   int
			stdout string // a regexp; "" means empty
			stderr string // a regexp for the single line; "" means empty
		}{
			{"--help", []string{"--help"}, 0, "^" + usage + "(?s:.*)Commands:\n(?s:.*)" + p.sub, ""},
			{"-h", []string{"-h"}, 0, "^" + usage, ""},
			{"help", []string{"help"}, 0, "^" + usage, ""},
			{"sub --help", []string{p.sub, "--help"}, 0, "^" + usage + p.sub + " (?s:.*)Flags:\n", ""},
			{"sub -h", []string{p.sub, "-h"}, 0, "^" + usage + p.sub + " ", ""},
			{"help sub", []string{"help", p.sub}, 0, "^" + usage + p.sub + " ", ""},
			{"--version", []string{"--version"}, 0, `^` + p.name + ` \S+ \(go[0-9.]+\S*\)\n$`, ""},
			{"no command", nil, 2, "", `^` + p.name + `: no command given \(see ` + p.name + ` --help\)$`},
			{"unknown command", []string{"frobnicate"}, 2, "", `^` + p.name + `: unknown command "frobnicate" \(see ` + p.name + ` --help\)$`},
			{"unknown flag", []string{"--frobnicate"}, 2, "", `^` + p.name + `: flag provided but not defined: -frobnicate \(see ` + p.name + ` --help\)$`},
			{"sub unknown flag", []string{p.sub, "--frobnicate"}, 2, "",
				`^` + p.name + ` ` + p.sub + `: flag provided but not defined: -frobnicate \(see ` + p.name + ` ` + p.sub + ` --help\)$`},
			{"failure", p.fail, 1, "", "^" + regexp.QuoteMeta(p.failStderr) + `\S.*$`},
		}
		for _, tt := range tests {
			t.Run(p.name+"/"+tt.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				cmd := exec.CommandContext(ctx, filepath.Join(bin, p.name), tt.args...)
				cmd.Env = []string{"HOME=" + t.TempDir(), "THINGPOST_PASSPHRASE=x"}
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				err := cmd.Run()
				code := 0
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					code = ee.ExitCode()
				} else if err != nil {
					t.Fatal(err)
				}
				if code != tt.code {
					t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, stderr.String())
				}
				match(t, "stdout", stdout.String(), tt.stdout)
				line := stderr.String()
				if tt.stderr != "" {
					if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") {
						t.Errorf("stderr is not one line: %q", line)
					}
					line = strings.TrimSuffix(line, "\n")
				}
				match(t, "stderr", line, tt.stderr)
			})
		}
	}
}

func match(t *testing.T, what, got, re string) {
	t.Helper()
	if re == "" {
		if got != "" {
			t.Errorf("%s %q, want it empty", what, got)
		}
		return
	}
	if !regexp.MustCompile(re).MatchString(got) {
		t.Errorf("%s %q, want a match for %s", what, got, re)
	}
}
