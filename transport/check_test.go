package transport

import (
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestCheck runs against both kinds of server at once: Check only logs in,
// and most of the time goes to the cases that wait for a timeout.
func TestCheck(t *testing.T) {
	for _, k := range homes {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			testCheck(t, k)
		})
	}
}

func testCheck(t *testing.T, k homeKind) {
	h := k.new(t, SecurityTLS)
	plainHome := k.new(t, SecurityPlain)
	plainSMTP := plainHome.account().SMTP.HostPort
	silent, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never greets
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedAddr := free.Addr().String()
	free.Close() // nothing listens there any more

	tests := []struct {
		name   string
		modify func(*Account)
		want   []error // sentinels the error must wrap; nil: success
		text   []string
	}{
		{"ok", func(*Account) {}, nil, nil},
		{"bad password on both", func(a *Account) { a.Password = "wrong" }, []error{ErrAuth}, []string{"imap ", "smtp ", "login refused"}},
		{"bad SMTP password only", func(a *Account) { a.SMTP.Password = "wrong" }, []error{ErrAuth}, []string{"smtp "}},
		{"pin mismatch", func(a *Account) { a.PinSHA256 = strings.Repeat("ab", 32) }, []error{ErrPinMismatch}, []string{"pinned"}},
		{"no pin, self-signed", func(a *Account) { a.PinSHA256 = "" }, []error{ErrTLS}, []string{"certificate"}},
		{"refused", func(a *Account) { a.IMAP.HostPort = refusedAddr }, []error{ErrRefused}, []string{"imap " + refusedAddr + " (tls): connect"}},
		{"unknown host", func(a *Account) { a.SMTP.HostPort = "nohost.invalid:465" }, []error{ErrDNS}, []string{"nohost.invalid"}},
		{"server never answers", func(a *Account) { a.IMAP.HostPort = silent.Addr().String() }, []error{ErrTimeout}, nil},
		{"plain to a TLS port", func(a *Account) { a.IMAP.Security = SecurityPlain }, []error{ErrTimeout}, []string{" (plain): "}},
		{"TLS to a plain port", func(a *Account) { a.SMTP.HostPort = plainSMTP }, []error{ErrTLS}, nil},
		{"plain not loopback", func(a *Account) {
			a.SMTP = Server{HostPort: "mail.example.org:25", Security: SecurityPlain}
		}, []error{ErrPlainNotLoopback}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := h.account()
			tt.modify(&a)
			d := 20 * time.Second
			if slices.Contains(tt.want, ErrTimeout) {
				d = 700 * time.Millisecond // what the timeout cases wait
			}
			err := Check(ctxT(t, d), a)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Check succeeded")
			}
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("Check = %v\nwant it to wrap %v", err, w)
				}
			}
			for _, s := range tt.text {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}
