package testutil

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// GPG is a throw-away GnuPG home for interop tests with the real gpg.
type GPG struct {
	t        testing.TB
	dir      string
	defaults []string
}

// NewGPG makes a GnuPG home in a short temporary path (gpg-agent's socket
// path must fit in about 100 bytes) whose agent is killed at the end of the
// test; every Run passes defaults before its own arguments. Without gpg or
// gpgconf the test is skipped, except under CI, where it fails.
func NewGPG(t testing.TB, defaults ...string) *GPG {
	t.Helper()
	for _, tool := range []string{"gpg", "gpgconf"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not found (%v): CI must run the GnuPG interop tests", tool, err)
			}
			t.Skipf("%s not found (%v): GnuPG interop not tested (apt-get install gnupg)", tool, err)
		}
	}
	dir, err := os.MkdirTemp("", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if testing.Short() {
		// gpg-agent calibrates its S2K count to about 100 ms of hashing, far
		// more on a busy machine, so protecting, exporting and importing a
		// secret key each take a second or more. The fewest iterations keep
		// the packets the same; the full suite runs with gpg's own count.
		if err := os.WriteFile(filepath.Join(dir, "gpg-agent.conf"), []byte("s2k-count 65536\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	g := &GPG{t: t, dir: dir, defaults: defaults}
	t.Cleanup(func() {
		cmd := exec.Command("gpgconf", "--kill", "gpg-agent")
		cmd.Env = g.env()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("gpgconf --kill gpg-agent: %v %s", err, out)
		}
		os.RemoveAll(dir)
	})
	return g
}

func (g *GPG) env() []string { return append(os.Environ(), "GNUPGHOME="+g.dir) }

// Run runs gpg in batch mode (loopback pinentry) on stdin and returns stdout,
// stderr and the error; a gpg that hangs is killed after two minutes.
func (g *GPG) Run(stdin []byte, args ...string) (stdout, stderr []byte, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	all := append(append([]string{"--batch", "--no-tty", "--pinentry-mode", "loopback"}, g.defaults...), args...)
	cmd := exec.CommandContext(ctx, "gpg", all...)
	cmd.Env = g.env()
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.Bytes(), errb.Bytes(), err
}

// Must is Run that fails the test when gpg fails; it returns stdout.
func (g *GPG) Must(stdin []byte, args ...string) []byte {
	g.t.Helper()
	out, stderr, err := g.Run(stdin, args...)
	if err != nil {
		g.t.Fatalf("gpg %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return out
}

// File writes b to a file in the GnuPG home and returns its path.
func (g *GPG) File(name string, b []byte) string {
	g.t.Helper()
	p := filepath.Join(g.dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		g.t.Fatal(err)
	}
	return p
}
