package queue

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/thingpost/thingpost/internal/testutil"

	"github.com/thingpost/thingpost/homenode/accounts"
	"github.com/thingpost/thingpost/homenode/smtpd"
)

// implicitTLS serves with ServeTLS (testutil.Serve calls Serve).
type implicitTLS struct{ *smtpd.Server }

func (s implicitTLS) Serve(l net.Listener) error { return s.ServeTLS(l) }

func TestSmarthost(t *testing.T) {
	cert := testutil.SelfSignedTLS(t)
	tlsCfg, pool := cert.ServerConfig(), cert.Pool()
	for _, tc := range []struct {
		name     string
		mode     TLSMode
		implicit bool
		pass     string
		wantSent bool
	}{
		{"starttls", StartTLS, false, "pw-alice@home.test", true},
		{"default mode is starttls", "", false, "pw-alice@home.test", true},
		{"implicit", ImplicitTLS, true, "pw-alice@home.test", true},
		{"wrong password", StartTLS, false, "wrong", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := newStore(t, "alice@home.test")
			// The provider: a real submission server with an account for alice.
			provider := newStore(t, "alice@home.test", "dave@remote.test")
			sub := smtpd.NewSubmission(provider, accounts.NewAuthenticator(provider, slog.New(slog.DiscardHandler)), smtpd.SubmissionOptions{
				Hostname: "smtp.provider.test", Domains: []string{"remote.test"}, TLSConfig: tlsCfg, Queue: provider, Logger: slog.New(slog.DiscardHandler),
			})
			var served testutil.Server = sub
			if tc.implicit {
				served = implicitTLS{sub}
			}
			addr := testutil.Serve(t, served, nil)
			q := New(home, Options{
				Hostname:  "mail.home.test",
				Smarthost: &Smarthost{Addr: addr, User: "alice@home.test", Pass: tc.pass, TLS: tc.mode, TLSConfig: &tls.Config{RootCAs: pool}},
				Logger:    slog.New(slog.DiscardHandler),
			})
			run(t, q)
			if _, err := q.Enqueue(context.Background(), "alice@home.test", []string{"dave@remote.test"}, msgText("alice@home.test", "dave@remote.test", "smarthost")); err != nil {
				t.Fatal(err)
			}
			if tc.wantSent {
				waitFor(t, "delivery through the smarthost", func() bool {
					return len(testutil.Inbox(t, provider, "dave@remote.test")) == 1 && queueLen(t, home) == 0
				})
				if rcv := header(testutil.Inbox(t, provider, "dave@remote.test")[0], "Received"); !strings.Contains(rcv, "ESMTPSA") {
					t.Errorf("not authenticated over TLS: Received: %s", rcv)
				}
				return
			}
			waitFor(t, "the failed attempt", func() bool { return queued(t, home).Attempts == 1 })
			if it := queued(t, home); !strings.Contains(it.LastError, "AUTH") {
				t.Errorf("LastError %q, want the AUTH failure", it.LastError)
			}
			if got := testutil.Inbox(t, home, "alice@home.test"); len(got) != 0 {
				t.Error("a smarthost login failure bounced at once; it is a temporary (configuration) failure")
			}
		})
	}
}

func TestSmarthostCertificateChecked(t *testing.T) {
	tlsCfg := testutil.SelfSignedTLS(t).ServerConfig()
	home := newStore(t, "alice@home.test")
	provider := newStore(t, "alice@home.test", "dave@remote.test")
	sub := smtpd.NewSubmission(provider, accounts.NewAuthenticator(provider, nil), smtpd.SubmissionOptions{Domains: []string{"remote.test"}, TLSConfig: tlsCfg, Logger: slog.New(slog.DiscardHandler)})
	addr := testutil.Serve(t, sub, nil)
	// No RootCAs: the self-signed certificate must be refused, and the
	// password never sent.
	q := New(home, Options{Smarthost: &Smarthost{Addr: addr, User: "alice@home.test", Pass: "pw-alice@home.test"}, Logger: slog.New(slog.DiscardHandler)})
	run(t, q)
	q.Enqueue(context.Background(), "alice@home.test", []string{"dave@remote.test"}, msgText("alice@home.test", "dave@remote.test", "cert"))
	waitFor(t, "the failed attempt", func() bool { return queued(t, home).Attempts == 1 })
	if it := queued(t, home); !strings.Contains(it.LastError, "certificate") {
		t.Errorf("LastError %q, want a certificate error", it.LastError)
	}
}

func TestRoute(t *testing.T) {
	for _, tc := range []struct {
		name string
		sh   *Smarthost
		err  string
	}{
		{"plain to a remote smarthost", &Smarthost{Addr: "192.0.2.1:25", TLS: NoTLS}, "only allowed to a loopback"},
		{"plain to a loopback smarthost", &Smarthost{Addr: "127.0.0.1:2525", TLS: NoTLS}, ""},
		{"unknown mode", &Smarthost{Addr: "smtp.example:587", TLS: "tls"}, "unknown"},
		{"bad address", &Smarthost{Addr: "smtp.example"}, "smarthost address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := New(nil, Options{Smarthost: tc.sh})
			dests, err := q.route(context.Background(), "remote.example")
			if tc.err == "" {
				if err != nil || len(dests) != 1 || !dests[0].noTLS {
					t.Fatalf("route = %+v, %v", dests, err)
				}
				return
			}
			var de *deliveryError
			if !errors.As(err, &de) || de.perm || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("route error %v, want a temporary %q", err, tc.err)
			}
		})
	}
	q := New(nil, Options{StaticMX: map[string]string{"Remote.Example.": "127.0.0.1:2525"}, Smarthost: &Smarthost{Addr: "127.0.0.1:1"}})
	if dests, err := q.route(context.Background(), "remote.example"); err != nil || len(dests) != 1 || dests[0].addr != "127.0.0.1:2525" || !dests[0].allowPlain {
		t.Fatalf("StaticMX route = %+v, %v; want it to win over the smarthost", dests, err)
	}
}

func TestGroupByDomain(t *testing.T) {
	got := groupByDomain([]string{"a@X.test", "b@y.test", "c@x.test.", "D@x.TEST"})
	if len(got) != 2 || got[0].domain != "x.test" || strings.Join(got[0].rcpts, ",") != "a@X.test,c@x.test.,D@x.TEST" || got[1].domain != "y.test" {
		t.Fatalf("groups %+v", got)
	}
}

// nonLoopbackIP returns an address of this machine that is not loopback.
func nonLoopbackIP(t *testing.T) net.IP {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Skipf("no interface addresses: %v", err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
			return ipn.IP
		}
	}
	t.Skip("this machine has no non-loopback IPv4 address to test plain-text refusal on")
	return nil
}

// TestNoPlaintextOffLoopback: an MX host that offers no STARTTLS gets no
// mail unless it is a StaticMX host or on loopback.
func TestNoPlaintextOffLoopback(t *testing.T) {
	ip := nonLoopbackIP(t)
	tlsCfg := testutil.SelfSignedTLS(t).ServerConfig()
	for _, tc := range []struct {
		name       string
		tls        bool
		allowPlain bool
		wantErr    string
	}{
		{"no STARTTLS", false, false, "offers no STARTTLS"},
		{"no STARTTLS, static MX", false, true, ""},
		{"STARTTLS", true, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t, "dave@remote.test")
			var cfg *tls.Config
			if tc.tls {
				cfg = tlsCfg
			}
			srv := smtpd.NewMX(st, smtpd.MXOptions{Domains: []string{"remote.test"}, TLSConfig: cfg, Logger: slog.New(slog.DiscardHandler)})
			l, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
			if err != nil {
				t.Skipf("cannot listen on %s: %v", ip, err)
			}
			go srv.Serve(l)
			defer srv.Close()
			q := New(nil, Options{Hostname: "mail.home.test", Logger: slog.New(slog.DiscardHandler)})
			host := ip.String()
			d := dest{addr: l.Addr().String(), host: host, allowPlain: tc.allowPlain, tlsConfig: q.mxTLS(host)}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res, err := q.attempt(ctx, d, "alice@home.test", []string{"dave@remote.test"}, msgText("alice@home.test", "dave@remote.test", "plain"))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("attempt: %v, want %q", err, tc.wantErr)
				}
				if n := len(testutil.Inbox(t, st, "dave@remote.test")); n != 0 {
					t.Fatal("mail went out in plain text")
				}
				return
			}
			if err != nil || len(res) != 1 || res[0].err != nil || res[0].tls != tc.tls {
				t.Fatalf("attempt: %+v, %v", res, err)
			}
		})
	}
}
