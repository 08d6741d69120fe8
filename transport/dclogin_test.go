package transport

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// Most inputs are chatmail/core's own test vectors (src/qr/dclogin_scheme.rs).
func TestParseDCLOGIN(t *testing.T) {
	tls := func(hp string) Server { return Server{HostPort: hp, Security: SecurityTLS} }
	tests := []struct {
		code string
		want Account
	}{
		{"dclogin://email@host.tld?p=123&v=1", Account{Address: "email@host.tld", Password: "123",
			IMAP: tls("host.tld:993"), SMTP: tls("host.tld:465")}},
		{"dclogin://email@host.tld/?p=123456&v=1", Account{Address: "email@host.tld", Password: "123456",
			IMAP: tls("host.tld:993"), SMTP: tls("host.tld:465")}},
		{"dclogin:email@host.tld/ignored/path?p=123456&v=1", Account{Address: "email@host.tld", Password: "123456",
			IMAP: tls("host.tld:993"), SMTP: tls("host.tld:465")}},
		{"DCLOGIN:email@host.tld?p=123&v=1", Account{Address: "email@host.tld", Password: "123",
			IMAP: tls("host.tld:993"), SMTP: tls("host.tld:465")}},
		{"dclogin:username@%5b192.168.1.1%5d?p=1234&v=1", Account{Address: "username@[192.168.1.1]", Password: "1234",
			IMAP: tls("192.168.1.1:993"), SMTP: tls("192.168.1.1:465")}},
		{"dclogin://test@[2001:0db8:85a3:0000:0000:8a2e:0370:7334]?p=1234&v=1", Account{
			Address: "test@[2001:0db8:85a3:0000:0000:8a2e:0370:7334]", Password: "1234",
			IMAP: tls("[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:993"), SMTP: tls("[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:465")}},
		{"dclogin:email@host.tld?p=%7BDaehFl%3B%22as%40%21fhdodn5%24234%22%7B%7Dfg&v=1", Account{
			Address: "email@host.tld", Password: "{DaehFl;\"as@!fhdodn5$234\"{}fg",
			IMAP: tls("host.tld:993"), SMTP: tls("host.tld:465")}},
		{"dclogin:usename+extension@host?p=1234&v=1", Account{Address: "usename+extension@host", Password: "1234",
			IMAP: tls("host:993"), SMTP: tls("host:465")}},
		// All advanced options, except ss=plain, which would point plaintext
		// at a remote host (that case is in TestParseDCLOGINErrors).
		{"dclogin:email@host.tld?p=secret&v=1&ih=imap.host.tld&ip=4000&iu=max&ipw=87654&is=ssl&ic=1&sh=mail.host.tld&sp=3000&su=max@host.tld&spw=3242HS&ss=starttls&sc=1",
			Account{Address: "email@host.tld", Password: "87654",
				IMAP: Server{HostPort: "imap.host.tld:4000", Security: SecurityTLS, User: "max"},
				SMTP: Server{HostPort: "mail.host.tld:3000", Security: SecuritySTARTTLS, User: "max@host.tld", Password: "3242HS"}}},
		// Security follows the port, the port follows the security.
		{"dclogin:a@b.example?p=x&v=1&ip=143&sp=587", Account{Address: "a@b.example", Password: "x",
			IMAP: Server{HostPort: "b.example:143", Security: SecuritySTARTTLS},
			SMTP: Server{HostPort: "b.example:587", Security: SecuritySTARTTLS}}},
		{"dclogin:a@b.example?p=x&v=1&is=starttls&ss=default", Account{Address: "a@b.example", Password: "x",
			IMAP: Server{HostPort: "b.example:143", Security: SecuritySTARTTLS}, SMTP: tls("b.example:465")}},
		// A home node on loopback, plain, same user for both.
		{"dclogin:lamp@home.test?p=pw&v=1&ih=127.0.0.1&ip=1143&is=plain&sh=127.0.0.1&sp=1025&ss=plain&iu=lamp&su=lamp",
			Account{Address: "lamp@home.test", Password: "pw", User: "lamp",
				IMAP: Server{HostPort: "127.0.0.1:1143", Security: SecurityPlain},
				SMTP: Server{HostPort: "127.0.0.1:1025", Security: SecurityPlain}}},
		// ic=2 with a pin: accepted, verified by the pin.
		{"dclogin:lamp@home.test?p=pw&v=1&ih=home.test&ic=2&sc=2&tp-pin=" + strings.Repeat("0f", 32),
			Account{Address: "lamp@home.test", Password: "pw", PinSHA256: strings.Repeat("0f", 32),
				IMAP: tls("home.test:993"), SMTP: tls("home.test:465")}},
		// Repeated key: the last wins, as in Delta Chat's HashMap.
		{"dclogin:a@b.example?p=one&p=two&v=1", Account{Address: "a@b.example", Password: "two",
			IMAP: tls("b.example:993"), SMTP: tls("b.example:465")}},
		// "+" in the query is a space (form encoding); a fragment is cut.
		{"  dclogin:a@b.example?p=pass+word&v=1#frag  ", Account{Address: "a@b.example", Password: "pass word",
			IMAP: tls("b.example:993"), SMTP: tls("b.example:465")}},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			got, err := ParseDCLOGIN(tt.code)
			if err != nil {
				t.Fatalf("ParseDCLOGIN: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseDCLOGINErrors(t *testing.T) {
	tests := []struct {
		code string
		want error
		text string
	}{
		{"", ErrInvalidAccount, "not a DCLOGIN"},
		{"mailto:a@b", ErrInvalidAccount, "not a DCLOGIN"},
		{"dclogin:email@host.tld?p=123", ErrInvalidAccount, "no version"},
		{"dclogin:email@host.tld?p=123&v=", ErrInvalidAccount, "version"},
		{"dclogin:email@host.tld?p=123&v=%40", ErrInvalidAccount, "version"},
		{"dclogin:email@host.tld?p=123&v=-20", ErrInvalidAccount, "version"},
		{"dclogin:email@host.tld?p=123&v=hi", ErrInvalidAccount, "version"},
		{"dclogin:email@host.tld/?p=123456&v=2", ErrInvalidAccount, "not supported"},
		{"dclogin:email@host.tld?v=1", ErrInvalidAccount, "no password"},
		{"dclogin:host.tld?p=1&v=1", ErrInvalidAccount, "address"},
		{"dclogin:a%zz@b?p=1&v=1", ErrInvalidAccount, "address"},
		{"dclogin:a@b?p=1&v=1&ip=99999", ErrInvalidAccount, "IMAP port"},
		{"dclogin:a@b?p=1&v=1&sp=x", ErrInvalidAccount, "SMTP port"},
		{"dclogin:a@b?p=1&v=1&is=tls13", ErrInvalidAccount, "IMAP security"},
		{"dclogin:a@b?p=1&v=1&ic=9", ErrInvalidAccount, "certificate check"},
		{"dclogin:a@b?p=%&v=1", ErrInvalidAccount, "parameters"},
		{"dclogin:a@b?p=1&v=1&tp-pin=00", ErrInvalidAccount, "64 hex"},
		{"dclogin:email@host.tld?p=secret&v=1&sh=mail.host.tld&ss=plain", ErrPlainNotLoopback, "mail.host.tld"},
		{"dclogin:a@b?p=1&v=1&ic=3", ErrCertChecksOff, "pinned"},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			_, err := ParseDCLOGIN(tt.code)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseDCLOGIN = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("error %q does not mention %q", err, tt.text)
			}
		})
	}
}

// The settings of a code that turns certificate checks off are returned
// with the error, so the caller can ask for the fingerprint.
func TestParseDCLOGINCertChecksOffKeepsSettings(t *testing.T) {
	a, err := ParseDCLOGIN("dclogin:a@b.example?p=1&v=1&ih=h.example&ic=2")
	if !errors.Is(err, ErrCertChecksOff) {
		t.Fatalf("err = %v", err)
	}
	if a.IMAP.HostPort != "h.example:993" || a.Password != "1" {
		t.Errorf("settings lost: %+v", a)
	}
	a.PinSHA256 = strings.Repeat("11", 32)
	if err := a.Validate(); err != nil {
		t.Errorf("with a pin: %v", err)
	}
}

func TestDCLOGINRoundTrip(t *testing.T) {
	pin := strings.Repeat("a1", 32)
	accounts := []Account{
		validAccount(),
		{Address: "lamp+1@[127.0.0.1]", Password: "p&w=?# %+ü", User: "lamp",
			IMAP: Server{HostPort: "127.0.0.1:1143", Security: SecurityPlain},
			SMTP: Server{HostPort: "[::1]:1025", Security: SecurityPlain, User: "other", Password: "x/y"}},
		{Address: "door@home.test", Password: "pw", PinSHA256: pin,
			IMAP: Server{HostPort: "home.test:10993", Security: SecurityTLS},
			SMTP: Server{HostPort: "home.test:10587", Security: SecuritySTARTTLS}},
	}
	for _, a := range accounts {
		code, err := a.DCLOGIN()
		if err != nil {
			t.Fatalf("DCLOGIN(%+v): %v", a, err)
		}
		if !strings.HasPrefix(code, "DCLOGIN:") || strings.ContainsAny(code, " \n") {
			t.Errorf("code %q", code)
		}
		got, err := ParseDCLOGIN(code)
		if err != nil {
			t.Fatalf("ParseDCLOGIN(%q): %v", code, err)
		}
		if effective(got) != effective(a) {
			t.Errorf("round trip of %q\ngot  %+v\nwant %+v", code, effective(got), effective(a))
		}
	}
	code, _ := accounts[2].DCLOGIN()
	for _, want := range []string{"ic=2", "sc=2", "ss=starttls", "is=ssl", PinParam + "=" + pin} {
		if !strings.Contains(code, want) {
			t.Errorf("code %q lacks %q", code, want)
		}
	}
	if _, err := (Account{}).DCLOGIN(); !errors.Is(err, ErrInvalidAccount) {
		t.Errorf("DCLOGIN of an empty account: %v", err)
	}
}

func FuzzParseDCLOGIN(f *testing.F) {
	for _, s := range []string{
		"dclogin://email@host.tld?p=123&v=1",
		"dclogin:email@host.tld?p=secret&v=1&ih=imap.host.tld&ip=4000&iu=max&ipw=87654&is=ssl&ic=1&sh=mail.host.tld&sp=3000&su=max@host.tld&spw=3242HS&ss=plain&sc=3",
		"dclogin:username@%5b192.168.1.1%5d?p=1234&v=1",
		"DCLOGIN:lamp@home.test?p=pw&v=1&ih=127.0.0.1&ip=1143&is=plain&tp-pin=" + strings.Repeat("0f", 32),
		"dclogin:a@b?p=%&v=1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		a, err := ParseDCLOGIN(code)
		if err != nil {
			if !errors.Is(err, ErrInvalidAccount) && !errors.Is(err, ErrPlainNotLoopback) && !errors.Is(err, ErrCertChecksOff) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if err := a.Validate(); err != nil {
			t.Fatalf("parsed account does not validate: %v", err)
		}
		if a.IMAP.Security == SecurityPlain && !isLoopbackHost(hostOf(a.IMAP.HostPort)) {
			t.Fatalf("plain to non-loopback accepted: %+v", a)
		}
		if !utf8.ValidString(code) {
			return
		}
		// What we parse, we can write, and read back identically.
		again, err := a.DCLOGIN()
		if err != nil {
			t.Fatalf("DCLOGIN: %v", err)
		}
		b, err := ParseDCLOGIN(again)
		if err != nil {
			t.Fatalf("re-parse %q: %v", again, err)
		}
		if effective(a) != effective(b) {
			t.Fatalf("round trip differs:\n%+v\n%+v", effective(a), effective(b))
		}
	})
}

func hostOf(hp string) string {
	h, _, _ := strings.Cut(hp, ":")
	if strings.HasPrefix(hp, "[") {
		h = hp[1:strings.IndexByte(hp, ']')]
	}
	return h
}

// effective is what an account means: the address, the pin, and per server
// where to connect, how, and with which login.
type effectiveAccount struct {
	addr, pin  string
	imap, smtp Server
}

func effective(a Account) effectiveAccount {
	e := effectiveAccount{addr: a.Address}
	if a.PinSHA256 != "" {
		p, _ := parsePin(a.PinSHA256)
		e.pin = string(p[:])
	}
	for _, s := range []struct{ dst, src *Server }{{&e.imap, &a.IMAP}, {&e.smtp, &a.SMTP}} {
		*s.dst = Server{HostPort: s.src.HostPort, Security: s.src.security(), User: a.user(s.src), Password: a.password(s.src)}
	}
	return e
}
