package smtpd

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/thingpost/thingpost/homenode/connlimit"
	"github.com/thingpost/thingpost/homenode/ratelimit"
)

// timeouts bound how long one connection holds a slot. go-smtp sets the
// read deadline before every command; the connection clamps it to the
// idle and lifetime limits, so that commands which get nothing done (NOOP,
// RSET, EHLO, a MAIL that is never finished) cannot keep it open.
type timeouts struct {
	// command is the wait for one command line (RFC 5321 4.5.3.2.7).
	command time.Duration
	// idle is the most time since the connection opened or since its
	// last accepted message; a DATA transfer has its own deadline.
	idle time.Duration
	// lifetime is the most time a connection lasts, transfers included.
	lifetime time.Duration
	// A DATA transfer may take dataBase plus one second per dataRate
	// bytes received: a stalled transfer ends after dataBase, a legitimate
	// one of the largest size on a slow link in well under lifetime.
	dataBase time.Duration
	dataRate int64
}

func defaultTimeouts() timeouts {
	return timeouts{
		command:  5 * time.Minute,
		idle:     5 * time.Minute,
		lifetime: time.Hour,
		dataBase: time.Minute,
		dataRate: 32 << 10, // 256 kbit/s: 32 MiB in 17 minutes
	}
}

// limitedListener hands out limitedConns. For implicit TLS it sits below
// the TLS listener, so that go-smtp still sees a *tls.Conn.
type limitedListener struct {
	net.Listener
	t *timeouts
}

func (l limitedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	return &limitedConn{Conn: c, t: l.t, end: now.Add(l.t.lifetime), progress: now}, nil
}

// limitedConn clamps read deadlines to its idle and lifetime limits.
type limitedConn struct {
	net.Conn
	t   *timeouts
	end time.Time // end of the lifetime

	mu       sync.Mutex
	progress time.Time // opened, or the last message accepted
}

// SetReadDeadline is what go-smtp calls before each command.
func (c *limitedConn) SetReadDeadline(d time.Time) error {
	c.mu.Lock()
	limit := c.progress.Add(c.t.idle)
	c.mu.Unlock()
	if c.end.Before(limit) {
		limit = c.end
	}
	if d.IsZero() || d.After(limit) {
		d = limit
	}
	return c.Conn.SetReadDeadline(d)
}

func (c *limitedConn) SetDeadline(d time.Time) error {
	if err := c.Conn.SetWriteDeadline(d); err != nil {
		return err
	}
	return c.SetReadDeadline(d)
}

// made marks progress: a message was accepted.
func (c *limitedConn) made() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.progress = time.Now()
	c.mu.Unlock()
}

// expire makes the next command wait end at once, so that go-smtp closes
// the connection (after a transfer that timed out).
func (c *limitedConn) expire() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.progress = time.Time{}
	c.mu.Unlock()
}

// transfer returns r with the DATA transfer deadline in force: it moves
// on with every byte received, up to the lifetime.
func (c *limitedConn) transfer(r io.Reader) io.Reader {
	if c == nil {
		return r
	}
	tr := &transferReader{r: r, c: c, start: time.Now()}
	tr.setDeadline()
	return tr
}

type transferReader struct {
	r     io.Reader
	c     *limitedConn
	start time.Time
	n     int64
}

func (tr *transferReader) Read(p []byte) (int, error) {
	n, err := tr.r.Read(p)
	tr.n += int64(n)
	if n > 0 {
		tr.setDeadline()
	}
	return n, err
}

func (tr *transferReader) setDeadline() {
	t := tr.c.t
	d := tr.start.Add(t.dataBase + time.Duration(tr.n)*time.Second/time.Duration(t.dataRate))
	if d.After(tr.c.end) {
		d = tr.c.end
	}
	_ = tr.c.Conn.SetReadDeadline(d)
}

// limitsOf finds the limitedConn under a connection go-smtp serves (below
// TLS after STARTTLS or with implicit TLS); nil if there is none.
func limitsOf(c net.Conn) *limitedConn {
	for {
		switch cc := c.(type) {
		case *limitedConn:
			return cc
		case *tls.Conn:
			c = cc.NetConn()
		default:
			return nil
		}
	}
}

// RateLimits cap the mail the MX takes, counted per recipient at RCPT.
// Zero fields take the defaults.
type RateLimits struct {
	// PerClient is one client's budget (IPv4 address or IPv6 /64).
	PerClient ratelimit.Rate
	// PerSender is one envelope sender's budget at one client. It is
	// keyed by client and sender together: MAIL FROM is not
	// authenticated, so a flood in someone's name from one place must not
	// use up that person's budget at the places they really send from.
	PerSender ratelimit.Rate
	// Keys caps the clients and the client+sender pairs remembered each.
	Keys int
}

// Defaults for zero RateLimits fields: a household's MX takes some hundred
// messages an hour from one provider's address; a flood (the review's 300
// in 6 s) gets a burst in and then 451s, which a real MTA retries.
// DefaultRateKeys bounds the memory of each limiter (about 100 bytes a key).
const (
	DefaultClientPerHour = 600
	DefaultClientBurst   = 100
	DefaultSenderPerHour = 300
	DefaultSenderBurst   = 50
	DefaultRateKeys      = 4096
)

type rateLimiter struct{ client, sender *ratelimit.Limiter }

func newRateLimiter(r RateLimits) (*rateLimiter, error) {
	if r.PerClient == (ratelimit.Rate{}) {
		r.PerClient = ratelimit.Rate{PerHour: DefaultClientPerHour, Burst: DefaultClientBurst}
	}
	if r.PerSender == (ratelimit.Rate{}) {
		r.PerSender = ratelimit.Rate{PerHour: DefaultSenderPerHour, Burst: DefaultSenderBurst}
	}
	if r.Keys <= 0 {
		r.Keys = DefaultRateKeys
	}
	client, err := ratelimit.New(r.PerClient, r.Keys, nil)
	if err != nil {
		return nil, fmt.Errorf("per-client rate: %w", err)
	}
	sender, err := ratelimit.New(r.PerSender, r.Keys, nil)
	if err != nil {
		return nil, fmt.Errorf("per-sender rate: %w", err)
	}
	return &rateLimiter{client: client, sender: sender}, nil
}

// allow charges one recipient to the client and then to the sender at the
// client; it returns why it refuses, or "".
func (rl *rateLimiter) allow(remote net.Addr, from string) string {
	client := connlimit.ClientKey(remote).String()
	if !rl.client.Allow(client) {
		return "client rate limit"
	}
	if !rl.sender.Allow(client + " " + strings.ToLower(from)) {
		return "sender rate limit"
	}
	return ""
}
