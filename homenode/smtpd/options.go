package smtpd

import (
	"crypto/tls"
	"log/slog"

	"github.com/thingpost/thingpost/homenode/spool"
)

// MXOptions configure the inbound MX role.
type MXOptions struct {
	// Hostname is the server's own name (greeting, Received); default the
	// first domain.
	Hostname string
	// Domains are the mail domains this node is the final destination for.
	Domains []string
	// MaxSize is the message size limit in bytes (default DefaultMaxSize).
	MaxSize int64
	// MaxRecipients per message (default DefaultMaxRecipients).
	MaxRecipients int
	// TLSConfig, when set, offers STARTTLS to sending servers.
	TLSConfig *tls.Config
	// Spool holds message bodies while they are received; nil gives the
	// server a spool of its own in the system's temporary directory with
	// DefaultSpoolDisk and DefaultSpoolMemory.
	Spool *spool.Spool
	// Rate limits the mail one client and one sender at one client send.
	Rate RateLimits
	// LookupTXT finds DKIM keys (nil: DNS).
	LookupTXT func(domain string) ([]string, error)
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// SubmissionOptions configure the submission role.
type SubmissionOptions struct {
	Hostname      string
	Domains       []string
	MaxSize       int64
	MaxRecipients int
	// TLSConfig offers STARTTLS; for implicit TLS the caller wraps the
	// listener with tls.NewListener.
	TLSConfig *tls.Config
	// AllowInsecureAuth permits AUTH without TLS. Serve then refuses any
	// listener that is not on a loopback address.
	AllowInsecureAuth bool
	// Queue takes mail for other domains; nil refuses such recipients.
	Queue Enqueuer
	// Spool as in MXOptions.
	Spool  *spool.Spool
	Logger *slog.Logger
}

// NewMX returns the inbound MX server. Bad rate limits or a spool that
// cannot be made are reported by Serve.
func NewMX(store Store, opts MXOptions) *Server {
	s := newServer(store, "mx", common{
		hostname: opts.Hostname, domains: opts.Domains, maxSize: opts.MaxSize,
		maxRecipients: opts.MaxRecipients, spool: opts.Spool,
		tlsConfig: opts.TLSConfig, log: opts.Logger,
	})
	var err error
	if s.rate, err = newRateLimiter(opts.Rate); err != nil && s.initErr == nil {
		s.initErr = err
	}
	s.lookupTXT = opts.LookupTXT
	return s
}

// NewSubmission returns the submission server.
func NewSubmission(store Store, auth Authenticator, opts SubmissionOptions) *Server {
	s := newServer(store, "submission", common{
		hostname: opts.Hostname, domains: opts.Domains, maxSize: opts.MaxSize,
		maxRecipients: opts.MaxRecipients, spool: opts.Spool,
		tlsConfig: opts.TLSConfig, log: opts.Logger,
	})
	s.submission = true
	s.auth = auth
	s.queue = opts.Queue
	s.srv.AllowInsecureAuth = opts.AllowInsecureAuth
	return s
}
