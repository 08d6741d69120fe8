package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

const (
	// defaultConnectTimeout bounds connect + TLS + greeting + login when the
	// caller's context has no earlier deadline.
	defaultConnectTimeout = 30 * time.Second
	// smtpCommandTimeout and smtpDataTimeout bound single SMTP replies.
	smtpCommandTimeout = time.Minute
	smtpDataTimeout    = 5 * time.Minute
)

// keepAlive makes the kernel probe an idle connection so that a peer that
// vanished (router reboot, NAT timeout) is noticed even without traffic.
var keepAlive = net.KeepAliveConfig{Enable: true, Idle: time.Minute, Interval: 15 * time.Second, Count: 4}

func dialTCP(ctx context.Context, hostport string) (net.Conn, error) {
	d := net.Dialer{KeepAliveConfig: keepAlive}
	return d.DialContext(ctx, "tcp", hostport)
}

// ctxErr prefers the context's error over the "use of closed connection"
// that closing the socket on cancellation produces.
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%w (%w)", cerr, err)
	}
	return err
}

// connectIMAP dials, secures and logs in. It also returns the raw TCP
// connection, which the caller may close to abort any pending command.
func connectIMAP(ctx context.Context, a *Account, opts *imapclient.Options) (*imapclient.Client, net.Conn, error) {
	srv := &a.IMAP
	if err := srv.validate(); err != nil {
		return nil, nil, err
	}
	host, _, _ := net.SplitHostPort(srv.HostPort)
	where := srv.where("imap")
	conn, err := dialTCP(ctx, srv.HostPort)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: connect: %w", where, classify(err))
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	var c *imapclient.Client
	fail := func(step string, err error) (*imapclient.Client, net.Conn, error) {
		if c != nil {
			c.Close()
		}
		conn.Close()
		return nil, nil, fmt.Errorf("%s: %s: %w", where, step, classify(ctxErr(ctx, err)))
	}

	switch srv.security() {
	case SecurityPlain:
		if err := checkPlainPeer(conn); err != nil {
			return fail("connect", err)
		}
		c = imapclient.New(conn, opts)
	case SecurityTLS:
		cfg, err := a.tlsConfig(host)
		if err != nil {
			return fail("tls", err)
		}
		cfg.NextProtos = []string{"imap"}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail("tls", err)
		}
		c = imapclient.New(tc, opts)
	case SecuritySTARTTLS:
		cfg, err := a.tlsConfig(host)
		if err != nil {
			return fail("starttls", err)
		}
		o := *opts
		o.TLSConfig = cfg
		if c, err = imapclient.NewStartTLS(conn, &o); err != nil {
			return fail("starttls", err)
		}
	}
	if err := c.WaitGreeting(); err != nil {
		return fail("greeting", err)
	}

	user, pw := a.user(srv), a.password(srv)
	if c.Caps().Has(imap.CapLoginDisabled) {
		err = c.Authenticate(sasl.NewPlainClient("", user, pw))
	} else {
		err = c.Login(user, pw).Wait()
	}
	if err != nil {
		var ie *imap.Error
		if errors.As(err, &ie) && ie.Type == imap.StatusResponseTypeNo && ie.Code != imap.ResponseCodeUnavailable {
			err = fmt.Errorf("%w as %q: %w", ErrAuth, user, err)
		}
		return fail("login", err)
	}
	return c, conn, nil
}

// connectSMTP dials, secures, greets and authenticates.
func connectSMTP(ctx context.Context, a *Account) (*smtp.Client, net.Conn, error) {
	srv := &a.SMTP
	if err := srv.validate(); err != nil {
		return nil, nil, err
	}
	host, _, _ := net.SplitHostPort(srv.HostPort)
	where := srv.where("smtp")
	conn, err := dialTCP(ctx, srv.HostPort)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: connect: %w", where, classify(err))
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	var c *smtp.Client
	fail := func(step string, err error) (*smtp.Client, net.Conn, error) {
		conn.Close()
		return nil, nil, fmt.Errorf("%s: %s: %w", where, step, classify(ctxErr(ctx, err)))
	}

	switch srv.security() {
	case SecurityPlain:
		if err := checkPlainPeer(conn); err != nil {
			return fail("connect", err)
		}
		c = smtp.NewClient(conn)
	case SecurityTLS:
		cfg, err := a.tlsConfig(host)
		if err != nil {
			return fail("tls", err)
		}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail("tls", err)
		}
		c = smtp.NewClient(tc)
	case SecuritySTARTTLS:
		cfg, err := a.tlsConfig(host)
		if err != nil {
			return fail("starttls", err)
		}
		// go-smtp shakes hands lazily: Hello below surfaces TLS errors.
		if c, err = smtp.NewClientStartTLS(conn, cfg); err != nil {
			return fail("starttls", err)
		}
	}
	c.CommandTimeout = smtpCommandTimeout
	c.SubmissionTimeout = smtpDataTimeout
	if err := c.Hello("localhost"); err != nil {
		return fail("hello", err)
	}

	user, pw := a.user(srv), a.password(srv)
	var mech sasl.Client
	switch {
	case c.SupportsAuth(sasl.Plain):
		mech = sasl.NewPlainClient("", user, pw)
	case c.SupportsAuth(sasl.Login):
		mech = sasl.NewLoginClient(user, pw)
	default:
		return fail("auth", fmt.Errorf("%w: server offers neither AUTH PLAIN nor AUTH LOGIN", ErrAuth))
	}
	if err := c.Auth(mech); err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			if se.Temporary() {
				err = fmt.Errorf("%w: %w", ErrTemporary, err)
			} else {
				err = fmt.Errorf("%w as %q: %w", ErrAuth, user, err)
			}
		}
		return fail("auth", err)
	}
	return c, conn, nil
}
