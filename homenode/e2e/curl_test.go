package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/thingpost/thingpost/homenode"
)

// curl runs Debian's curl with a hard timeout and returns its output and exit
// code (0 = success).
func curl(t *testing.T, bin string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args = append([]string{"-sS", "--max-time", "20"}, args...)
	return runCode(t, exec.CommandContext(ctx, bin, args...))
}

// TestCurlSMTPAndIMAP uses curl as an independent client: submission with
// AUTH over plain loopback, STARTTLS and implicit TLS (certificate pinned with
// --cacert, and -k), then IMAP UID SEARCH and UID fetch over plain, STARTTLS
// and implicit TLS.
func TestCurlSMTPAndIMAP(t *testing.T) {
	bin := needTool(t, "curl")
	h := newHome(t, "home.test", func(c *homenode.Config) {
		c.Listen.Submission = "127.0.0.1:0"
		c.Listen.Submissions = "127.0.0.1:0"
		c.Listen.IMAP = "127.0.0.1:0"
		c.Listen.IMAPS = "127.0.0.1:0"
	})
	alice := h.addUser("alice")
	bob := h.addUser("bob")
	h.start()
	cert := h.Cfg.Path(h.Cfg.TLS.Cert)
	dir := t.TempDir()

	send := func(token string, url string, extra ...string) (string, int) {
		t.Helper()
		f := filepath.Join(dir, token+".eml")
		if err := os.WriteFile(f, message(alice, bob, token), 0o600); err != nil {
			t.Fatal(err)
		}
		args := append([]string{url, "--mail-from", alice, "--mail-rcpt", bob, "--upload-file", f,
			"--user", alice + ":" + h.Pass[alice]}, extra...)
		return curl(t, bin, args...)
	}
	mustSend := func(token string, url string, extra ...string) {
		t.Helper()
		if out, code := send(token, url, extra...); code != 0 {
			t.Fatalf("curl %s (%s): exit %d: %s", url, token, code, out)
		}
	}
	mustSend("plain1", "smtp://"+h.addr("plain_submission"))
	mustSend("starttls2", "smtp://"+h.addr("submission"), "--ssl-reqd", "--cacert", cert)
	mustSend("starttlsk3", "smtp://"+h.addr("submission"), "--ssl-reqd", "-k")
	mustSend("implicit4", "smtps://"+h.addr("submissions"), "--cacert", cert)

	// Refusals: AUTH before STARTTLS on a TLS listener, a wrong password, a
	// sender that is not the account, and a certificate that is not the pinned one.
	if out, code := send("refused5", "smtp://"+h.addr("submission")); code == 0 {
		t.Errorf("AUTH without TLS on the STARTTLS listener was accepted: %s", out)
	}
	if out, code := curl(t, bin, "smtp://"+h.addr("plain_submission"), "--mail-from", alice, "--mail-rcpt", bob,
		"--upload-file", filepath.Join(dir, "plain1.eml"), "--user", alice+":wrong"); code == 0 {
		t.Errorf("wrong password accepted: %s", out)
	}
	if out, code := curl(t, bin, "smtp://"+h.addr("plain_submission"), "--mail-from", bob, "--mail-rcpt", bob,
		"--upload-file", filepath.Join(dir, "plain1.eml"), "--user", alice+":"+h.Pass[alice]); code == 0 {
		t.Errorf("alice sent as bob: %s", out)
	}
	otherCert, _, err := homenode.GenerateCert([]string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	otherCertFile := filepath.Join(dir, "other.pem")
	if err := os.WriteFile(otherCertFile, otherCert, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := send("refused6", "smtps://"+h.addr("submissions"), "--cacert", otherCertFile); code != 60 && code != 35 {
		t.Errorf("a certificate that is not the pinned one: exit %d, want 60 (peer certificate not trusted): %s", code, out)
	}

	bobUser := bob + ":" + h.Pass[bob]
	out, code := curl(t, bin, "imap://"+h.addr("plain_imap")+"/INBOX", "-X", "UID SEARCH ALL", "--user", bobUser)
	if code != 0 {
		t.Fatalf("UID SEARCH: exit %d: %s", code, out)
	}
	m := regexp.MustCompile(`\* SEARCH ((?:\d+ ?)*)`).FindStringSubmatch(out)
	if m == nil || len(strings.Fields(m[1])) != 4 {
		t.Fatalf("UID SEARCH ALL = %q, want four UIDs", out)
	}
	uids := strings.Fields(m[1])
	tokens := []string{"plain1", "starttls2", "starttlsk3", "implicit4"}
	urls := []struct {
		base  string
		extra []string
	}{
		{"imap://" + h.addr("plain_imap"), nil},
		{"imap://" + h.addr("imap"), []string{"--ssl-reqd", "--cacert", cert}},
		{"imaps://" + h.addr("imaps"), []string{"--cacert", cert}},
		{"imaps://" + h.addr("imaps"), []string{"-k"}},
	}
	for i, uid := range uids {
		u := urls[i]
		args := append([]string{u.base + "/INBOX;UID=" + uid, "--user", bobUser}, u.extra...)
		out, code := curl(t, bin, args...)
		if code != 0 {
			t.Fatalf("fetch UID %s via %s: exit %d: %s", uid, u.base, code, out)
		}
		if !strings.Contains(out, "body token "+tokens[i]) || !strings.Contains(out, "Subject: test "+tokens[i]) {
			t.Errorf("UID %s via %s: want message %s, got:\n%s", uid, u.base, tokens[i], out)
		}
	}
	// LOGIN before STARTTLS on the TLS IMAP listener is refused.
	if out, code := curl(t, bin, "imap://"+h.addr("imap")+"/INBOX", "-X", "UID SEARCH ALL", "--user", bobUser); code == 0 {
		t.Errorf("IMAP login without TLS on the STARTTLS listener was accepted: %s", out)
	}
}
