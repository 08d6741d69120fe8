package transport

import (
	"errors"
	"strings"
	"testing"
)

func validAccount() Account {
	return Account{
		Address:  "lamp@home.example",
		IMAP:     Server{HostPort: "mail.home.example:993", Security: SecurityTLS},
		SMTP:     Server{HostPort: "mail.home.example:465", Security: SecurityTLS},
		Password: "pw",
	}
}

func TestValidate(t *testing.T) {
	pin := strings.Repeat("ab", 32)
	tests := []struct {
		name   string
		modify func(*Account)
		want   error // nil: valid
		text   string
	}{
		{"valid", func(*Account) {}, nil, ""},
		{"empty security means tls", func(a *Account) { a.IMAP.Security = "" }, nil, ""},
		{"ssl alias", func(a *Account) { a.IMAP.Security = "SSL" }, nil, ""},
		{"pin with colons, upper case", func(a *Account) {
			a.PinSHA256 = strings.TrimSuffix(strings.Repeat("AB:", 32), ":")
		}, nil, ""},
		{"pin with spaces", func(a *Account) { a.PinSHA256 = pin[:32] + " " + pin[32:] }, nil, ""},
		{"plain loopback v4", func(a *Account) { a.IMAP = Server{HostPort: "127.0.0.1:143", Security: SecurityPlain} }, nil, ""},
		{"plain loopback v6", func(a *Account) { a.SMTP = Server{HostPort: "[::1]:25", Security: SecurityPlain} }, nil, ""},
		{"plain localhost", func(a *Account) { a.SMTP = Server{HostPort: "localhost:25", Security: SecurityPlain} }, nil, ""},
		{"plain elsewhere", func(a *Account) { a.IMAP.Security = SecurityPlain }, ErrPlainNotLoopback, "mail.home.example"},
		{"plain private lan", func(a *Account) { a.SMTP = Server{HostPort: "192.168.1.1:25", Security: SecurityPlain} }, ErrPlainNotLoopback, "192.168.1.1"},
		{"password only per server", func(a *Account) {
			a.Password = ""
			a.IMAP.Password, a.SMTP.Password = "a", "b"
		}, nil, ""},
		{"no address", func(a *Account) { a.Address = "" }, ErrInvalidAccount, "address"},
		{"address without domain", func(a *Account) { a.Address = "lamp@" }, ErrInvalidAccount, "local@domain"},
		{"address with space", func(a *Account) { a.Address = "la mp@x" }, ErrInvalidAccount, "space"},
		{"no port", func(a *Account) { a.IMAP.HostPort = "mail.home.example" }, ErrInvalidAccount, "host:port"},
		{"port zero", func(a *Account) { a.SMTP.HostPort = "mail:0" }, ErrInvalidAccount, "1-65535"},
		{"port words", func(a *Account) { a.SMTP.HostPort = "mail:smtp" }, ErrInvalidAccount, "1-65535"},
		{"host with slash", func(a *Account) { a.SMTP.HostPort = "mail/x:25" }, ErrInvalidAccount, "contains"},
		{"host with space", func(a *Account) { a.SMTP.HostPort = "mail x:25" }, ErrInvalidAccount, "contains"},
		{"no host", func(a *Account) { a.SMTP.HostPort = ":25" }, ErrInvalidAccount, "no host"},
		{"bad security", func(a *Account) { a.SMTP.Security = "ssl3" }, ErrInvalidAccount, "unknown security"},
		{"no password", func(a *Account) { a.Password = "" }, ErrInvalidAccount, "no password"},
		{"smtp password missing", func(a *Account) { a.Password, a.IMAP.Password = "", "x" }, ErrInvalidAccount, "SMTP server: no password"},
		{"short pin", func(a *Account) { a.PinSHA256 = "abcd" }, ErrInvalidAccount, "64 hex"},
		{"pin not hex", func(a *Account) { a.PinSHA256 = strings.Repeat("zz", 32) }, ErrInvalidAccount, "64 hex"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := validAccount()
			tt.modify(&a)
			err := a.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Validate() = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("error %q does not mention %q", err, tt.text)
			}
		})
	}
}

func TestUserDefaults(t *testing.T) {
	a := validAccount()
	if got := a.user(&a.IMAP); got != a.Address {
		t.Errorf("user defaults to %q, want the address", got)
	}
	a.User = "lamp"
	a.SMTP.User = "smtp-lamp"
	if got := a.user(&a.IMAP); got != "lamp" {
		t.Errorf("IMAP user %q, want lamp", got)
	}
	if got := a.user(&a.SMTP); got != "smtp-lamp" {
		t.Errorf("SMTP user %q, want smtp-lamp", got)
	}
	a.SMTP.Password = "other"
	if a.password(&a.IMAP) != "pw" || a.password(&a.SMTP) != "other" {
		t.Errorf("passwords %q %q", a.password(&a.IMAP), a.password(&a.SMTP))
	}
}

func TestRetryable(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{ErrPermanent, false},
		{ErrInvalidAccount, false},
		{ErrPlainNotLoopback, false},
		{ErrTemporary, true},
		{ErrAuth, true},
		{ErrRefused, true},
		{errors.New("connection reset"), true},
	} {
		if got := Retryable(tt.err); got != tt.want {
			t.Errorf("Retryable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
