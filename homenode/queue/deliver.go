package queue

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/thingpost/thingpost/homenode/mailstore"
)

// result is the outcome of one attempt for one recipient.
type result struct {
	rcpt    string
	err     error // nil: delivered
	perm    bool
	expired bool
	host    string
	tls     bool
}

// deliveryError is a failed attempt, with what a DSN reports about it.
type deliveryError struct {
	perm   bool
	status string // enhanced status code, e.g. "5.1.1"
	reply  string // the server's reply ("550 5.1.1 No such user"), if any
	msg    string
}

func (e *deliveryError) Error() string {
	if e.reply != "" {
		return e.msg + ": " + e.reply
	}
	return e.msg
}

func tempErr(status, format string, args ...any) *deliveryError {
	return &deliveryError{status: status, msg: fmt.Sprintf(format, args...)}
}

func permErr(status, format string, args ...any) *deliveryError {
	return &deliveryError{perm: true, status: status, msg: fmt.Sprintf(format, args...)}
}

// classify turns any error of an attempt into a deliveryError: server replies
// keep their code, everything else (network, TLS, timeouts) is temporary.
func classify(stage string, err error) *deliveryError {
	var de *deliveryError
	if errors.As(err, &de) {
		return de
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		class := se.Code / 100
		status := fmt.Sprintf("%d.0.0", class)
		if se.EnhancedCode != smtp.EnhancedCodeNotSet && se.EnhancedCode != smtp.NoEnhancedCode && se.EnhancedCode[0] == class {
			status = fmt.Sprintf("%d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
		}
		reply := fmt.Sprintf("%d %s %s", se.Code, status, strings.Join(strings.Fields(se.Message), " "))
		switch class {
		case 5:
			return &deliveryError{perm: true, status: status, reply: reply, msg: stage + " refused"}
		case 4:
			return &deliveryError{status: status, reply: reply, msg: stage + " deferred"}
		}
		return &deliveryError{status: "4.5.0", reply: reply, msg: stage + ": unexpected reply"}
	}
	return tempErr("4.4.2", "%s: %v", stage, err)
}

// dest is one server to try for a domain.
type dest struct {
	addr       string // host:port
	host       string // for TLS server name and logs
	implicit   bool   // TLS from the first byte
	noTLS      bool   // never STARTTLS (smarthost "none")
	allowPlain bool   // plain text allowed when STARTTLS is not offered
	tlsConfig  *tls.Config
	user, pass string
}

// route lists where mail for domain goes: StaticMX, else the smarthost,
// else the domain's MX hosts (or its address records when it has no MX).
func (q *Queue) route(ctx context.Context, domain string) ([]dest, error) {
	if addr, ok := q.opts.StaticMX[domain]; ok {
		host, _, _ := net.SplitHostPort(addr)
		return []dest{{addr: addr, host: host, allowPlain: true, tlsConfig: q.mxTLS(host)}}, nil
	}
	if sh := q.opts.Smarthost; sh != nil {
		host, _, err := net.SplitHostPort(sh.Addr)
		if err != nil {
			return nil, tempErr("4.3.5", "smarthost address %q: %v", sh.Addr, err)
		}
		d := dest{addr: sh.Addr, host: host, user: sh.User, pass: sh.Pass}
		switch sh.TLS {
		case StartTLS, "":
		case ImplicitTLS:
			d.implicit = true
		case NoTLS:
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return nil, tempErr("4.3.5", "smarthost %s: plain text is only allowed to a loopback address", sh.Addr)
			}
			d.noTLS, d.allowPlain = true, true
		default:
			return nil, tempErr("4.3.5", "smarthost TLS mode %q unknown", sh.TLS)
		}
		d.tlsConfig = &tls.Config{}
		if sh.TLSConfig != nil {
			d.tlsConfig = sh.TLSConfig.Clone()
		}
		if d.tlsConfig.ServerName == "" {
			d.tlsConfig.ServerName = host
		}
		return []dest{d}, nil
	}
	// A trailing dot keeps the resolver's search domains out of it.
	mxs, err := q.opts.Resolver.LookupMX(ctx, domain+".")
	var dnsErr *net.DNSError
	switch {
	case err == nil && len(mxs) == 1 && mxs[0].Host == ".":
		return nil, permErr("5.1.10", "domain %s accepts no mail (null MX)", domain)
	case err == nil && len(mxs) > 0:
		var out []dest
		for _, mx := range mxs {
			host := strings.TrimSuffix(mx.Host, ".")
			out = append(out, dest{addr: net.JoinHostPort(host, "25"), host: host, tlsConfig: q.mxTLS(host)})
		}
		return out, nil
	case err != nil && !(errors.As(err, &dnsErr) && dnsErr.IsNotFound):
		return nil, tempErr("4.4.3", "MX lookup for %s: %v", domain, err)
	}
	// No MX: RFC 5321 section 5.1 falls back to the domain's own address.
	if _, err := q.opts.Resolver.LookupHost(ctx, domain+"."); err != nil {
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return nil, permErr("5.1.2", "domain %s does not exist", domain)
		}
		return nil, tempErr("4.4.3", "address lookup for %s: %v", domain, err)
	}
	return []dest{{addr: net.JoinHostPort(domain, "25"), host: domain, tlsConfig: q.mxTLS(domain)}}, nil
}

func (q *Queue) mxTLS(host string) *tls.Config {
	if q.opts.TLSConfig != nil {
		c := q.opts.TLSConfig.Clone()
		if c.ServerName == "" {
			c.ServerName = host
		}
		return c
	}
	// Opportunistic TLS: encrypt, but do not insist on a certificate that
	// names the MX (RFC 7435); refusing would only push mail to plain text.
	return &tls.Config{ServerName: host, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}
}

// deliverDomain tries the destinations for one domain in order until one
// gives answers for the recipients.
func (q *Queue) deliverDomain(ctx context.Context, it mailstore.QueueItem, domain string, rcpts []string, msg []byte) []result {
	fail := func(err error, host string) []result {
		de := classify("delivery", err)
		out := make([]result, len(rcpts))
		for i, r := range rcpts {
			out[i] = result{rcpt: r, err: de, perm: de.perm, host: host}
			q.logResult(it, out[i])
		}
		return out
	}
	dests, err := q.route(ctx, domain)
	if err != nil {
		return fail(err, "")
	}
	var lastErr error
	var lastHost string
	for _, d := range dests {
		res, err := q.attempt(ctx, d, it.From, rcpts, msg)
		if err != nil {
			lastErr, lastHost = err, d.host
			q.log.Info("host failed", "id", it.ID, "host", d.addr, "err", err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		for _, r := range res {
			q.logResult(it, r)
		}
		return res
	}
	return fail(lastErr, lastHost)
}

// attempt runs one SMTP transaction with one server. A non-nil error means
// the server gave no usable answer (connection, TLS, greeting, EHLO, AUTH):
// the next destination may be tried. Otherwise each recipient has a result.
func (q *Queue) attempt(ctx context.Context, d dest, from string, rcpts []string, msg []byte) ([]result, error) {
	dialer := net.Dialer{Timeout: q.opts.DialTimeout, Resolver: q.opts.Resolver}
	conn, err := dialer.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, tempErr("4.4.1", "connect to %s: %v", d.addr, err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	loopback := isLoopback(conn.RemoteAddr())

	c, tlsOn, err := q.secure(ctx, d, conn, loopback)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := q.hello(c, d, tlsOn, loopback); err != nil {
		return nil, err
	}
	return transfer(c, d.host, tlsOn, from, rcpts, msg), nil
}

// secure starts TLS on conn as d asks (implicit, STARTTLS when offered, or
// none) and returns the SMTP client over it and whether TLS is on.
func (q *Queue) secure(ctx context.Context, d dest, conn net.Conn, loopback bool) (*smtp.Client, bool, error) {
	switch {
	case d.implicit:
		tc := tls.Client(conn, d.tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, false, tempErr("4.7.5", "TLS with %s: %v", d.addr, err)
		}
		return smtp.NewClient(tc), true, nil
	case d.noTLS:
		return smtp.NewClient(conn), false, nil
	}
	// STARTTLS is negotiated here because go-smtp's client can only
	// STARTTLS unconditionally and after an "EHLO localhost".
	startTLS, err := q.ehlo(conn)
	if err != nil {
		return nil, false, classify("greeting", err)
	}
	tlsOn := false
	var c0 net.Conn = conn
	if startTLS {
		tc := tls.Client(conn, d.tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, false, tempErr("4.7.5", "TLS with %s: %v", d.addr, err)
		}
		tlsOn, c0 = true, tc
	} else if !d.allowPlain && !loopback {
		return nil, false, tempErr("4.7.10", "%s offers no STARTTLS; mail is not sent in plain text", d.addr)
	}
	// The greeting was read above; go-smtp's client wants one.
	return smtp.NewClient(&greetedConn{Conn: c0, greeting: []byte("220 " + d.host + "\r\n")}), tlsOn, nil
}

// hello sends EHLO and, to a smarthost, logs in; the password only over TLS
// or loopback.
func (q *Queue) hello(c *smtp.Client, d dest, tlsOn, loopback bool) error {
	if err := c.Hello(q.opts.Hostname); err != nil {
		return classify("EHLO", err)
	}
	if d.user == "" {
		return nil
	}
	if !tlsOn && !loopback {
		return tempErr("4.7.10", "refusing to send the smarthost password to %s without TLS", d.addr)
	}
	if err := c.Auth(sasl.NewPlainClient("", d.user, d.pass)); err != nil {
		return tempErr("4.7.8", "AUTH at %s: %v", d.addr, err)
	}
	return nil
}

// transfer sends the message to rcpts and returns each recipient's outcome.
func transfer(c *smtp.Client, host string, tlsOn bool, from string, rcpts []string, msg []byte) []result {
	out := make([]result, len(rcpts))
	for i, r := range rcpts {
		out[i] = result{rcpt: r, host: host, tls: tlsOn}
	}
	setAll := func(err *deliveryError, only func(result) bool) []result {
		for i := range out {
			if only == nil || only(out[i]) {
				out[i].err, out[i].perm = err, err.perm
			}
		}
		return out
	}
	if err := c.Mail(from, &smtp.MailOptions{Size: int64(len(msg))}); err != nil {
		return setAll(classify("MAIL FROM", err), nil)
	}
	accepted := 0
	for i, r := range rcpts {
		if err := c.Rcpt(r, nil); err != nil {
			de := classify("RCPT TO", err)
			out[i].err, out[i].perm = de, de.perm
			continue
		}
		accepted++
	}
	if accepted == 0 {
		c.Quit()
		return out
	}
	notFailed := func(r result) bool { return r.err == nil }
	w, err := c.Data()
	if err != nil {
		return setAll(classify("DATA", err), notFailed)
	}
	if _, err := w.Write(msg); err != nil {
		w.Close()
		return setAll(classify("DATA", err), notFailed)
	}
	if err := w.Close(); err != nil {
		return setAll(classify("message", err), notFailed)
	}
	c.Quit()
	return out
}

// ehlo reads the greeting, says EHLO and, when the server offers STARTTLS,
// starts it; it reports whether TLS should now be started.
func (q *Queue) ehlo(conn net.Conn) (bool, error) {
	conn.SetDeadline(time.Now().Add(5 * time.Minute))
	defer conn.SetDeadline(time.Time{})
	tp := textproto.NewConn(conn)
	if _, _, err := tp.ReadResponse(220); err != nil {
		return false, toSMTP(err)
	}
	if _, err := tp.Cmd("EHLO %s", q.opts.Hostname); err != nil {
		return false, err
	}
	_, msg, err := tp.ReadResponse(250)
	if err != nil {
		return false, toSMTP(err)
	}
	offered := false
	for _, line := range strings.Split(msg, "\n")[1:] {
		if strings.EqualFold(strings.TrimSpace(line), "STARTTLS") {
			offered = true
		}
	}
	if offered {
		if _, err := tp.Cmd("STARTTLS"); err != nil {
			return false, err
		}
		if _, _, err := tp.ReadResponse(220); err != nil {
			return false, toSMTP(err)
		}
	}
	if tp.R.Buffered() > 0 {
		return false, errors.New("server sent data out of turn")
	}
	return offered, nil
}

func toSMTP(err error) error {
	var pe *textproto.Error
	if errors.As(err, &pe) {
		se := &smtp.SMTPError{Code: pe.Code, Message: pe.Msg}
		if code, rest, ok := strings.Cut(pe.Msg, " "); ok {
			var e smtp.EnhancedCode
			if n, _ := fmt.Sscanf(code, "%d.%d.%d", &e[0], &e[1], &e[2]); n == 3 {
				se.EnhancedCode, se.Message = e, rest
			}
		}
		return se
	}
	return err
}

// greetedConn replays a greeting before the connection's own bytes.
type greetedConn struct {
	net.Conn
	greeting []byte
}

func (g *greetedConn) Read(b []byte) (int, error) {
	if len(g.greeting) > 0 {
		n := copy(b, g.greeting)
		g.greeting = g.greeting[n:]
		return n, nil
	}
	return g.Conn.Read(b)
}

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}
