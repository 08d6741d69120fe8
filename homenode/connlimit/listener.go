package connlimit

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Limits are the caps of one listener.
type Limits struct {
	// Total is the most connections held at once; it must be > 0.
	Total int
	// PerClient is the most connections held at once from one client: one
	// IPv4 address, or one IPv6 /64 (what one customer usually gets). It
	// must be > 0 and at most Total.
	PerClient int
	// Refusal is written to a refused connection before it is closed, for
	// example "421 4.7.0 Too many connections, try again later\r\n" on SMTP.
	// Leave it empty on a listener whose clients speak TLS first.
	Refusal string
}

func (l Limits) validate() error {
	if l.Total <= 0 || l.PerClient <= 0 || l.PerClient > l.Total {
		return fmt.Errorf("connlimit: need 0 < per-client cap (%d) <= total cap (%d)", l.PerClient, l.Total)
	}
	return nil
}

// refusalDeadline bounds the write of the refusal line: it lands in a fresh
// socket's send buffer at once, and a client that does not read it must not
// hold up Accept.
const refusalDeadline = 50 * time.Millisecond

// Listener is a net.Listener that enforces Limits. Each accepted connection
// holds its slots until it is closed.
type Listener struct {
	net.Listener
	limits Limits
	log    *slog.Logger

	mu      sync.Mutex
	total   int
	clients map[netip.Prefix]int
}

// Listen wraps ln. A nil log discards.
func Listen(ln net.Listener, l Limits, log *slog.Logger) (*Listener, error) {
	if err := l.validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Listener{Listener: ln, limits: l, log: log, clients: make(map[netip.Prefix]int)}, nil
}

// Accept returns the next connection within the limits; connections over
// them are answered with the refusal line and closed meanwhile.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key := ClientKey(c.RemoteAddr())
		if why := l.take(key); why != nil {
			l.log.Warn("connection refused", "client", c.RemoteAddr().String(), "reason", why)
			l.refuse(c)
			continue
		}
		return &conn{Conn: c, release: sync.OnceFunc(func() { l.give(key) })}, nil
	}
}

// Errors for the log; a refused client only sees the refusal line.
var (
	errTotal  = errors.New("too many connections")
	errClient = errors.New("too many connections from this client")
)

func (l *Listener) take(key netip.Prefix) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.total >= l.limits.Total:
		return errTotal
	case l.clients[key] >= l.limits.PerClient:
		return errClient
	}
	l.total++
	l.clients[key]++
	return nil
}

func (l *Listener) give(key netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.clients[key]--; l.clients[key] <= 0 {
		delete(l.clients, key)
	}
}

// Open reports the connections held now, in total and from addr's client.
func (l *Listener) Open(addr net.Addr) (total, client int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total, l.clients[ClientKey(addr)]
}

func (l *Listener) refuse(c net.Conn) {
	if l.limits.Refusal != "" {
		_ = c.SetWriteDeadline(time.Now().Add(refusalDeadline))
		_, _ = c.Write([]byte(l.limits.Refusal))
	}
	_ = c.Close()
}

// ClientKey is the client a connection from a is counted under: its IPv4
// address or IPv6 /64, for other per-client limits (rate limits) to match.
// Addresses that are not IP (a Unix socket) share one key.
func ClientKey(a net.Addr) netip.Prefix {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.Prefix{}
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	if !ok {
		return netip.Prefix{}
	}
	ip = ip.Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
}

// conn gives its slots back on the first Close.
type conn struct {
	net.Conn
	release func()
}

func (c *conn) Close() error {
	c.release()
	return c.Conn.Close()
}
