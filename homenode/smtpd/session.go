package smtpd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/thingpost/thingpost/homenode/accounts"
	"github.com/thingpost/thingpost/homenode/spool"
)

// Replies. go-smtp writes an *smtp.SMTPError as is (it does not unwrap), so
// these are returned unwrapped.
var (
	errShuttingDown  = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Server shutting down, try again later"}
	errAuthRequired  = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	errAuthFailed    = &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication failed: wrong user or password"}
	errAuthTemporary = &smtp.SMTPError{Code: 454, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Temporary authentication failure, try again later"}
	errStoreFailed   = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Could not store the message, try again later"}
	errRateLimited   = &smtp.SMTPError{Code: 454, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Too many failed logins from your address, try again later"}
	errTooManyHops   = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 4, 6}, Message: "Too many Received headers: mail loop"}
	errRateExceeded  = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "Too much mail from your address, try again later"}
	errNoStorage     = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "Insufficient system storage, try again later"}
	errTooSlow       = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "Data transfer too slow, closing connection"}
	errBareCR        = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Message refused: bare CR, lines must end in CRLF"}
)

func replyf(code int, enh smtp.EnhancedCode, format string, args ...any) *smtp.SMTPError {
	return &smtp.SMTPError{Code: code, EnhancedCode: enh, Message: fmt.Sprintf(format, args...)}
}

// session is one SMTP connection (until STARTTLS, which starts a new one).
type session struct {
	srv    *Server
	conn   *limitedConn // nil only when served without Serve
	remote net.Addr
	helo   string
	tls    bool
	user   string // authenticated account (submission)

	inTx  bool // guarded by srv.mu
	from  string
	rcpts []string
	size  int64 // announced by MAIL FROM SIZE=, 0 when not
}

func (sess *session) client() string {
	if sess.remote == nil {
		return "unknown"
	}
	return sess.remote.String()
}

// Reset implements smtp.Session: it ends the transaction.
func (sess *session) Reset() { sess.end() }

// Logout implements smtp.Session.
func (sess *session) Logout() error {
	sess.end()
	s := sess.srv
	s.mu.Lock()
	delete(s.sessions, sess)
	s.mu.Unlock()
	return nil
}

// begin starts a transaction unless the server is shutting down.
func (sess *session) begin(from string) error {
	s := sess.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return errShuttingDown
	}
	sess.inTx = true
	sess.from, sess.rcpts = from, nil
	return nil
}

func (sess *session) end() {
	s := sess.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	sess.inTx = false
	sess.from, sess.rcpts = "", nil
	if s.closing {
		select {
		case s.idle <- struct{}{}:
		default:
		}
	}
}

// AuthMechanisms implements smtp.AuthSession; the MX role offers none, so
// go-smtp advertises no AUTH there.
func (sess *session) AuthMechanisms() []string {
	if !sess.srv.submission {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

// Auth implements smtp.AuthSession.
func (sess *session) Auth(mech string) (sasl.Server, error) {
	if !sess.srv.submission {
		return nil, smtp.ErrAuthUnsupported
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, user, pass string) error {
			if identity != "" && !strings.EqualFold(identity, user) {
				sess.srv.log.Warn("login refused", "client", sess.client(), "user", user, "reason", "authorization identity differs")
				return errAuthFailed
			}
			return sess.login(user, pass)
		}), nil
	case sasl.Login:
		return &loginServer{authenticate: sess.login}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (sess *session) login(user, pass string) error {
	if sess.srv.auth == nil {
		return errAuthTemporary
	}
	ctx, cancel := storeCtx()
	defer cancel()
	addr, err := sess.srv.auth.Authenticate(ctx, sess.remote, user, pass)
	switch {
	case err == nil:
		sess.user = addr
		return nil
	case errors.Is(err, accounts.ErrBadCredentials):
		return errAuthFailed // the Authenticator logged it
	case errors.Is(err, accounts.ErrRateLimited):
		return errRateLimited
	default:
		sess.srv.log.Error("login failed", "client", sess.client(), "user", user, "err", err)
		return errAuthTemporary
	}
}

// Mail implements smtp.Session.
func (sess *session) Mail(from string, opts *smtp.MailOptions) error {
	if sess.srv.submission {
		if sess.user == "" {
			sess.refuse("sender refused", from, "not authenticated")
			return errAuthRequired
		}
		// The null sender is allowed (MDNs, auto-replies); the header From
		// is still checked in Data.
		if from != "" && !strings.EqualFold(from, sess.user) {
			sess.refuse("sender refused", from, "not the account's address")
			return replyf(553, smtp.EnhancedCode{5, 7, 1}, "Sender <%s> is not yours: you are logged in as <%s>", from, sess.user)
		}
	} else if _, domain, err := splitAddr(from); err == nil && sess.srv.isLocalDomain(domain) {
		sess.refuse("sender refused", from, "local sender from outside")
		return errLocalSender(from)
	}
	if from != "" {
		norm, err := normAddr(from)
		if err != nil {
			sess.refuse("sender refused", from, err.Error())
			return replyf(553, smtp.EnhancedCode{5, 1, 7}, "Bad sender address <%s>: %v", from, err)
		}
		from = norm
	}
	if err := sess.begin(from); err != nil {
		sess.refuse("sender refused", from, "shutting down")
		return err
	}
	sess.size = announcedSize(opts)
	return nil
}

// Rcpt implements smtp.Session.
func (sess *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	norm, err := normAddr(to)
	if err != nil {
		sess.refuse("recipient refused", to, err.Error())
		return replyf(501, smtp.EnhancedCode{5, 1, 3}, "Bad recipient address <%s>: %v", to, err)
	}
	to = norm
	_, domain, _ := splitAddr(to)
	s := sess.srv
	if s.rate != nil {
		if why := s.rate.allow(sess.remote, sess.from); why != "" {
			sess.refuse("recipient refused", to, why)
			return errRateExceeded
		}
	}
	if !s.isLocalDomain(domain) {
		switch {
		case !s.submission:
			sess.refuse("recipient refused", to, "relaying denied")
			return replyf(550, smtp.EnhancedCode{5, 7, 1}, "Relaying denied: %s is not a domain of this server", domain)
		case s.queue == nil:
			sess.refuse("recipient refused", to, "no outbound delivery")
			return replyf(550, smtp.EnhancedCode{5, 7, 1}, "This server does not deliver to other domains")
		}
		sess.addRcpt(to)
		return nil
	}
	ctx, cancel := storeCtx()
	defer cancel()
	to = strings.ToLower(to)
	ok, err := s.store.HasUser(ctx, to)
	if err != nil {
		s.log.Error("recipient check failed", "client", sess.client(), "rcpt", to, "err", err)
		return errStoreFailed
	}
	if !ok {
		sess.refuse("recipient refused", to, "no such user")
		return replyf(550, smtp.EnhancedCode{5, 1, 1}, "No such user here: <%s>", to)
	}
	if err := sess.checkRoom(ctx, to); err != nil {
		return err
	}
	sess.addRcpt(to)
	return nil
}

func (sess *session) addRcpt(addr string) {
	for _, r := range sess.rcpts {
		if r == addr {
			return
		}
	}
	sess.rcpts = append(sess.rcpts, addr)
}

func (sess *session) refuse(what, addr, reason string) {
	args := []any{"client", sess.client(), "addr", addr, "reason", reason}
	if sess.user != "" {
		args = append(args, "user", sess.user)
	}
	sess.srv.log.Info(what, args...)
}

// Data implements smtp.Session. The body goes to the spool as it comes
// (a stalled client costs a file, not memory) and is loaded back within
// the spool's memory budget. The 250 go-smtp sends when Data returns nil
// comes only after the store (and the queue) have the message on disk.
func (sess *session) Data(r io.Reader) error {
	s := sess.srv
	tr := sess.conn.transfer(r)
	body, err := s.spool.Receive(tr, s.maxSize)
	if err != nil {
		return sess.dataError(tr, err)
	}
	defer body.Close()
	ctx, cancel := storeCtx()
	defer cancel()
	buf, release, err := body.Load(ctx, headroom)
	if err != nil {
		s.log.Error("message not loaded", "client", sess.client(), "from", sess.from, "err", err)
		return errStoreFailed
	}
	defer release()
	msg := &dataMsg{buf: buf, start: headroom}
	if countReceived(msg.bytes()) > maxHops {
		sess.refuse("message refused", sess.from, "mail loop")
		return errTooManyHops
	}
	msg = sess.authResults(msg)
	if s.submission {
		err = sess.submit(msg)
	} else {
		err = sess.deliverInbound(msg)
	}
	if err == nil {
		sess.conn.made()
	}
	return err
}

// dataError answers a body that was not received whole. The rest of a
// refused body is read through r, under the transfer deadline, so that
// the client hears the answer.
func (sess *session) dataError(r io.Reader, err error) error {
	var ne net.Error
	var se *smtp.SMTPError
	switch {
	case errors.Is(err, spool.ErrTooLarge), errors.As(err, &se) && se.Code == 552:
		sess.refuse("message refused", sess.from, "too large")
		_, _ = io.Copy(io.Discard, r)
		return replyf(552, smtp.EnhancedCode{5, 3, 4}, "Message too large: the limit is %d bytes", sess.srv.maxSize)
	case errors.Is(err, spool.ErrFull):
		sess.srv.log.Warn("message refused", "client", sess.client(), "from", sess.from, "reason", "spool full", "err", err)
		_, _ = io.Copy(io.Discard, r)
		return errNoStorage
	case errors.As(err, &ne) && ne.Timeout():
		sess.refuse("message refused", sess.from, "transfer too slow")
		sess.conn.expire()
		return errTooSlow
	}
	return err
}

func errLocalSender(addr string) *smtp.SMTPError {
	return replyf(550, smtp.EnhancedCode{5, 7, 1}, "Sender <%s> is an address of this server: its mail comes through submission, with a login", addr)
}

// deliverInbound is the MX role: every recipient is local.
func (sess *session) deliverInbound(msg *dataMsg) error {
	s := sess.srv
	fields, bad := headerFields(msg.bytes())
	if bad {
		// Readers disagree on where such a header's fields begin.
		sess.refuse("message refused", sess.from, "bare CR or NUL in the header")
		return errBareCR
	}
	if addr := localFrom(fields, s.isLocalDomain); addr != "" {
		sess.refuse("message refused", sess.from, "local From from outside")
		return errLocalSender(addr)
	}
	id := newID()
	proto := "ESMTP"
	if sess.tls {
		proto = "ESMTPS"
	}
	var b bytes.Buffer
	writeReturnPath(&b, sess.from)
	writeReceived(&b, receivedFields{
		helo: sess.helo, remote: sess.remote, by: s.hostname, proto: proto, id: id, rcpts: sess.rcpts,
	})
	msg.prepend(b.Bytes())
	ctx, cancel := storeCtx()
	defer cancel()
	if err := s.store.Deliver(ctx, sess.rcpts, msg.bytes()); err != nil {
		s.log.Error("delivery failed", "client", sess.client(), "from", sess.from, "rcpts", sess.rcpts, "err", err)
		return storeReply(err)
	}
	s.log.Info("delivered", "id", id, "client", sess.client(), "from", sess.from, "rcpts", sess.rcpts, "size", len(msg.bytes()))
	return nil
}

// submit is the submission role: the header From must be the account's;
// local recipients get the mail at once, the rest goes into the queue.
func (sess *session) submit(msg *dataMsg) error {
	s := sess.srv
	raw := msg.bytes()
	if hasBareCR(raw) {
		sess.refuse("message refused", sess.from, "bare CR")
		return errBareCR
	}
	if err := checkHeaderFrom(raw, sess.user); err != nil {
		sess.refuse("message refused", sess.from, err.Error())
		return replyf(550, smtp.EnhancedCode{5, 7, 1}, "%v", err)
	}
	id := newID()
	proto := "ESMTPA"
	if sess.tls {
		proto = "ESMTPSA"
	}
	var trace bytes.Buffer
	writeReceived(&trace, receivedFields{by: s.hostname, proto: proto, id: id})
	writeMissingHeaders(&trace, raw, s.hostname)
	msg.prepend(trace.Bytes())
	// What goes out to other domains; the local copy gets a Return-Path in
	// front of it, which leaves these bytes as they are.
	outbound := msg.bytes()

	var local, remote []string
	for _, r := range sess.rcpts {
		_, domain, _ := splitAddr(r)
		if s.isLocalDomain(domain) {
			local = append(local, r)
		} else {
			remote = append(remote, r)
		}
	}
	ctx, cancel := storeCtx()
	defer cancel()
	// Two durable steps, local first: if the second fails the client gets a
	// 451 and retries, and the local recipients may see the mail twice,
	// which is the at-least-once promise of SMTP.
	if len(local) > 0 {
		var b bytes.Buffer
		writeReturnPath(&b, sess.from)
		msg.prepend(b.Bytes())
		if err := s.store.Deliver(ctx, local, msg.bytes()); err != nil {
			s.log.Error("delivery failed", "user", sess.user, "rcpts", local, "err", err)
			return storeReply(err)
		}
	}
	var qid uint64
	if len(remote) > 0 {
		var err error
		if qid, err = s.queue.Enqueue(ctx, sess.from, remote, outbound); err != nil {
			s.log.Error("enqueue failed", "user", sess.user, "rcpts", remote, "err", err)
			return storeReply(err)
		}
	}
	args := []any{"id", id, "client", sess.client(), "user", sess.user, "from", sess.from, "size", len(outbound)}
	if len(local) > 0 {
		args = append(args, "local", local)
	}
	if len(remote) > 0 {
		args = append(args, "queued", remote, "queue_id", qid)
	}
	s.log.Info("submitted", args...)
	return nil
}
