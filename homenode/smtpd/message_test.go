package smtpd

import (
	"bytes"
	"errors"
	"net/mail"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
)

func TestNormAddr(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"Alice@Home.TEST", "Alice@home.test", ""},
		{"a@b.c.", "a@b.c", ""},
		{"x+tag@sub-1.example", "x+tag@sub-1.example", ""},
		{"@home.test", "", "want local@domain"},
		{"alice@", "", "want local@domain"},
		{"alice", "", "want local@domain"},
		{"al ice@home.test", "", "space"},
		{"alice@[127.0.0.1]", "", "bad domain"},
		{"alice@home..test", "", "bad domain"},
		{"alice@home_test", "", "bad domain"},
		{"alice@" + strings.Repeat("a", 64) + ".test", "", "bad domain"},
		{strings.Repeat("a", 250) + "@b.cd", "", "longer than 254"},
	} {
		got, err := normAddr(tc.in)
		if tc.err == "" && (err != nil || got != tc.want) || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("normAddr(%q) = %q, %v; want %q, %q", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestHeaderFields(t *testing.T) {
	raw := []byte("From: a@b.c\r\nSubject: one\r\n two\r\n\tthree\r\nNoColon\r\nReceived: x\nReceived: y\r\n\r\nFrom: body@not.header\r\n")
	fields, bad := headerFields(raw)
	if bad {
		t.Fatal("clean header reported bad")
	}
	want := []field{{"From", "a@b.c"}, {"Subject", "one two three"}, {"Received", "x"}, {"Received", "y"}}
	if len(fields) != len(want) {
		t.Fatalf("fields %q, want %q", fields, want)
	}
	for i := range want {
		if fields[i] != want[i] {
			t.Errorf("field %d = %q, want %q", i, fields[i], want[i])
		}
	}
	if n := countReceived(raw); n != 2 {
		t.Errorf("countReceived = %d, want 2", n)
	}
	if _, bad := headerFields([]byte("From: a@b.c\r\nX: 1\x00\r\n\r\n")); !bad {
		t.Error("NUL in header not reported")
	}
}

func TestCheckHeaderFrom(t *testing.T) {
	for _, tc := range []struct{ raw, err string }{
		{"From: alice@home.test\r\n\r\n", ""},
		{"from: \"Alice A.\" <Alice@Home.Test>\r\n\r\n", ""},
		{"From: =?iso-2022-jp?B?GyRCJUYlOSVIGyhC?= <alice@home.test>\r\n\r\n", ""},
		{"From: =?utf-8?q?Al=C3=AFce?=\r\n <alice@home.test>\r\n\r\n", ""},
		{"From: bob@home.test\r\n\r\n", "not yours"},
		{"From: alice@home.test.evil\r\n\r\n", "not yours"},
		{"From: <alice@home.test>, <bob@home.test>\r\n\r\n", "not yours"},
		{"From: friends:;\r\n\r\n", "names no address"},
		{"From: not an address\r\n\r\n", "unreadable"},
		{"Subject: x\r\n\r\nFrom: alice@home.test\r\n", "no From"},
		{"From: alice@home.test\r\nFrom: alice@home.test\r\n\r\n", "more than one"},
	} {
		err := checkHeaderFrom([]byte(tc.raw), "alice@home.test")
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("checkHeaderFrom(%q) = %v, want %q", tc.raw, err, tc.err)
		}
	}
}

// FuzzCheckHeaderFrom: whatever the header, an accepted message shows only
// the account's address to an independent parser (net/mail) as well.
func FuzzCheckHeaderFrom(f *testing.F) {
	f.Add([]byte("From: alice@home.test\r\nTo: b@c.d\r\n\r\nbody"))
	f.Add([]byte("From: \"x\" <alice@home.test>\r\n\r\n"))
	f.Add([]byte("From: alice@home.test\r\nX: \rFrom: bob@evil.test\r\n\r\n"))
	f.Add([]byte("From : alice@home.test\nFrom\t: bob@evil.test\n\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		if checkHeaderFrom(raw, "alice@home.test") != nil {
			return
		}
		msg, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			return
		}
		if froms := msg.Header["From"]; len(froms) > 1 {
			t.Fatalf("accepted, but net/mail sees %d From fields: %q", len(froms), froms)
		}
		list, err := addrParser.ParseList(msg.Header.Get("From"))
		if err != nil {
			return
		}
		for _, a := range list {
			if !strings.EqualFold(a.Address, "alice@home.test") {
				t.Fatalf("accepted, but net/mail reads From %q", a.Address)
			}
		}
	})
}

func TestLoginServer(t *testing.T) {
	var gotUser, gotPass string
	auth := func(u, p string) error {
		gotUser, gotPass = u, p
		if p != "pw" {
			return errors.New("bad")
		}
		return nil
	}
	// Without an initial response.
	l := &loginServer{authenticate: auth}
	steps := []struct {
		resp      []byte
		challenge string
		done      bool
	}{{nil, "Username:", false}, {[]byte("alice"), "Password:", false}, {[]byte("pw"), "", true}}
	for i, s := range steps {
		ch, done, err := l.Next(s.resp)
		if err != nil || string(ch) != s.challenge || done != s.done {
			t.Fatalf("step %d: %q, %v, %v", i, ch, done, err)
		}
	}
	if gotUser != "alice" || gotPass != "pw" {
		t.Fatalf("authenticated %q/%q", gotUser, gotPass)
	}
	if _, _, err := l.Next([]byte("more")); !errors.Is(err, sasl.ErrUnexpectedClientResponse) {
		t.Fatalf("response after done: %v", err)
	}
	// With the user name as initial response, and a wrong password.
	l = &loginServer{authenticate: auth}
	if ch, _, _ := l.Next([]byte("bob")); string(ch) != "Password:" {
		t.Fatalf("challenge after initial response: %q", ch)
	}
	if _, done, err := l.Next([]byte("nope")); err == nil || !done {
		t.Fatalf("wrong password: done=%v err=%v", done, err)
	}
}

func TestTraceToken(t *testing.T) {
	for in, want := range map[string]string{
		"mail.example.org": "mail.example.org",
		"[192.0.2.1]":      "[192.0.2.1]",
		"evil\r\nX: y":     "evilX:y",
		"":                 "unknown",
		"()<>":             "unknown",
	} {
		if got := traceToken(in); got != want {
			t.Errorf("traceToken(%q) = %q, want %q", in, got, want)
		}
	}
}
