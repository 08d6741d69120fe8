package imapd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/thingpost/thingpost/homenode/mailstore"
	"github.com/thingpost/thingpost/homenode/spool"
)

// session is one IMAP connection. imapserver calls its methods from the
// connection's goroutine, one at a time, except Idle, which runs on its own
// goroutine while the connection goroutine waits for DONE.
type session struct {
	srv     *Server
	conn    *imapserver.Conn
	netConn net.Conn
	remote  net.Addr
	ctx     context.Context
	cancel  context.CancelFunc

	user     string // empty until login; written under mu
	failures int
	sel      *selection // nil unless a mailbox is selected

	// loginTimer ends the connection if it has not logged in in time.
	loginTimer *time.Timer

	// Close may run while an Idle goroutine still writes (imapserver does
	// not wait for it when the client hangs up mid-IDLE).
	mu           sync.Mutex
	closed       bool
	loginExpired bool
	idlers       sync.WaitGroup
}

var (
	_ imapserver.SessionIMAP4rev2   = (*session)(nil)
	_ imapserver.SessionAppendLimit = (*session)(nil)
)

func (s *session) Close() error {
	s.loginTimer.Stop()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.idlers.Wait()
	if s.sel != nil {
		s.sel.close()
		s.sel = nil
	}
	s.srv.sessionDone(s.netConn)
	return nil
}

func (s *session) Login(username, password string) error {
	addr, err := s.srv.auth.Authenticate(s.ctx, s.remote, username, password)
	if err != nil {
		s.failures++
		s.srv.log.Info("imap login refused", "remote", s.remote.String(), "user", username, "err", err)
		if s.failures >= maxLoginFailures {
			// The NO is written to a closed connection; the client sees
			// the BYE.
			_ = s.conn.Bye("Too many failed logins")
		}
		return imapserver.ErrAuthFailed
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loginExpired {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeExpired, Text: "Login timeout"}
	}
	s.user = addr
	s.loginTimer.Stop()
	return nil
}

// loginTimedOut runs on the login timer's goroutine: a connection still
// unauthenticated is told so and closed, which ends its session.
func (s *session) loginTimedOut() {
	s.mu.Lock()
	if s.user != "" || s.closed {
		s.mu.Unlock()
		return
	}
	s.loginExpired = true
	s.mu.Unlock()
	s.srv.log.Info("imap login timeout", "remote", s.remote.String(), "after", s.srv.opts.LoginTimeout)
	// The deadline also ends a greeting stuck in a TLS handshake the
	// client never started (it holds the write lock Bye needs, and
	// nothing else bounds that read).
	_ = s.netConn.SetDeadline(time.Now().Add(byeTimeout))
	_ = s.conn.Bye("Autologout: no login in time")
}

// byeTimeout bounds writing the BYE of a connection being closed.
const byeTimeout = 2 * time.Second

func (s *session) AppendLimit() uint32 {
	return s.srv.opts.AppendLimit
}

func (s *session) Namespace() (*imap.NamespaceData, error) {
	return &imap.NamespaceData{
		Personal: []imap.NamespaceDescriptor{{Prefix: "", Delim: delim}},
	}, nil
}

const delim = '/'

func (s *session) Create(name string, options *imap.CreateOptions) error {
	return storeErr(s.srv.store.CreateMailbox(s.ctx, s.user, name))
}

func (s *session) Delete(name string) error {
	return storeErr(s.srv.store.DeleteMailbox(s.ctx, s.user, name))
}

func (s *session) Rename(oldName, newName string, options *imap.RenameOptions) error {
	return storeErr(s.srv.store.RenameMailbox(s.ctx, s.user, oldName, newName))
}

func (s *session) Subscribe(name string) error {
	return storeErr(s.srv.store.SetSubscribed(s.ctx, s.user, name, true))
}

func (s *session) Unsubscribe(name string) error {
	return storeErr(s.srv.store.SetSubscribed(s.ctx, s.user, name, false))
}

func (s *session) Status(name string, options *imap.StatusOptions) (*imap.StatusData, error) {
	st, err := s.srv.store.MailboxStatus(s.ctx, s.user, name)
	if err != nil {
		return nil, storeErr(err)
	}
	return s.statusData(st, options), nil
}

func (s *session) statusData(st mailstore.MailboxStatus, options *imap.StatusOptions) *imap.StatusData {
	data := &imap.StatusData{Mailbox: st.Name}
	if options.NumMessages {
		data.NumMessages = &st.Messages
	}
	if options.NumRecent {
		var zero uint32 // \Recent is not kept
		data.NumRecent = &zero
	}
	if options.UIDNext {
		data.UIDNext = imap.UID(st.UIDNext)
	}
	if options.UIDValidity {
		data.UIDValidity = st.UIDValidity
	}
	if options.NumUnseen {
		data.NumUnseen = &st.Unseen
	}
	if options.NumDeleted {
		data.NumDeleted = &st.Deleted
	}
	if options.Size {
		data.Size = &st.Size
	}
	if options.AppendLimit {
		limit := s.srv.opts.AppendLimit
		data.AppendLimit = &limit
	}
	return data
}

func (s *session) List(w *imapserver.ListWriter, ref string, patterns []string, options *imap.ListOptions) error {
	if len(patterns) == 0 {
		// LIST "" "": the hierarchy delimiter.
		return w.WriteList(&imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}, Delim: delim})
	}
	mbs, err := s.srv.store.Mailboxes(s.ctx, s.user)
	if err != nil {
		return storeErr(err)
	}
	exists := make(map[string]bool, len(mbs))
	for _, mb := range mbs {
		exists[mb.Name] = true
	}
	if options.SelectSubscribed {
		// LSUB and LIST (SUBSCRIBED): subscribed names, which may no
		// longer exist.
		subs, err := s.srv.store.Subscriptions(s.ctx, s.user)
		if err != nil {
			return storeErr(err)
		}
		for _, name := range subs {
			if !listMatch(name, ref, patterns) {
				continue
			}
			attrs := []imap.MailboxAttr{imap.MailboxAttrSubscribed}
			if !exists[name] {
				attrs = append(attrs, imap.MailboxAttrNoSelect)
			}
			if err := w.WriteList(&imap.ListData{Attrs: attrs, Delim: delim, Mailbox: name}); err != nil {
				return err
			}
		}
		return nil
	}
	for i, mb := range mbs {
		if !listMatch(mb.Name, ref, patterns) {
			continue
		}
		attrs := []imap.MailboxAttr{imap.MailboxAttrHasNoChildren}
		// Names are sorted, so a child follows its parent.
		if i+1 < len(mbs) && strings.HasPrefix(mbs[i+1].Name, mb.Name+string(delim)) {
			attrs[0] = imap.MailboxAttrHasChildren
		}
		if options.ReturnSubscribed && mb.Subscribed {
			attrs = append(attrs, imap.MailboxAttrSubscribed)
		}
		data := &imap.ListData{Attrs: attrs, Delim: delim, Mailbox: mb.Name}
		if options.ReturnStatus != nil {
			st, err := s.srv.store.MailboxStatus(s.ctx, s.user, mb.Name)
			if err != nil {
				return storeErr(err)
			}
			data.Status = s.statusData(st, options.ReturnStatus)
		}
		if err := w.WriteList(data); err != nil {
			return err
		}
	}
	return nil
}

// listMatch matches a name against LIST patterns; INBOX matches whatever
// the case the client wrote it in.
func listMatch(name, ref string, patterns []string) bool {
	for _, p := range patterns {
		if imapserver.MatchList(name, delim, ref, p) {
			return true
		}
		if name == mailstore.Inbox || strings.HasPrefix(name, mailstore.Inbox+string(delim)) {
			if len(p) >= 5 && strings.EqualFold(p[:5], mailstore.Inbox) &&
				imapserver.MatchList(name, delim, ref, mailstore.Inbox+p[5:]) {
				return true
			}
		}
	}
	return false
}

// Append spools the literal as it arrives, within a whole-transfer
// deadline, and loads it back under the spool's memory budget only to
// store it. A refusal comes after imapserver has read (and dropped) the
// rest of the literal, within the same deadline.
func (s *session) Append(mailbox string, r imap.LiteralReader, options *imap.AppendOptions) (*imap.AppendData, error) {
	// imapserver resets the deadline when the command ends.
	_ = s.netConn.SetReadDeadline(time.Now().Add(s.srv.literalDeadline(r.Size())))
	// imapserver has refused a size over AppendLimit with NO [TOOBIG]
	// before the continuation: the literal cannot exceed r.Size().
	// A message that cannot fit the account is refused before it takes
	// spool room; the store checks again when it is stored.
	err := s.srv.store.CheckQuota(s.ctx, s.user, r.Size())
	var body *spool.Body
	if err == nil {
		body, err = s.srv.opts.Spool.Receive(r, r.Size())
	}
	if errors.Is(err, spool.ErrFull) || quotaErr(err) != nil {
		s.srv.log.Warn("imap APPEND refused", "remote", s.remote.String(), "user", s.user, "size", r.Size(), "err", err)
		// The rest is read here, within the deadline, so that a client
		// that stalls now is cut off too.
		if _, derr := io.Copy(io.Discard, r); derr != nil {
			return nil, s.cutOff(derr)
		}
		return nil, storeErr(err)
	}
	if err != nil {
		return nil, s.cutOff(err)
	}
	defer body.Close()
	if body.Size() != r.Size() {
		// The literal reader ends with io.EOF, not an error, when the
		// client hangs up mid-literal: never store the part that came.
		return nil, s.cutOff(fmt.Errorf("literal ended after %d of %d bytes", body.Size(), r.Size()))
	}
	raw, release, err := body.Load(s.ctx, 0)
	if err != nil {
		return nil, storeErr(err)
	}
	defer release()
	uidValidity, uid, err := s.srv.store.Append(s.ctx, s.user, mailbox, raw, flagStrings(options.Flags), options.Time)
	if err != nil {
		if errors.Is(err, mailstore.ErrNoSuchMailbox) {
			return nil, tryCreate(err)
		}
		return nil, storeErr(err)
	}
	return &imap.AppendData{UID: imap.UID(uid), UIDValidity: uidValidity}, nil
}

// cutOff ends a connection whose literal did not arrive in time (or at
// all): mid-literal, nothing else it sends can be read as a command.
func (s *session) cutOff(err error) error {
	s.srv.log.Info("imap APPEND cut off", "remote", s.remote.String(), "user", s.user, "err", err)
	_ = s.conn.Bye("Message not received in time")
	return fmt.Errorf("imap APPEND: %w", err)
}

func flagStrings(flags []imap.Flag) []string {
	out := make([]string, len(flags))
	for i, f := range flags {
		out[i] = string(f)
	}
	return out
}

func imapFlags(flags []string) []imap.Flag {
	out := make([]imap.Flag, len(flags))
	for i, f := range flags {
		out[i] = imap.Flag(f)
	}
	return out
}

// storeErr turns store (and spool) errors into IMAP responses; anything
// unexpected is passed on, and imapserver logs it and answers "Internal
// server error".
func storeErr(err error) error {
	if err == nil {
		return nil
	}
	if qe := quotaErr(err); qe != nil {
		return qe
	}
	code := imap.ResponseCode("")
	switch {
	case errors.Is(err, mailstore.ErrNoSuchMailbox):
		code = imap.ResponseCodeNonExistent
	case errors.Is(err, mailstore.ErrMailboxExists):
		code = imap.ResponseCodeAlreadyExists
	case errors.Is(err, mailstore.ErrMailboxHasChildren):
		code = imap.ResponseCodeHasChildren
	case errors.Is(err, mailstore.ErrCannotDeleteInbox),
		errors.Is(err, mailstore.ErrInvalidMailboxName),
		errors.Is(err, mailstore.ErrSameMailbox),
		errors.Is(err, mailstore.ErrInvalidFlag):
		code = imap.ResponseCodeCannot
	case errors.Is(err, mailstore.ErrNoSuchUser):
		code = imap.ResponseCodeNonExistent
	case errors.Is(err, context.Canceled), errors.Is(err, mailstore.ErrClosed):
		code = imap.ResponseCodeUnavailable
	case errors.Is(err, spool.ErrFull):
		// RFC 5530: a temporary failure, try again later.
		code = imap.ResponseCodeUnavailable
	default:
		return err
	}
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: code, Text: err.Error()}
}

func tryCreate(err error) error {
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTryCreate, Text: err.Error()}
}
