package smtpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/thingpost/thingpost/homenode/spool"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = smtp.ErrServerClosed

// Store is what the front ends need from the mail store (*mailstore.Store).
type Store interface {
	HasUser(ctx context.Context, addr string) (bool, error)
	// Deliver appends raw to the INBOX of every recipient, durably, all or
	// nothing.
	Deliver(ctx context.Context, rcpts []string, raw []byte) error
}

// Authenticator checks a login (accounts.Authenticator). It returns the
// account address, or an error wrapping accounts.ErrBadCredentials or
// accounts.ErrRateLimited; other errors are temporary failures.
type Authenticator interface {
	Authenticate(ctx context.Context, remote net.Addr, user, pass string) (string, error)
}

// Enqueuer puts mail for other domains into the durable outbound queue
// (*queue.Queue, which also wakes its worker; *mailstore.Store works too).
type Enqueuer interface {
	Enqueue(ctx context.Context, from string, rcpts []string, raw []byte) (uint64, error)
}

// Defaults for zero option values. The spool ones are the budgets of the
// spool a server makes for itself when it is given none.
const (
	DefaultMaxSize       = 32 << 20
	DefaultMaxRecipients = 100
	DefaultSpoolDisk     = 8 * DefaultMaxSize
	DefaultSpoolMemory   = 2 * DefaultMaxSize
)

const (
	writeTimeout = time.Minute
	// storeTimeout bounds one store operation for one SMTP command.
	storeTimeout = 2 * time.Minute
	// maxHops refuses mail that went through too many servers (a loop).
	maxHops = 50
)

// Server is one SMTP listener role (MX or submission) over the store. Serve
// may be called for several listeners; Shutdown stops them all.
type Server struct {
	srv      *smtp.Server
	store    Store
	log      *slog.Logger
	hostname string
	domains  map[string]bool
	maxSize  int64
	role     string // "mx" or "submission"
	spool    *spool.Spool
	timeouts timeouts
	rate     *rateLimiter // MX only
	initErr  error        // returned by Serve

	submission bool
	auth       Authenticator // submission only
	queue      Enqueuer      // submission only; nil refuses other domains

	// lookupTXT finds DKIM keys at the MX (nil: DNS).
	lookupTXT func(domain string) ([]string, error)

	mu        sync.Mutex
	closing   bool
	listeners []net.Listener
	sessions  map[*session]struct{}
	idle      chan struct{} // signalled when a transaction ends while closing
}

type common struct {
	hostname      string
	domains       []string
	maxSize       int64
	maxRecipients int
	spool         *spool.Spool
	tlsConfig     *tls.Config
	log           *slog.Logger
}

func newServer(store Store, role string, c common) *Server {
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.maxSize <= 0 {
		c.maxSize = DefaultMaxSize
	}
	if c.maxRecipients <= 0 {
		c.maxRecipients = DefaultMaxRecipients
	}
	s := &Server{
		store:    store,
		log:      c.log.With("role", role),
		domains:  make(map[string]bool),
		maxSize:  c.maxSize,
		role:     role,
		spool:    c.spool,
		timeouts: defaultTimeouts(),
		sessions: make(map[*session]struct{}),
		idle:     make(chan struct{}, 1),
	}
	if s.spool == nil {
		// Bodies are unlinked at once: nothing is left in the directory.
		s.spool, s.initErr = spool.New(os.TempDir(), spool.Limits{Disk: DefaultSpoolDisk, Memory: DefaultSpoolMemory})
	}
	for _, d := range c.domains {
		s.domains[strings.ToLower(strings.TrimSuffix(d, "."))] = true
	}
	s.hostname = c.hostname
	if s.hostname == "" && len(c.domains) > 0 {
		s.hostname = strings.ToLower(c.domains[0])
	}
	if s.hostname == "" {
		s.hostname = "localhost"
	}
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = s.hostname
	srv.MaxMessageBytes = c.maxSize
	srv.MaxRecipients = c.maxRecipients
	srv.ReadTimeout = s.timeouts.command
	srv.WriteTimeout = writeTimeout
	srv.TLSConfig = c.tlsConfig
	srv.ErrorLog = errorLog{s.log}
	s.srv = srv
	return s
}

// Serve accepts connections on l until Shutdown or Close; it then returns
// nil. Each connection is held to the server's idle, lifetime and transfer
// limits; caps on connections belong to l (connlimit.Listen).
func (s *Server) Serve(l net.Listener) error {
	return s.serve(l, limitedListener{Listener: l, t: &s.timeouts})
}

// ServeTLS is Serve for implicit TLS (port 465) with the TLSConfig of the
// options: the limits sit below TLS, so l is the plain listener.
func (s *Server) ServeTLS(l net.Listener) error {
	return s.serve(l, tls.NewListener(limitedListener{Listener: l, t: &s.timeouts}, s.srv.TLSConfig))
}

func (s *Server) serve(raw, l net.Listener) error {
	s.mu.Lock()
	if s.closing || s.initErr != nil {
		s.mu.Unlock()
		l.Close()
		if s.initErr != nil {
			return fmt.Errorf("smtpd %s: %w", s.role, s.initErr)
		}
		return ErrServerClosed
	}
	if s.srv.AllowInsecureAuth && !isLoopback(raw.Addr()) {
		s.mu.Unlock()
		l.Close()
		return fmt.Errorf("smtpd %s: refusing to allow AUTH without TLS on %s: not a loopback address", s.role, l.Addr())
	}
	s.listeners = append(s.listeners, l)
	s.mu.Unlock()
	err := s.srv.Serve(l)
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if closing {
		return nil
	}
	return fmt.Errorf("smtpd %s: serve %s: %w", s.role, l.Addr(), err)
}

// Shutdown stops accepting connections and new transactions (a MAIL command
// gets 421), lets transactions in flight finish (their 250 comes only after
// the store has the message), then closes every connection. If ctx ends
// first, the remaining connections are closed at once and ctx.Err() is
// returned; a client cut off that way got no 250 and will retry.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.closing = true
	for _, l := range s.listeners {
		l.Close()
	}
	s.mu.Unlock()

	var err error
	for s.busy() {
		select {
		case <-s.idle:
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			break
		}
	}
	// Closes what is left: idle connections and any still in a transaction
	// after ctx ended. go-smtp's own Shutdown would wait for idle clients
	// to say QUIT.
	s.srv.Close()
	return err
}

// Close closes every listener and connection at once.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	err := s.srv.Close()
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// busy reports whether some session is inside a mail transaction.
func (s *Server) busy() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sess := range s.sessions {
		if sess.inTx {
			return true
		}
	}
	return false
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	sess := &session{srv: s, conn: limitsOf(c.Conn()), remote: c.Conn().RemoteAddr(), helo: c.Hostname(), tls: isTLS}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		s.log.Info("connection refused", "client", sess.remote.String(), "reason", "shutting down")
		return nil, errShuttingDown
	}
	s.sessions[sess] = struct{}{}
	return sess, nil
}

func (s *Server) isLocalDomain(domain string) bool { return s.domains[domain] }

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

func storeCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), storeTimeout)
}

// errorLog routes go-smtp's internal error log (connection errors, panics)
// to slog.
type errorLog struct{ log *slog.Logger }

// Printf: connection errors (scanners, failed TLS handshakes) are debug
// noise on a public port 25; a recovered panic is a bug and logged as such.
func (e errorLog) Printf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if strings.HasPrefix(msg, "panic") {
		e.log.Error("smtp handler panic", "msg", msg)
		return
	}
	e.log.Debug("smtp connection", "msg", msg)
}

func (e errorLog) Println(v ...any) {
	e.log.Debug("smtp connection", "msg", strings.TrimSpace(fmt.Sprintln(v...)))
}
