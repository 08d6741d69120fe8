package homenode

import (
	"context"
	"crypto"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/thingpost/thingpost/homenode/accounts"
	"github.com/thingpost/thingpost/homenode/connlimit"
	"github.com/thingpost/thingpost/homenode/imapd"
	"github.com/thingpost/thingpost/homenode/mailstore"
	"github.com/thingpost/thingpost/homenode/queue"
	"github.com/thingpost/thingpost/homenode/ratelimit"
	"github.com/thingpost/thingpost/homenode/smtpd"
	"github.com/thingpost/thingpost/homenode/spool"
)

// DefaultMemoryLimit is the soft Go memory limit (memory_limit) "homenode
// run" sets unless GOMEMLIMIT is given. The node's own memory is a few MiB;
// a login check takes 7 MiB for a moment and a message about twice its size
// while it is stored. A router's RAM is small: near the limit the collector
// works harder instead of letting garbage pile up. It is not a cap: the
// node uses more when it must (a large message).
const DefaultMemoryLimit = 16 << 20

// DefaultGCPercent is the GOGC "homenode run" sets unless GOGC is given. The
// live heap is small (a few MiB) and the runtime keeps about GOGC percent of
// it more, and never less than 4 MiB at the default 100: at 25 that floor is
// 1 MiB, for collections that take well under a millisecond.
const DefaultGCPercent = 25

// Node is a running home mail node: every configured listener over one store.
type Node struct {
	cfg     *Config
	log     *slog.Logger
	store   *mailstore.Store
	spool   *spool.Spool
	started time.Time

	mx          *smtpd.Server
	submission  *smtpd.Server // STARTTLS / implicit TLS listeners
	plainSubmit *smtpd.Server // plain loopback listener
	imap        *imapd.Server
	plainIMAP   *imapd.Server
	queue       *queue.Queue
	ctl         *controlServer

	bound map[string]net.Addr // listener name -> bound address

	queueStop context.CancelFunc
	queueDone chan struct{}
	serveWG   sync.WaitGroup

	shutdownOnce sync.Once
	shutdownErr  error
}

// Start opens the store, binds every configured listener and serves until
// Shutdown. A bind failure closes whatever was opened and names the listener.
func Start(ctx context.Context, cfg *Config, log *slog.Logger) (n *Node, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	tlsCfg, err := LoadTLS(cfg.Path(cfg.TLS.Cert), cfg.Path(cfg.TLS.Key))
	if err != nil {
		return nil, err
	}
	dkimKey, err := LoadDKIMKey(cfg.Path(cfg.DKIM.Key))
	if err != nil {
		return nil, err
	}
	store, err := mailstore.Open(cfg.StoreFile())
	if err != nil {
		return nil, err
	}
	store.SetLimits(cfg.StoreLimits())
	sp, err := spool.New(filepath.Join(cfg.Dir, "spool"), spool.Limits{Disk: int64(cfg.Spool.Disk), Memory: int64(cfg.Spool.Memory)})
	if err != nil {
		store.Close()
		return nil, err
	}
	n = &Node{cfg: cfg, log: log, store: store, spool: sp, started: time.Now(), bound: map[string]net.Addr{}}
	var listeners []net.Listener
	defer func() {
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			store.Close()
		}
	}()

	specs, listeners, err := n.bind(ctx, tlsCfg)
	if err != nil {
		return nil, err
	}
	ctlL, err := listenControl(cfg)
	if err != nil {
		return nil, err
	}
	listeners = append(listeners, ctlL)

	n.newServers(tlsCfg, dkimKey)
	n.startQueue()
	n.serve(specs)
	n.ctl = &controlServer{l: ctlL, ops: adminOps{cfg: cfg, store: store, node: n}, log: log.With("role", "control")}
	go n.ctl.serve()
	log.Info("node started", "hostname", cfg.Hostname, "domains", cfg.DomainNames())
	return n, nil
}

// bind binds every configured listener before anything is served, so that
// a busy port fails the start cleanly. It returns the listeners to serve,
// by name (TLS ones wrapped), and the bound sockets, also those bound before
// a failure, for the caller to close.
func (n *Node) bind(ctx context.Context, tlsCfg *tls.Config) (map[string]net.Listener, []net.Listener, error) {
	specs := map[string]net.Listener{}
	var bound []net.Listener
	for _, spec := range n.cfg.Listeners() {
		if spec.Addr == "" {
			continue
		}
		var lc net.ListenConfig
		l, err := lc.Listen(ctx, "tcp", spec.Addr)
		if err != nil {
			return nil, bound, fmt.Errorf("listen.%s: %w", spec.Name, err)
		}
		bound = append(bound, l)
		n.bound[spec.Name] = l.Addr()
		if spec.Protocol == "imap" {
			l, err = n.capConns(l, spec, n.cfg.IMAP.MaxConnections, n.cfg.IMAP.MaxConnectionsPerClient, imapRefusal)
			if err == nil && spec.ImplicitTLS {
				l = tls.NewListener(l, tlsCfg)
			}
		} else {
			l, err = n.capConns(l, spec, n.cfg.SMTPLimits.MaxConnections, n.cfg.SMTPLimits.MaxConnectionsPerClient, smtpRefusal)
		}
		if err != nil {
			return nil, bound, err
		}
		specs[spec.Name] = l
	}
	return specs, bound, nil
}

// Refusal lines for connections over a listener's caps.
const (
	smtpRefusal = "421 4.7.0 Too many connections, try again later\r\n"
	imapRefusal = "* BYE Too many connections\r\n"
)

// capConns caps a listener's connections (issue 15), below TLS on an
// implicit-TLS listener, whose clients get no refusal line: they expect a
// handshake. Every client of a plain listener is on loopback, this machine
// (the things of a router), so there the total is the only cap.
func (n *Node) capConns(l net.Listener, spec ListenerSpec, total, perClient int, refusal string) (net.Listener, error) {
	lim := connlimit.Limits{Total: total, PerClient: perClient}
	if spec.Plain {
		lim.PerClient = total
	}
	if !spec.ImplicitTLS {
		lim.Refusal = refusal
	}
	cl, err := connlimit.Listen(l, lim, n.log.With("role", spec.Protocol, "listener", spec.Name))
	if err != nil {
		return nil, fmt.Errorf("listen.%s: %w", spec.Name, err)
	}
	return cl, nil
}

// newServers makes the queue and the SMTP and IMAP servers over the store.
func (n *Node) newServers(tlsCfg *tls.Config, dkimKey crypto.Signer) {
	cfg, store, log := n.cfg, n.store, n.log
	auth := accounts.NewAuthenticator(store, log.With("role", "accounts"))
	maxSize := int64(cfg.MaxMessageSize)
	n.queue = queue.New(store, queue.Options{
		Hostname:  cfg.Hostname,
		DKIM:      &queue.DKIM{Selector: cfg.DKIM.Selector, Signer: dkimKey, Domains: cfg.DomainNames()},
		StaticMX:  cfg.StaticMX(),
		Smarthost: smarthost(cfg.Smarthost),
		Logger:    log,
	})
	lim := cfg.SMTPLimits
	n.mx = smtpd.NewMX(store, smtpd.MXOptions{
		Hostname: cfg.Hostname, Domains: cfg.DomainNames(), MaxSize: maxSize,
		TLSConfig: tlsCfg, Spool: n.spool, Logger: log,
		Rate: smtpd.RateLimits{
			PerClient: ratelimit.Rate{PerHour: lim.MXPerClientPerHour, Burst: lim.MXPerClientBurst},
			PerSender: ratelimit.Rate{PerHour: lim.MXPerSenderPerHour, Burst: lim.MXPerSenderBurst},
		},
	})
	subOpts := smtpd.SubmissionOptions{
		Hostname: cfg.Hostname, Domains: cfg.DomainNames(), MaxSize: maxSize,
		TLSConfig: tlsCfg, Queue: n.queue, Spool: n.spool, Logger: log,
	}
	n.submission = smtpd.NewSubmission(store, auth, subOpts)
	subOpts.AllowInsecureAuth = true
	n.plainSubmit = smtpd.NewSubmission(store, auth, subOpts)
	imapOpts := imapd.Options{TLSConfig: tlsCfg, AppendLimit: uint32(min(maxSize, math.MaxUint32)), Logger: log.With("role", "imap"),
		Spool: n.spool, LoginTimeout: cfg.IMAP.LoginTimeout}
	n.imap = imapd.New(store, auth, imapOpts)
	imapOpts.AllowInsecureAuth = true
	n.plainIMAP = imapd.New(store, auth, imapOpts)
}

// startQueue runs the outgoing queue until Shutdown stops it.
func (n *Node) startQueue() {
	qctx, qstop := context.WithCancel(context.Background())
	n.queueStop, n.queueDone = qstop, make(chan struct{})
	go func() {
		defer close(n.queueDone)
		if err := n.queue.Run(qctx); err != nil && !errors.Is(err, context.Canceled) {
			n.log.Error("queue stopped", "err", err)
		}
	}()
}

// serve serves every bound listener, in the configured order.
func (n *Node) serve(specs map[string]net.Listener) {
	for _, spec := range n.cfg.Listeners() {
		l := specs[spec.Name]
		if l == nil {
			continue
		}
		serve := n.serverFor(spec)
		n.serveWG.Add(1)
		go func() {
			defer n.serveWG.Done()
			if err := serve(l); err != nil && !isClosedErr(err) {
				n.log.Error("listener stopped", "listener", spec.Name, "err", err)
			}
		}()
		n.log.Info("listening", "listener", spec.Name, "addr", n.bound[spec.Name].String(), "security", spec.security())
	}
}

func (n *Node) serverFor(spec ListenerSpec) func(net.Listener) error {
	switch {
	case spec.Protocol == "smtp":
		return n.mx.Serve
	case spec.Protocol == "submission" && spec.Plain:
		return n.plainSubmit.Serve
	case spec.Protocol == "submission" && spec.ImplicitTLS:
		return n.submission.ServeTLS
	case spec.Protocol == "submission":
		return n.submission.Serve
	case spec.Protocol == "imap" && spec.Plain:
		return n.plainIMAP.Serve
	default:
		return n.imap.Serve
	}
}

// joinOneLine joins the non-nil errors with "; " (errors.Join uses newlines,
// and the CLI prints errors as one line). errors.Is sees every part.
func joinOneLine(errs []error) error {
	var parts []string
	var kept []error
	for _, e := range errs {
		if e != nil {
			parts = append(parts, e.Error())
			kept = append(kept, e)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	return &multiError{msg: strings.Join(parts, "; "), errs: kept}
}

type multiError struct {
	msg  string
	errs []error
}

func (m *multiError) Error() string   { return m.msg }
func (m *multiError) Unwrap() []error { return m.errs }

func smarthost(s *Smarthost) *queue.Smarthost {
	if s == nil {
		return nil
	}
	mode := queue.TLSMode(s.TLS)
	if mode == "" {
		mode = queue.StartTLS
	}
	return &queue.Smarthost{Addr: string(s.Addr), User: s.User, Pass: s.Password, TLS: mode}
}

func isClosedErr(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, smtpd.ErrServerClosed)
}

// Addr returns the address a listener (by its config key, e.g. "plain_imap")
// is bound to, or nil when it is not configured. Useful with port 0.
func (n *Node) Addr(name string) net.Addr { return n.bound[name] }

func (n *Node) boundAddr(name string) string {
	if a := n.bound[name]; a != nil {
		return a.String()
	}
	return ""
}

// Store is the node's mail store (for tests and status).
func (n *Node) Store() *mailstore.Store { return n.store }

// Status reports accounts, queue length and listeners.
func (n *Node) Status(ctx context.Context) (*Status, error) {
	return adminOps{cfg: n.cfg, store: n.store, node: n}.status(ctx)
}

// Shutdown stops accepting connections, lets SMTP transactions in flight
// finish (or refuses them cleanly with 421 when ctx runs out), closes the IMAP
// connections, stops the queue and then closes the store. It is safe to call
// more than once.
func (n *Node) Shutdown(ctx context.Context) error {
	n.shutdownOnce.Do(func() {
		n.log.Info("shutting down")
		n.ctl.close()
		var wg sync.WaitGroup
		errs := make([]error, 5)
		names := []string{"MX", "submission", "plain submission"}
		for i, s := range []*smtpd.Server{n.mx, n.submission, n.plainSubmit} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.Shutdown(ctx); err != nil && !errors.Is(err, smtpd.ErrServerClosed) {
					errs[i] = fmt.Errorf("%s transactions cut off at shutdown: %w", names[i], err)
				}
			}()
		}
		// IMAP has nothing to finish: a client reconnects and resyncs.
		for i, s := range []*imapd.Server{n.imap, n.plainIMAP} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.Close(); err != nil && !isClosedErr(err) {
					errs[3+i] = fmt.Errorf("close IMAP: %w", err)
				}
			}()
		}
		wg.Wait()
		n.serveWG.Wait()
		n.queueStop()
		<-n.queueDone
		errs = append(errs, n.store.Close())
		n.shutdownErr = joinOneLine(errs)
		if n.shutdownErr != nil {
			n.log.Warn("node stopped", "err", n.shutdownErr)
		} else {
			n.log.Info("node stopped")
		}
	})
	return n.shutdownErr
}
