package smtpd

import (
	"crypto/tls"
	"log/slog"
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
	// MaxConnections at once (default DefaultMaxConnections).
	MaxConnections int
	// TLSConfig, when set, offers STARTTLS to sending servers.
	TLSConfig *tls.Config
	// LookupTXT finds DKIM keys (nil: DNS).
	LookupTXT func(domain string) ([]string, error)
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// SubmissionOptions configure the submission role.
type SubmissionOptions struct {
	Hostname       string
	Domains        []string
	MaxSize        int64
	MaxRecipients  int
	MaxConnections int
	// TLSConfig offers STARTTLS; for implicit TLS the caller wraps the
	// listener with tls.NewListener.
	TLSConfig *tls.Config
	// AllowInsecureAuth permits AUTH without TLS. Serve then refuses any
	// listener that is not on a loopback address.
	AllowInsecureAuth bool
	// Queue takes mail for other domains; nil refuses such recipients.
	Queue  Enqueuer
	Logger *slog.Logger
}

// NewMX returns the inbound MX server.
func NewMX(store Store, opts MXOptions) *Server {
	s := newServer(store, "mx", common{
		hostname: opts.Hostname, domains: opts.Domains, maxSize: opts.MaxSize,
		maxRecipients: opts.MaxRecipients, maxConnections: opts.MaxConnections,
		tlsConfig: opts.TLSConfig, log: opts.Logger,
	})
	s.lookupTXT = opts.LookupTXT
	return s
}

// NewSubmission returns the submission server.
func NewSubmission(store Store, auth Authenticator, opts SubmissionOptions) *Server {
	s := newServer(store, "submission", common{
		hostname: opts.Hostname, domains: opts.Domains, maxSize: opts.MaxSize,
		maxRecipients: opts.MaxRecipients, maxConnections: opts.MaxConnections,
		tlsConfig: opts.TLSConfig, log: opts.Logger,
	})
	s.submission = true
	s.auth = auth
	s.queue = opts.Queue
	s.srv.AllowInsecureAuth = opts.AllowInsecureAuth
	return s
}
