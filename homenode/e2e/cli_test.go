package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/thingpost/thingpost/homenode"
)

// TestCLIUsage: every subcommand has --help (exit 0, text on stdout), and bad
// flags or arguments give exactly one line and exit 2.
func TestCLIUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"init", "--help"}, {"run", "--help"}, {"status", "--help"},
		{"user", "add", "--help"}, {"user", "list", "--help"}, {"user", "del", "--help"}, {"user", "passwd", "--help"},
	} {
		out, code := homenodeCmd(t, "", args...)
		if code != 0 || !strings.Contains(out, "Usage: homenode") {
			t.Errorf("homenode %s: exit %d:\n%s", strings.Join(args, " "), code, out)
		}
	}
	dir := filepath.Join(t.TempDir(), "d")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no command given"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"init", "--bogus"}, "init: flag provided but not defined: -bogus"},
		{[]string{"init", "--domain", "x.test"}, "init: --data DIR is required"},
		{[]string{"init", "--data", dir}, "init: --domain DOMAIN is required"},
		{[]string{"init", "--data", dir, "--domain", "x.test", "--plain", "--imap", "0.0.0.0:1143"}, "--imap: plain-text listener \"0.0.0.0:1143\" refused: it must bind a loopback address"},
		{[]string{"init", "--data", dir, "--domain", "x.test", "--smtp", "nonsense"}, `--smtp: address "nonsense": want host:port`},
		{[]string{"init", "--data", dir, "--domain", "bad domain"}, "--domain"},
		{[]string{"run"}, "run: --data DIR is required"},
		{[]string{"run", "--data", dir, "extra"}, `run: unexpected argument "extra"`},
		{[]string{"run", "--data", dir}, "homenode.toml: does not exist"},
		{[]string{"status", "--data"}, "status: flag needs an argument: -data"},
		{[]string{"user"}, "user: want a subcommand"},
		{[]string{"user", "add", "--data", dir}, "user add: want 1 argument(s), got 0"},
		{[]string{"user", "nope"}, `user: unknown subcommand "nope"`},
	} {
		out, code := homenodeCmd(t, "", tc.args...)
		if code != 2 || len(lines(out)) != 1 || !strings.Contains(out, tc.want) {
			t.Errorf("homenode %s: exit %d, output %q; want exit 2 and one line containing %q", strings.Join(tc.args, " "), code, out, tc.want)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("refused init commands left %s behind", dir)
	}
}

// TestCLIBadConfig: a broken config file stops "run" with one line naming
// the file, the line and the key.
func TestCLIBadConfig(t *testing.T) {
	n := initProcNode(t, "conf.test")
	path := filepath.Join(n.dir, homenode.ConfigFile)
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(text), `plain_imap = "`+n.imap+`"`, `plain_imap = "192.0.2.1:143"`, 1)
	if bad == string(text) {
		t.Fatal("plain_imap line not found in the config")
	}
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := homenodeCmd(t, "", "run", "--data", n.dir)
	re := regexp.MustCompile(`^homenode run: bad config: .*homenode\.toml:\d+: listen\.plain_imap: plain-text listener "192\.0\.2\.1:143" refused`)
	if code != 2 || len(lines(out)) != 1 || !re.MatchString(out) {
		t.Errorf("run with a public plain listener: exit %d, %q", code, out)
	}
}

// TestCLIUsersAndStatus manages accounts with the node stopped and running
// (through the control socket), and reads status both ways.
func TestCLIUsersAndStatus(t *testing.T) {
	n := initProcNode(t, "cli.test")
	d := []string{"--data", n.dir}

	out := mustHomenode(t, "", append([]string{"user", "add", "Gen@cli.test"}, d...)...)
	m := regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "added gen@cli.test") {
		t.Fatalf("user add without --password-stdin must print a generated password once:\n%s", out)
	}
	genPass := m[1]
	mustHomenode(t, "pw-alice-secret\n", append([]string{"user", "add", "alice@cli.test", "--password-stdin"}, d...)...)
	if out, code := homenodeCmd(t, "pw-x-secret\n", append([]string{"user", "add", "alice@cli.test", "--password-stdin"}, d...)...); code != 1 || !strings.Contains(out, "exists") {
		t.Errorf("duplicate user add: exit %d %q", code, out)
	}
	if out, code := homenodeCmd(t, "pw-x-secret\n", append([]string{"user", "add", "eve@elsewhere.test", "--password-stdin"}, d...)...); code != 1 || !strings.Contains(out, "not in this node's domains") {
		t.Errorf("foreign-domain user add: exit %d %q", code, out)
	}
	if out, code := homenodeCmd(t, "", append([]string{"user", "add", "bob@cli.test", "--password-stdin"}, d...)...); code != 2 || !strings.Contains(out, "standard input is empty") {
		t.Errorf("empty --password-stdin: exit %d %q", code, out)
	}
	if out := mustHomenode(t, "", append([]string{"user", "list"}, d...)...); out != "alice@cli.test\ngen@cli.test\n" {
		t.Errorf("user list = %q", out)
	}
	out = mustHomenode(t, "", append([]string{"status"}, d...)...)
	for _, want := range []string{"node:        not running", "accounts:    2", "queue:       0", "plain_imap", n.imap, "TLS certificate SHA-256:", "DKIM DNS record: homenode._domainkey.cli.test."} {
		if !strings.Contains(out, want) {
			t.Errorf("status (stopped) lacks %q:\n%s", want, out)
		}
	}

	p := startProc(t, n.dir, n.submission)
	// The generated password works for real.
	if err := submit(n.submission, "gen@cli.test", genPass, []string{"alice@cli.test"}, message("gen@cli.test", "alice@cli.test", "gen1")); err != nil {
		t.Errorf("submit with the generated password: %v", err)
	}
	start := time.Now()
	mustHomenode(t, "pw-bob-secret\n", append([]string{"user", "add", "bob@cli.test", "--password-stdin"}, d...)...)
	t.Logf("user add on a running node took %s", time.Since(start).Round(time.Millisecond))
	if err := submit(n.submission, "bob@cli.test", "pw-bob-secret", []string{"alice@cli.test"}, message("bob@cli.test", "alice@cli.test", "bob1")); err != nil {
		t.Errorf("a user added while running cannot submit: %v", err)
	}
	mustHomenode(t, "pw-bob-secret-2\n", append([]string{"user", "passwd", "bob@cli.test", "--password-stdin"}, d...)...)
	if err := submit(n.submission, "bob@cli.test", "pw-bob-secret", []string{"alice@cli.test"}, message("bob@cli.test", "alice@cli.test", "bob2")); err == nil {
		t.Error("the old password still works after user passwd")
	}
	if err := submit(n.submission, "bob@cli.test", "pw-bob-secret-2", []string{"alice@cli.test"}, message("bob@cli.test", "alice@cli.test", "bob3")); err != nil {
		t.Errorf("the new password does not work: %v", err)
	}
	out = mustHomenode(t, "", append([]string{"status", "--json"}, d...)...)
	var st homenode.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	if !st.Running || st.PID != p.cmd.Process.Pid || len(st.Accounts) != 3 || len(st.Listeners) != 3 {
		t.Errorf("status of the running node: %+v", st)
	}
	for _, l := range st.Listeners {
		if l.Bound == "" {
			t.Errorf("listener %s has no bound address while running", l.Name)
		}
	}
	mustHomenode(t, "", append([]string{"user", "del", "gen@cli.test"}, d...)...)
	if out, code := homenodeCmd(t, "", append([]string{"user", "del", "gen@cli.test"}, d...)...); code != 1 || !strings.Contains(out, "no such user") {
		t.Errorf("deleting a missing user: exit %d %q", code, out)
	}
	if out := mustHomenode(t, "", append([]string{"user", "list"}, d...)...); out != "alice@cli.test\nbob@cli.test\n" {
		t.Errorf("user list after del = %q", out)
	}
	msgs, err := inbox(n.imap, "alice@cli.test", "pw-alice-secret")
	if err != nil {
		t.Fatal(err)
	}
	if containsToken(msgs, "gen1") != 1 || containsToken(msgs, "bob1") != 1 || containsToken(msgs, "bob3") != 1 || len(msgs) != 3 {
		t.Errorf("alice's INBOX holds %d messages, want gen1, bob1, bob3", len(msgs))
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(30 * time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
	if _, err := os.Stat(filepath.Join(n.dir, "homenode.sock")); !os.IsNotExist(err) {
		t.Errorf("control socket left behind after a clean stop: %v", err)
	}
}
