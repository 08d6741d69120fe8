package smtpd

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dkim"

	"github.com/thingpost/thingpost/internal/testutil"
)

func TestStripAuthResults(t *testing.T) {
	const id = "mx.home.test"
	body := "\r\nAuthentication-Results: mx.home.test; auth=pass smtp.auth=carol@home.test\r\n"
	cases := []struct {
		name, header, want string
		removed            int
	}{
		{"none", "From: a@b\r\nSubject: x\r\n", "From: a@b\r\nSubject: x\r\n", 0},
		{"ours", "From: a@b\r\nAuthentication-Results: mx.home.test; auth=pass smtp.auth=carol@home.test\r\nSubject: x\r\n", "From: a@b\r\nSubject: x\r\n", 1},
		{"case and folding", "authentication-results :\r\n MX.Home.Test;\r\n\tdkim=pass header.d=home.test\r\nSubject: x\r\n", "Subject: x\r\n", 1},
		{"comment, version, quotes, dot", "Authentication-Results: (forged) \"mx.home.test.\" 1; none\r\nAuthentication-Results: mx.home.test(c);auth=pass\r\n", "", 2},
		{"bare LF", "Authentication-Results: mx.home.test; auth=pass\nFrom: a@b\n", "From: a@b\n", 1},
		{"another server's", "Authentication-Results: mx.example.org; dkim=pass header.d=example.org\r\nAuthentication-Results: mx.home.test.example; auth=pass\r\n",
			"Authentication-Results: mx.example.org; dkim=pass header.d=example.org\r\nAuthentication-Results: mx.home.test.example; auth=pass\r\n", 0},
		{"last field", "From: a@b\r\nAuthentication-Results: mx.home.test; auth=pass\r\n", "From: a@b\r\n", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			eol := "\r\n"
			if strings.Contains(tc.header, "\n") && !strings.Contains(tc.header, "\r") {
				eol = "\n"
			}
			raw := []byte(tc.header + eol + body)
			got, n := stripAuthResults(raw, id)
			if n != tc.removed || string(got) != tc.want+eol+body {
				t.Fatalf("removed %d, want %d; got\n%q\nwant\n%q", n, tc.removed, got, tc.want+eol+body)
			}
			if n == 0 && &got[0] != &raw[0] {
				t.Error("a message without our fields was copied")
			}
		})
	}
}

// nodeResults parses the node's own Authentication-Results of a delivered
// message: there must be exactly one.
func nodeResults(t testing.TB, raw []byte, id string) []authres.Result {
	t.Helper()
	fields, _ := headerFields(raw)
	var out []authres.Result
	n := 0
	for _, f := range fields {
		if !strings.EqualFold(f.name, authResultsField) {
			continue
		}
		got, results, err := authres.Parse(f.value)
		if err != nil {
			t.Fatalf("parse %q: %v", f.value, err)
		}
		if strings.EqualFold(got, id) {
			n++
			out = results
		}
	}
	if n != 1 {
		t.Fatalf("%d Authentication-Results fields of %s in\n%s", n, id, raw)
	}
	return out
}

// TestMXAuthResults: the MX removes results forged in its name and records
// its own DKIM verdicts.
func TestMXAuthResults(t *testing.T) {
	st := testutil.OpenStore(t)
	addUser(t, st, "thing@home.test", "pw")
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	lookup := func(domain string) ([]string, error) {
		if domain == "sel._domainkey.example.org" {
			return []string{"v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)}, nil
		}
		return nil, errors.New("no such domain")
	}
	srv := NewMX(st, MXOptions{Hostname: "mx.home.test", Domains: []string{"home.test"}, LookupTXT: lookup, Logger: testLogger(&testutil.SyncBuffer{})})
	addr := testutil.Serve(t, srv, nil)
	forged := "Authentication-Results: mx.home.test; auth=pass smtp.auth=carol@home.test\r\n" +
		"Authentication-Results: MX.HOME.TEST;\r\n dkim=pass header.d=home.test\r\n"
	sign := func(msg string) string {
		var b bytes.Buffer
		if err := dkim.Sign(&b, strings.NewReader(msg), &dkim.SignOptions{Domain: "example.org", Selector: "sel", Signer: key}); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	signed := sign(message("carol@example.org", "thing@home.test", "signed", "Hello."))
	cases := []struct {
		name, msg, want string
	}{
		{"forged, unsigned", forged + message("carol@example.net", "thing@home.test", "forged", "x"), ""},
		{"forged over a valid signature", forged + signed, "dkim=pass header.d=example.org"},
		{"valid signature", signed, "dkim=pass header.d=example.org"},
		{"altered after signing", strings.Replace(signed, "Hello.", "Hullo.", 1), "dkim=fail header.d=example.org"},
		{"unknown key", strings.Replace(signed, "d=example.org", "d=nowhere.example", 1), "dkim=permerror header.d=nowhere.example"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, addr)
			if err := send(c, "x@sender.example", []string{"thing@home.test"}, tc.msg); err != nil {
				t.Fatal(err)
			}
			box := testutil.Inbox(t, st, "thing@home.test")
			got := box[i]
			if bytes.Contains(got, []byte("smtp.auth=carol")) || bytes.Contains(got, []byte("header.d=home.test")) {
				t.Fatalf("a forged result was delivered:\n%s", got)
			}
			res := nodeResults(t, got, "mx.home.test")
			var s []string
			for _, r := range res {
				d, ok := r.(*authres.DKIMResult)
				if !ok {
					t.Fatalf("result %#v at the MX", r)
				}
				s = append(s, "dkim="+string(d.Value)+" header.d="+d.Domain)
			}
			if strings.Join(s, "; ") != tc.want {
				t.Fatalf("results %q, want %q in\n%s", s, tc.want, got)
			}
		})
	}
}

// TestSubmissionAuthResults: submission records the login and removes
// results forged in the node's name.
func TestSubmissionAuthResults(t *testing.T) {
	e := newSubmission(t, SubmissionOptions{AllowInsecureAuth: true}, false)
	c := e.login(t, "alice@home.test", "pw-alice")
	msg := "Authentication-Results: mail.home.test; auth=pass smtp.auth=bob@home.test\r\n" + message("alice@home.test", "bob@home.test", "hi", "x")
	if err := send(c, "alice@home.test", []string{"bob@home.test"}, msg); err != nil {
		t.Fatal(err)
	}
	got := testutil.Inbox(t, e.st, "bob@home.test")[0]
	res := nodeResults(t, got, "mail.home.test")
	if a, ok := res[0].(*authres.AuthResult); len(res) != 1 || !ok || a.Value != authres.ResultPass || a.Auth != "alice@home.test" {
		t.Fatalf("results %+v in\n%s", res, got)
	}
}
