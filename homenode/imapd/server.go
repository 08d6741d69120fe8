package imapd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/thingpost/thingpost/homenode/mailstore"
	"github.com/thingpost/thingpost/homenode/spool"
)

// Authenticator checks a login. It returns the account's address, which
// becomes the session's user, or an error for a refused login (bad
// credentials, rate limited). homenode/accounts implements it.
type Authenticator interface {
	Authenticate(ctx context.Context, remote net.Addr, user, pass string) (string, error)
}

// Options configure a Server.
type Options struct {
	// TLSConfig enables STARTTLS. Implicit-TLS listeners are wrapped by
	// the caller (tls.NewListener) and need no TLSConfig here.
	TLSConfig *tls.Config
	// AllowInsecureAuth allows LOGIN and AUTHENTICATE without TLS. Set it
	// only for listeners bound to a loopback address.
	AllowInsecureAuth bool
	// AppendLimit is the largest message APPEND accepts, in bytes;
	// 0 means DefaultAppendLimit.
	AppendLimit uint32
	// Logger receives one line per refused login and the server's errors;
	// nil means slog.Default().
	Logger *slog.Logger
	// Spool receives APPEND literals, so that a client sending one slowly
	// costs the node disk, not memory, and bounds the memory of those
	// being stored. Required.
	Spool *spool.Spool
	// LoginTimeout is how long a connection may stay unauthenticated,
	// whatever it sends meanwhile (NOOP does not extend it); 0 means
	// DefaultLoginTimeout. After login, imapserver's own autologout
	// applies: 35 minutes without a command, also while idling (RFC 9051
	// section 5.4 asks for at least 30; clients re-issue IDLE within 29).
	LoginTimeout time.Duration

	// FetchMemory bounds the bytes of messages FETCH holds in memory at
	// once, over all connections; 0 means twice AppendLimit.
	FetchMemory int64

	// literalGrace replaces the constant in tests.
	literalGrace time.Duration
}

// DefaultAppendLimit bounds APPEND: the message is spooled while it is
// received and held in memory once while it is stored.
const DefaultAppendLimit = 32 << 20

// DefaultLoginTimeout leaves a person time to type a password into a
// client that asks for it only after connecting.
const DefaultLoginTimeout = 60 * time.Second

// An APPEND literal must arrive within literalGrace plus its size at
// literalMinRate, and never takes longer than imapserver's own five
// minutes: a stalled client gives up its connection slot and spool space
// soon.
const (
	literalGrace   = 10 * time.Second
	literalMinRate = 64 << 10 // bytes per second
	literalMaxTime = 5 * time.Minute
)

func (s *Server) literalDeadline(size int64) time.Duration {
	return min(s.opts.literalGrace+time.Duration(size)*time.Second/literalMinRate, literalMaxTime)
}

// maxLoginFailures per connection before the server hangs up.
const maxLoginFailures = 3

// Server is an IMAP server over a mail store.
type Server struct {
	store *mailstore.Store
	auth  Authenticator
	opts  Options
	log   *slog.Logger
	imap  *imapserver.Server

	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	closed   bool
	conns    map[net.Conn]struct{}
	sessions sync.WaitGroup

	fetchMem *fetchBudget

	// idleHook, if set (tests only), runs in Idle after "+ idling" has
	// been sent and before pending changes are flushed: a test delivers
	// there to hit the registration race window every time.
	idleHook func()
}

// New creates a server. Call Serve for each listener and Close at the end.
func New(store *mailstore.Store, auth Authenticator, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.AppendLimit == 0 {
		opts.AppendLimit = DefaultAppendLimit
	}
	if opts.literalGrace == 0 {
		opts.literalGrace = literalGrace
	}
	if opts.LoginTimeout == 0 {
		opts.LoginTimeout = DefaultLoginTimeout
	}
	if opts.FetchMemory == 0 {
		opts.FetchMemory = 2 * int64(opts.AppendLimit)
	}
	if opts.Spool == nil {
		panic("imapd: Options.Spool is required")
	}
	s := &Server{
		store: store,
		auth:  auth,
		opts:  opts,
		log:   opts.Logger,
		conns: make(map[net.Conn]struct{}),

		fetchMem: newFetchBudget(opts.FetchMemory),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.imap = imapserver.New(&imapserver.Options{
		NewSession: s.newSession,
		Caps: imap.CapSet{
			imap.CapIMAP4rev1:  {},
			imap.CapNamespace:  {},
			imap.CapUIDPlus:    {},
			imap.CapMove:       {},
			imap.CapChildren:   {},
			imap.CapESearch:    {},
			imap.CapSearchRes:  {},
			imap.CapStatusSize: {},
		},
		Logger:       printfLogger{s.log},
		TLSConfig:    opts.TLSConfig,
		InsecureAuth: opts.AllowInsecureAuth,
	})
	return s
}

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("imapd: server closed")

// Serve accepts connections on l until Close. It returns nil after Close
// (ErrServerClosed if called after Close).
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ErrServerClosed
	}
	if err := s.imap.Serve(&trackingListener{Listener: l, s: s}); err != nil {
		s.mu.Lock()
		closed := s.closed
		s.mu.Unlock()
		if closed {
			return nil
		}
		return fmt.Errorf("imapd: serve %s: %w", l.Addr(), err)
	}
	return nil
}

// Close stops the listeners, closes every connection and waits until their
// sessions have ended (after that no session uses the store).
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	conns := make([]net.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	s.cancel()
	err := s.imap.Close()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	// imapserver closes the connections it has registered; a connection
	// accepted an instant before may not be registered yet.
	for _, c := range conns {
		c.Close()
	}
	s.sessions.Wait()
	return err
}

func (s *Server) newSession(c *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
	netConn := c.NetConn()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, &imap.Error{Type: imap.StatusResponseTypeBye, Text: "Server shutting down"}
	}
	s.sessions.Add(1)
	ctx, cancel := context.WithCancel(s.ctx)
	sess := &session{
		srv:     s,
		conn:    c,
		netConn: netConn,
		remote:  netConn.RemoteAddr(),
		ctx:     ctx,
		cancel:  cancel,
	}
	sess.loginTimer = time.AfterFunc(s.opts.LoginTimeout, sess.loginTimedOut)
	return sess, nil, nil
}

// sessionDone forgets a connection whose session has ended.
func (s *Server) sessionDone(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.sessions.Done()
}

// trackingListener records accepted connections so Close can close them
// all. It returns them unwrapped: imapserver recognises TLS by the
// *tls.Conn type.
type trackingListener struct {
	net.Listener
	s *Server
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	if l.s.closed {
		c.Close()
		return nil, net.ErrClosed
	}
	l.s.conns[c] = struct{}{}
	return c, nil
}

// printfLogger adapts slog to imapserver's Printf logger.
type printfLogger struct{ l *slog.Logger }

func (p printfLogger) Printf(format string, args ...any) {
	p.l.Warn("imap: " + fmt.Sprintf(format, args...))
}
