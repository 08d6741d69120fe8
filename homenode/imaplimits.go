package homenode

import (
	"fmt"
	"strconv"
	"time"
)

// IMAPLimits is the [imap] section: what one client may hold of the IMAP
// listeners. Zero values take the defaults below.
type IMAPLimits struct {
	// MaxConnections is the most connections each IMAP listener holds at
	// once.
	MaxConnections int `toml:"max_connections"`
	// MaxConnectionsPerClient is the most of them from one client: one IPv4
	// address or one IPv6 /64.
	MaxConnectionsPerClient int `toml:"max_connections_per_client"`
	// LoginTimeout is how long a connection may stay without logging in.
	LoginTimeout time.Duration `toml:"login_timeout"`
}

// IMAP limit defaults. Things on the router itself all connect from
// 127.0.0.1 and each keeps one IDLE connection open, plus a short one now
// and then: 40 per client leaves room for a home of 30 appliances. An idle
// connection costs about 10-20 KiB (imapd's BenchmarkIdleConnections; more
// under TLS), so the 100 of a listener hold a few MiB.
const (
	DefaultIMAPMaxConnections          = 100
	DefaultIMAPMaxConnectionsPerClient = 40
	DefaultIMAPLoginTimeout            = 60 * time.Second
)

// maxLoginTimeout bounds login_timeout: longer only helps an attacker hold
// unauthenticated connections.
const maxLoginTimeout = 10 * time.Minute

// withDefaults fills in the zero values.
func (l IMAPLimits) withDefaults() IMAPLimits {
	if l.MaxConnections == 0 {
		l.MaxConnections = DefaultIMAPMaxConnections
	}
	if l.MaxConnectionsPerClient == 0 {
		l.MaxConnectionsPerClient = min(DefaultIMAPMaxConnectionsPerClient, l.MaxConnections)
	}
	if l.LoginTimeout == 0 {
		l.LoginTimeout = DefaultIMAPLoginTimeout
	}
	return l
}

// validateIMAPLimits fills in the defaults and checks the ranges.
func (c *Config) validateIMAPLimits() error {
	l := c.IMAP.withDefaults()
	switch {
	case l.MaxConnections < 0:
		return badKey("imap.max_connections", "must be positive")
	case l.MaxConnectionsPerClient < 0 || l.MaxConnectionsPerClient > l.MaxConnections:
		return badKey("imap.max_connections_per_client", "must be positive and at most max_connections (%d)", l.MaxConnections)
	case l.LoginTimeout < time.Second || l.LoginTimeout > maxLoginTimeout:
		return badKey("imap.login_timeout", "must be between 1s and %v", maxLoginTimeout)
	}
	c.IMAP = l
	return nil
}

// renderIMAPLimits is the [imap] section of the config file.
func renderIMAPLimits(l IMAPLimits) string {
	l = l.withDefaults()
	return fmt.Sprintf(configIMAPLimits, l.MaxConnections, l.MaxConnectionsPerClient, strconv.Quote(l.LoginTimeout.String()))
}

const configIMAPLimits = `
# [imap]: what one client may hold of each IMAP listener.
#   max_connections: connections held at once per listener; more are refused
#     ("* BYE Too many connections", or a closed socket on imaps).
#   max_connections_per_client: of those, from one IPv4 address or IPv6 /64
#     (on plain loopback listeners only the total applies).
#     Things on this machine all connect from 127.0.0.1, each keeping one IDLE
#     connection open and a short one now and then: the default 40 leaves room
#     for about 30 of them; raise it (and max_connections) for more.
#   login_timeout: a connection that has not logged in by then is closed,
#     whatever it sends meanwhile ("60s", "2m"; 1s to 10m). After login a
#     client is logged out after 35 minutes without a command (IDLE included).
# Fixed, not set here: a message sent with APPEND waits in the spool
# directory (the [spool] disk budget, shared with SMTP) and must
# arrive at 64 KiB/s or faster after 10 s (5 minutes at most), and so must a
# FETCHed message be read; messages in memory to be stored take at most the
# [spool] memory budget, and those being FETCHed 2 x max_message_size.
[imap]
max_connections = %d
max_connections_per_client = %d
login_timeout = %s
`
