package transport

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/thingpost/thingpost/internal/testutil"
)

// connTracker remembers every accepted connection so a test can kill them
// all at once, as a crashing server would.
type connTracker struct {
	mu    sync.Mutex
	lns   []net.Listener
	conns map[net.Conn]struct{}
}

type trackedListener struct {
	net.Listener
	tr *connTracker
}

func (l trackedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.tr.mu.Lock()
		if l.tr.conns == nil {
			l.tr.conns = map[net.Conn]struct{}{}
		}
		l.tr.conns[c] = struct{}{}
		l.tr.mu.Unlock()
	}
	return c, err
}

func (tr *connTracker) listen(t testing.TB, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	var err error
	// The port was just released by the previous incarnation; the kernel
	// may need a moment.
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	tr.mu.Lock()
	tr.lns = append(tr.lns, ln)
	tr.mu.Unlock()
	return trackedListener{ln, tr}
}

// killAll closes the listeners and every connection.
func (tr *connTracker) killAll() {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, ln := range tr.lns {
		ln.Close()
	}
	for c := range tr.conns {
		c.Close()
	}
	tr.lns, tr.conns = nil, nil
}

// homeBase is what both test homes (memHome, nodeHome) share: the one
// account, the certificate, and the two servers' addresses, which a restart
// keeps.
type homeBase struct {
	t                  testing.TB
	addr, pw           string
	sec                Security
	cert               *testutil.TLSCert
	imapAddr, smtpAddr string
	tr                 connTracker
}

func (h *homeBase) init(t testing.TB, sec Security) {
	h.t, h.addr, h.pw, h.sec = t, "lamp@home.test", "lamp-secret", sec
	h.cert = testutil.SelfSignedTLS(t, "home.test")
	h.imapAddr, h.smtpAddr = "127.0.0.1:0", "127.0.0.1:0"
}

// listen opens the IMAP and SMTP listeners (on fresh ports the first time,
// on the same ones after a restart) with TLS as sec says: implicit TLS
// wraps them, STARTTLS returns the configuration the servers offer.
func (h *homeBase) listen() (imapLn, smtpLn net.Listener, starttls *tls.Config) {
	imapLn = h.tr.listen(h.t, h.imapAddr)
	smtpLn = h.tr.listen(h.t, h.smtpAddr)
	h.imapAddr, h.smtpAddr = imapLn.Addr().String(), smtpLn.Addr().String()
	switch h.sec {
	case SecurityTLS:
		imapLn, smtpLn = tls.NewListener(imapLn, h.cert.ServerConfig()), tls.NewListener(smtpLn, h.cert.ServerConfig())
	case SecuritySTARTTLS:
		starttls = h.cert.ServerConfig()
	}
	return imapLn, smtpLn, starttls
}

func (h *homeBase) account() Account {
	return Account{
		Address:   h.addr,
		IMAP:      Server{HostPort: h.imapAddr, Security: h.sec},
		SMTP:      Server{HostPort: h.smtpAddr, Security: h.sec},
		Password:  h.pw,
		PinSHA256: h.cert.Pin(),
	}
}

// memHome is a mail server pair on loopback: imapmemserver for IMAP, a
// go-smtp server that delivers into it. Used where homenode cannot be made
// to behave in a particular way (no MOVE, a rejecting recipient).
type memHome struct {
	homeBase
	caps imap.CapSet

	user    *imapmemserver.User
	mem     *imapmemserver.Server
	imapSrv *imapserver.Server
	smtpSrv *smtp.Server

	mu         sync.Mutex
	rejectRcpt map[string]*smtp.SMTPError
	loginOnly  bool // SMTP offers AUTH LOGIN only
	smtpLogins int
}

type memOpts struct {
	sec       Security
	caps      imap.CapSet // nil: IMAP4rev1 + IDLE + UIDPLUS + MOVE
	loginOnly bool
}

func newMemHome(t testing.TB, o memOpts) *memHome {
	t.Helper()
	h := &memHome{caps: o.caps, loginOnly: o.loginOnly, rejectRcpt: map[string]*smtp.SMTPError{}}
	h.homeBase.init(t, o.sec)
	if h.caps == nil {
		h.caps = imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIdle: {}, imap.CapUIDPlus: {}, imap.CapMove: {}}
	}
	h.mem = imapmemserver.New()
	h.user = imapmemserver.NewUser(h.addr, h.pw)
	if err := h.user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	h.mem.AddUser(h.user)
	h.start()
	t.Cleanup(h.stop)
	return h
}

func (h *memHome) start() {
	imapLn, smtpLn, starttls := h.listen()
	opts := &imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return pollingIdle{h.mem.NewSession().(imapserver.SessionIMAP4rev2)}, nil, nil
		},
		Caps:         h.caps,
		InsecureAuth: true,
		Logger:       discardLogger{},
		TLSConfig:    starttls,
	}
	ss := smtp.NewServer(smtpBackend{h})
	ss.Domain = "home.test"
	ss.AllowInsecureAuth = true
	ss.ErrorLog = discardLogger{}
	ss.TLSConfig = starttls
	h.imapSrv = imapserver.New(opts)
	h.smtpSrv = ss
	go h.imapSrv.Serve(imapLn)
	go ss.Serve(smtpLn)
}

func (h *memHome) stop() {
	h.tr.killAll()
	h.imapSrv.Close()
	h.smtpSrv.Close()
}

// restart kills the servers with all their connections and starts them
// again on the same ports with the same mailbox contents.
func (h *memHome) restart(down time.Duration) {
	h.stop()
	time.Sleep(down)
	h.start()
}

// deliver puts a message straight into INBOX.
func (h *memHome) deliver(raw []byte) {
	if _, err := h.user.Append("INBOX", bytes.NewReader(raw), &imap.AppendOptions{}); err != nil {
		h.t.Fatalf("append: %v", err)
	}
}

// pollingIdle replaces the IDLE of imapmemserver, the test server's
// backend: go-imap v2 beta.8's SessionTracker.Idle does not look at updates
// queued before it registered (after the previous command's reply, or
// between "+ idling" and its start) and leaves them for the client's next
// command (homenode/imapd has its own fix). Polling the queue every few
// milliseconds pushes every update during IDLE, as a correct server does,
// so the watcher tests see pushes without sleeping before each delivery.
type pollingIdle struct{ imapserver.SessionIMAP4rev2 }

func (s pollingIdle) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for {
		if err := s.Poll(w, true); err != nil {
			return err
		}
		select {
		case <-stop:
			return nil
		case <-t.C:
		}
	}
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
func (discardLogger) Println(...any)        {}

type smtpBackend struct{ h *memHome }

func (b smtpBackend) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &smtpSession{h: b.h}, nil
}

type smtpSession struct {
	h      *memHome
	authed bool
}

func (s *smtpSession) AuthMechanisms() []string {
	if s.h.loginOnly {
		return []string{sasl.Login}
	}
	return []string{sasl.Plain}
}

func (s *smtpSession) Auth(mech string) (sasl.Server, error) {
	s.h.mu.Lock()
	s.h.smtpLogins++
	s.h.mu.Unlock()
	check := func(user, pw string) error {
		if user != s.h.addr || pw != s.h.pw {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		s.authed = true
		return nil
	}
	if mech == sasl.Login {
		return &loginServer{check: check}, nil
	}
	return sasl.NewPlainServer(func(_, user, pw string) error { return check(user, pw) }), nil
}

func (s *smtpSession) Mail(string, *smtp.MailOptions) error {
	if !s.authed {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authenticate first"}
	}
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	if e := s.h.rejectRcpt[to]; e != nil {
		return e
	}
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, err = s.h.user.Append("INBOX", bytes.NewReader(b), &imap.AppendOptions{})
	return err
}

func (s *smtpSession) Reset()        {}
func (s *smtpSession) Logout() error { return nil }

// loginServer is the server side of SASL LOGIN (go-sasl has only the
// client): "Username:", "Password:", then check.
type loginServer struct {
	check func(user, pw string) error
	user  string
	step  int
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	l.step++
	switch l.step {
	case 1:
		if len(resp) > 0 { // initial response carries the user name
			l.user = string(resp)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 2:
		l.user = string(resp)
		return []byte("Password:"), false, nil
	case 3:
		return nil, true, l.check(l.user, string(resp))
	}
	return nil, false, errors.New("unexpected LOGIN step")
}
