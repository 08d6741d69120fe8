package thing

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestVouched(t *testing.T) {
	const id = "node.home.test"
	msg := func(from string, fields ...string) []byte {
		return []byte(strings.Join(fields, "") + "From: " + from + "\r\nSubject: x\r\n\r\nAuthentication-Results: node.home.test; auth=pass smtp.auth=mallory@home.test\r\n")
	}
	cases := []struct {
		name string
		raw  []byte
		addr string
		want string // a word of the answer; "" for none
	}{
		{"login", msg("<carol@home.test>", "Authentication-Results: node.home.test;\r\n\tauth=pass smtp.auth=carol@home.test\r\n"), "carol@home.test", "login"},
		{"login, case", msg("Carol <Carol@Home.Test>", "Authentication-Results: NODE.home.test; auth=pass smtp.auth=CAROL@home.test\r\n"), "carol@home.test", "login"},
		{"DKIM", msg("<carol@example.org>", "Authentication-Results: node.home.test; dkim=fail header.d=example.org; dkim=pass header.d=example.org\r\n"), "carol@example.org", "DKIM"},
		{"another login", msg("<carol@home.test>", "Authentication-Results: node.home.test; auth=pass smtp.auth=mallory@home.test\r\n"), "carol@home.test", ""},
		{"failed login", msg("<carol@home.test>", "Authentication-Results: node.home.test; auth=fail smtp.auth=carol@home.test\r\n"), "carol@home.test", ""},
		{"DKIM of another domain", msg("<carol@example.org>", "Authentication-Results: node.home.test; dkim=pass header.d=evil.example\r\n"), "carol@example.org", ""},
		{"DKIM of a parent domain", msg("<carol@mail.example.org>", "Authentication-Results: node.home.test; dkim=pass header.d=example.org\r\n"), "carol@mail.example.org", ""},
		{"DKIM failed", msg("<carol@example.org>", "Authentication-Results: node.home.test; dkim=fail header.d=example.org\r\n"), "carol@example.org", ""},
		{"another server", msg("<carol@home.test>", "Authentication-Results: mx.evil.example; auth=pass smtp.auth=carol@home.test\r\n"), "carol@home.test", ""},
		{"a server named like ours", msg("<carol@home.test>", "Authentication-Results: node.home.test.evil.example; auth=pass smtp.auth=carol@home.test\r\n"), "carol@home.test", ""},
		{"From is another address", msg("<mallory@home.test>", "Authentication-Results: node.home.test; auth=pass smtp.auth=carol@home.test\r\n"), "carol@home.test", ""},
		{"two From fields", msg("<carol@home.test>", "From: <mallory@home.test>\r\nAuthentication-Results: node.home.test; auth=pass smtp.auth=carol@home.test\r\n"), "carol@home.test", ""},
		{"only in the body", msg("<mallory@home.test>"), "mallory@home.test", ""},
		{"malformed header", append([]byte("no colon here\r\n"), msg("<carol@home.test>", "Authentication-Results: node.home.test; auth=pass smtp.auth=carol@home.test\r\n")...), "carol@home.test", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := vouched(tc.raw, tc.addr, id)
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Fatalf("vouched = %q, want %q", got, tc.want)
			}
		})
	}
	if got := vouched(cases[0].raw, cases[0].addr, ""); got != "" {
		t.Fatalf("no trusted server, yet vouched = %q", got)
	}
}

func TestConfigAuthservID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{{"", true}, {"node.home.test", true}, {"mx1", true}, {"node home", false}, {"node;auth=pass", false}, {"a..b", false}, {".", false}} {
		dir := t.TempDir()
		f := &File{Name: "Lamp", Kind: "light", Addr: "lamp@home.test", AuthservID: tc.id}
		f.Mail.IMAP, f.Mail.SMTP, f.Mail.Security, f.Mail.Password = "127.0.0.1:1143", "127.0.0.1:1587", "plain", "pw"
		if err := WriteConfig(dir, f); err != nil {
			t.Fatal(err)
		}
		cfg, err := LoadConfig(dir)
		if tc.ok != (err == nil) || tc.ok && cfg.AuthservID != tc.id || !tc.ok && !errors.Is(err, ErrBadAuthservID) {
			t.Errorf("authserv_id %q: %v, config %q", tc.id, err, cfg.AuthservID)
		}
		if !tc.ok && !strings.Contains(err.Error(), filepath.Join(dir, ConfigFile)) {
			t.Errorf("error does not name the file: %v", err)
		}
	}
}
