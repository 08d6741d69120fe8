package transport

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// Msg is one message handed to a Handler.
type Msg struct {
	UIDValidity uint32
	UID         uint32
	// Size is the server's RFC822.SIZE.
	Size int64
	// Raw is the whole message as stored (BODY.PEEK[], so \Seen is not set).
	// It is nil when Size exceeds WatchOptions.MaxMessageSize: the handler
	// decides what to do with a message it cannot see (quarantine it).
	Raw []byte
}

// Disposition says what the watcher does with a handled message.
type Disposition struct {
	action action
	folder string
}

type action int

const (
	actKeep action = iota
	actDelete
	actMove
)

// Keep leaves the message in INBOX.
func Keep() Disposition { return Disposition{} }

// Delete removes the message (\Deleted and EXPUNGE).
func Delete() Disposition { return Disposition{action: actDelete} }

// Move moves the message to folder (MOVE, or COPY + \Deleted + EXPUNGE when
// the server lacks MOVE). The folder is created if the server asks for it
// (TRYCREATE).
func Move(folder string) Disposition { return Disposition{action: actMove, folder: folder} }

func (d Disposition) String() string {
	switch d.action {
	case actDelete:
		return "delete"
	case actMove:
		return "move to " + d.folder
	}
	return "keep"
}

// Handler processes one message. It returns what to do with it. An error
// means "could not process it now": nothing is applied or recorded, the
// session ends, and the message is offered again after the reconnect
// backoff. A message that will never be processable must not return an
// error; move it aside instead, or it blocks the mailbox.
type Handler func(ctx context.Context, m Msg) (Disposition, error)

// ConnState is the watcher's connection state, for a status display.
type ConnState int

// The connection states reported through WatchOptions.OnStatus.
const (
	StateConnecting   ConnState = iota // dialling and logging in
	StateCatchingUp                    // logged in, handing over unprocessed mail
	StateIdle                          // up to date, waiting for new mail (IDLE or polling)
	StateReconnecting                  // the session failed; Status.Err says why
	StateStopped                       // the context ended; Watch returns
)

func (s ConnState) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateCatchingUp:
		return "catching up"
	case StateIdle:
		return "idle"
	case StateReconnecting:
		return "reconnecting"
	case StateStopped:
		return "stopped"
	}
	return fmt.Sprintf("ConnState(%d)", int(s))
}

// Status is one status report.
type Status struct {
	State ConnState
	Err   error         // StateReconnecting: what ended the session
	Retry time.Duration // StateReconnecting: wait before the next attempt
}

// UIDValidityPolicy says what to do when the mailbox's UIDVALIDITY is not
// the one saved (the server rebuilt the mailbox, so saved UIDs mean
// nothing).
type UIDValidityPolicy int

const (
	// Reprocess hands every message now in the mailbox to the handler
	// again; the caller's replay guard (Message-ID) prevents double
	// execution. This loses nothing and is the default.
	Reprocess UIDValidityPolicy = iota
	// SkipExisting treats the messages now in the mailbox as processed and
	// hands over only mail that arrives later.
	SkipExisting
)

// WatchOptions tune Watch. The zero value is usable.
type WatchOptions struct {
	// CreateFolders are created after login if missing (e.g. the folders
	// that Move dispositions use: "Processed", "Quarantine").
	CreateFolders []string
	// OnUIDValidityChange: see UIDValidityPolicy. A first run (no saved
	// state) always processes what is in the mailbox.
	OnUIDValidityChange UIDValidityPolicy
	// OnStatus receives state changes. It runs on the watcher's goroutine:
	// it must return quickly (hand over to the UI thread, e.g. fyne.Do).
	OnStatus func(Status)
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// IdleRefresh: IDLE is ended and re-issued this often, with a deadline
	// on the server's answer, so a half-dead connection is noticed, and the
	// mailbox is re-checked (which also covers a push the server failed to
	// send). Default 4 minutes.
	IdleRefresh time.Duration
	// PollInterval: how often to check for mail when the server has no
	// IDLE. Default 1 minute.
	PollInterval time.Duration
	// CommandTimeout bounds connect+login and every single IMAP command,
	// including a message download. Default 2 minutes.
	CommandTimeout time.Duration
	// MinBackoff and MaxBackoff bound the reconnect delay, which doubles
	// per failed attempt, with jitter. Defaults 1 second and 5 minutes.
	MinBackoff, MaxBackoff time.Duration
	// MaxMessageSize: larger messages reach the handler without Raw.
	// Default 32 MiB.
	MaxMessageSize int64
	// Retain bounds folders the handler moves messages into (see
	// Retention); none may be INBOX.
	Retain []Retention
}

func (o *WatchOptions) withDefaults() WatchOptions {
	r := *o
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	set(&r.IdleRefresh, 4*time.Minute)
	set(&r.PollInterval, time.Minute)
	set(&r.CommandTimeout, 2*time.Minute)
	set(&r.MinBackoff, time.Second)
	set(&r.MaxBackoff, 5*time.Minute)
	if r.MaxBackoff < r.MinBackoff {
		r.MaxBackoff = r.MinBackoff
	}
	if r.MaxMessageSize <= 0 {
		r.MaxMessageSize = 32 << 20
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	return r
}

const inbox = "INBOX"

// Watch follows the account's INBOX until ctx ends: it connects, logs in,
// selects INBOX, hands every message above the saved UID to h in UID order,
// applies the disposition h returns, saves the progress (only after the
// disposition is applied), then waits with IDLE for new mail. On any error
// it reconnects with exponential backoff and jitter and catches up again.
//
// Watch returns nil when ctx ends (after a clean DONE and LOGOUT when
// connected), or an error at once when the arguments are unusable. Errors
// of a session are reported through OnStatus and the log, not returned:
// a wrong password is retried with backoff until the caller stops Watch.
func Watch(ctx context.Context, acct Account, store StateStore, h Handler, opts WatchOptions) error {
	if err := acct.Validate(); err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	if store == nil || h == nil {
		return errors.New("watch: a StateStore and a Handler are required")
	}
	for i := range opts.Retain {
		if err := opts.Retain[i].check(); err != nil {
			return fmt.Errorf("watch: %w", err)
		}
	}
	w := &watcher{
		acct:  acct,
		store: store,
		h:     h,
		o:     opts.withDefaults(),
		wake:  make(chan struct{}, 1),
	}
	w.log = w.o.Logger.With("imap", acct.IMAP.HostPort, "user", acct.user(&acct.IMAP))
	return w.run(ctx)
}

type watcher struct {
	acct  Account
	store StateStore
	h     Handler
	o     WatchOptions
	log   *slog.Logger
	// wake is signalled (never blocking) by the IMAP reader goroutine on
	// EXISTS.
	wake chan struct{}
	last Status
}

func (w *watcher) status(s Status) {
	if s.Err == nil && w.last.Err == nil && s.State == w.last.State {
		return
	}
	w.last = s
	if w.o.OnStatus != nil {
		w.o.OnStatus(s)
	}
}

func (w *watcher) run(ctx context.Context) error {
	defer w.status(Status{State: StateStopped})
	attempt := 0
	for {
		w.status(Status{State: StateConnecting})
		healthy, err := w.session(ctx)
		if ctx.Err() != nil {
			w.log.Info("watcher stopped")
			return nil
		}
		if healthy {
			attempt = 0
		}
		d := backoff(w.o.MinBackoff, w.o.MaxBackoff, attempt)
		attempt++
		w.log.Warn("imap session ended; reconnecting", "err", err, "retry_in", d)
		w.status(Status{State: StateReconnecting, Err: err, Retry: d})
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			w.log.Info("watcher stopped")
			return nil
		case <-t.C:
		}
	}
}

// backoff is min*2^attempt capped at max, of which a random half is taken
// off so that many clients do not reconnect in step.
func backoff(minD, maxD time.Duration, attempt int) time.Duration {
	d := maxD
	if attempt < 32 && minD<<attempt > 0 && minD<<attempt < maxD {
		d = minD << attempt
	}
	return d/2 + rand.N(d/2+1)
}

// session runs one connection. healthy reports whether it got as far as
// being up to date, which resets the backoff.
func (w *watcher) session(ctx context.Context) (healthy bool, err error) {
	cctx, cancel := context.WithTimeout(ctx, w.o.CommandTimeout)
	c, conn, err := connectIMAP(cctx, &w.acct, &imapclient.Options{
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					select {
					case w.wake <- struct{}{}:
					default:
					}
				}
			},
		},
	})
	cancel()
	if err != nil {
		return false, err
	}
	s := &session{w: w, c: c, conn: conn, usage: make([]usage, len(w.o.Retain))}
	defer c.Close()
	w.log.Debug("logged in")
	w.status(Status{State: StateCatchingUp})

	if err := s.createFolders(); err != nil {
		return false, err
	}
	if _, err := s.retainAll(); err != nil {
		return false, err
	}
	st, err := s.selectInbox(ctx)
	if err != nil {
		return false, err
	}
	for {
		if err := s.catchUp(ctx, &st); err != nil {
			return healthy, err
		}
		if ctx.Err() != nil {
			return healthy, s.logout()
		}
		// Mail that comes during a trim is announced when INBOX is
		// selected again, and the wait below returns for it.
		if reselect, err := s.retainAll(); err != nil {
			return healthy, err
		} else if reselect {
			if st, err = s.selectInbox(ctx); err != nil {
				return healthy, err
			}
		}
		healthy = true
		if err := s.wait(ctx); err != nil {
			return healthy, err
		}
		if ctx.Err() != nil {
			return healthy, s.logout()
		}
	}
}

type session struct {
	w        *watcher
	c        *imapclient.Client
	conn     net.Conn
	timedOut atomic.Bool
	// usage follows the folders of WatchOptions.Retain, in order.
	usage []usage
}

// guarded runs one command exchange under CommandTimeout. The client sets
// no read deadline while it waits for a reply, so on a dead connection only
// closing the socket ends the wait.
func (s *session) guarded(what string, f func() error) error {
	t := time.AfterFunc(s.w.o.CommandTimeout, func() {
		s.timedOut.Store(true)
		s.conn.Close()
	})
	err := f()
	t.Stop()
	if err != nil {
		if s.timedOut.Load() {
			return fmt.Errorf("%s: %w: no answer within %v: %w", what, ErrTimeout, s.w.o.CommandTimeout, err)
		}
		return fmt.Errorf("%s: %w", what, classify(err))
	}
	return nil
}

func (s *session) logout() error {
	return s.guarded("logout", func() error { return s.c.Logout().Wait() })
}

func (s *session) createFolders() error {
	for _, f := range s.w.o.CreateFolders {
		if err := s.ensureFolder(f); err != nil {
			return err
		}
	}
	return nil
}

func (s *session) ensureFolder(name string) error {
	var exists bool
	err := s.guarded("list "+name, func() error {
		l, err := s.c.List("", name, nil).Collect()
		exists = len(l) > 0
		return err
	})
	if err != nil || exists {
		return err
	}
	s.w.log.Info("creating folder", "folder", name)
	return s.guarded("create "+name, func() error { return s.c.Create(name, nil).Wait() })
}

// selectInbox selects INBOX and reconciles the saved state with the
// mailbox's UIDVALIDITY.
func (s *session) selectInbox(ctx context.Context) (State, error) {
	var sel *imap.SelectData
	if err := s.guarded("select", func() (err error) {
		sel, err = s.c.Select(inbox, nil).Wait()
		return err
	}); err != nil {
		return State{}, err
	}
	st, err := s.w.store.LoadState(ctx)
	if err != nil {
		return State{}, fmt.Errorf("load state: %w", err)
	}
	// A UIDNEXT at or below the saved UID with the same UIDVALIDITY breaks
	// RFC 9051 (a server restored from a backup, say): new mail would get
	// UIDs we believe processed. It is handled as a UIDVALIDITY change.
	rewound := sel.UIDNext > 0 && uint32(sel.UIDNext) <= st.LastUID
	switch {
	case st.UIDValidity == sel.UIDValidity && !rewound:
		return st, nil
	case st.UIDValidity == 0:
		st = State{UIDValidity: sel.UIDValidity}
	case s.w.o.OnUIDValidityChange == SkipExisting:
		s.w.log.Warn("mailbox was rebuilt (UIDVALIDITY changed or UIDNEXT went back); skipping the messages present",
			"old_uidvalidity", st.UIDValidity, "uidvalidity", sel.UIDValidity, "last_uid", st.LastUID, "uidnext", sel.UIDNext)
		st = State{UIDValidity: sel.UIDValidity}
		if sel.UIDNext > 0 {
			st.LastUID = uint32(sel.UIDNext) - 1
		}
	default:
		s.w.log.Warn("mailbox was rebuilt (UIDVALIDITY changed or UIDNEXT went back); reprocessing it",
			"old_uidvalidity", st.UIDValidity, "uidvalidity", sel.UIDValidity, "last_uid", st.LastUID, "uidnext", sel.UIDNext)
		st = State{UIDValidity: sel.UIDValidity}
	}
	if err := s.w.store.SaveState(ctx, st); err != nil {
		return State{}, fmt.Errorf("save state: %w", err)
	}
	return st, nil
}

type pending struct {
	uid  uint32
	size int64
	at   time.Time // INTERNALDATE
}

// catchUp hands every message above st.LastUID to the handler, in order.
func (s *session) catchUp(ctx context.Context, st *State) error {
	if st.LastUID == math.MaxUint32 {
		return nil
	}
	var list []pending
	err := s.guarded("list new messages", func() error {
		// UID FETCH n:* answers with the last message even when its UID is
		// below n (RFC 9051 6.4.8), hence the filter.
		set := imap.UIDSet{imap.UIDRange{Start: imap.UID(st.LastUID + 1), Stop: 0}}
		msgs, err := s.c.Fetch(set, &imap.FetchOptions{UID: true, RFC822Size: true, InternalDate: len(s.w.o.Retain) > 0}).Collect()
		for _, m := range msgs {
			if uint32(m.UID) > st.LastUID {
				list = append(list, pending{uid: uint32(m.UID), size: m.RFC822Size, at: m.InternalDate})
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	// The server sends them in sequence order, which is UID order; sorting
	// anyway costs nothing and guards the progress invariant.
	slices.SortFunc(list, func(a, b pending) int { return cmp.Compare(a.uid, b.uid) })
	for _, p := range list {
		if ctx.Err() != nil {
			return nil
		}
		if err := s.process(ctx, st, p); err != nil {
			return err
		}
	}
	return nil
}

func (s *session) process(ctx context.Context, st *State, p pending) error {
	m := Msg{UIDValidity: st.UIDValidity, UID: p.uid, Size: p.size}
	gone := false
	if p.size <= s.w.o.MaxMessageSize {
		var err error
		m.Raw, gone, err = s.fetchBody(p.uid)
		if err != nil {
			return err
		}
	}
	if gone {
		// Expunged by another client meanwhile: nothing left to process.
		s.w.log.Info("message vanished before download", "uid", p.uid)
	} else {
		d, err := s.w.h(ctx, m)
		if err != nil {
			return fmt.Errorf("handler, UID %d: %w", p.uid, err)
		}
		if err := s.apply(p.uid, d); err != nil {
			return fmt.Errorf("UID %d, %s: %w", p.uid, d, err)
		}
		if d.action == actMove {
			s.moved(d.folder, p)
		}
		s.w.log.Debug("message processed", "uid", p.uid, "disposition", d.String())
	}
	st.LastUID = p.uid
	if err := s.w.store.SaveState(ctx, *st); err != nil {
		return fmt.Errorf("save state after UID %d: %w", p.uid, err)
	}
	return nil
}

// fetchBody downloads one message. gone is true when the server no longer
// has it.
func (s *session) fetchBody(uid uint32) (raw []byte, gone bool, err error) {
	section := &imap.FetchItemBodySection{Peek: true}
	err = s.guarded(fmt.Sprintf("fetch UID %d", uid), func() error {
		cmd := s.c.Fetch(imap.UIDSetNum(imap.UID(uid)), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}})
		defer cmd.Close()
		found := false
		for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
			var thisUID imap.UID
			var body []byte
			for item := msg.Next(); item != nil; item = msg.Next() {
				switch it := item.(type) {
				case imapclient.FetchItemDataUID:
					thisUID = it.UID
				case imapclient.FetchItemDataBodySection:
					if it.Literal == nil {
						continue
					}
					b, rerr := io.ReadAll(io.LimitReader(it.Literal, s.w.o.MaxMessageSize+1))
					if rerr != nil {
						return rerr
					}
					if int64(len(b)) > s.w.o.MaxMessageSize {
						return fmt.Errorf("message larger than announced (over %d bytes)", s.w.o.MaxMessageSize)
					}
					body = b
				}
			}
			if uint32(thisUID) == uid && body != nil {
				raw, found = body, true
			}
		}
		gone = !found
		return cmd.Close()
	})
	return raw, gone, err
}

func (s *session) apply(uid uint32, d Disposition) error {
	switch d.action {
	case actDelete:
		return s.expunge(imap.UIDSetNum(imap.UID(uid)))
	case actMove:
		if d.folder == "" {
			return errors.New("move: empty folder name")
		}
		if strings.EqualFold(d.folder, inbox) {
			// Moving INBOX into itself would make a new UID and hand the
			// message over again, forever.
			s.w.log.Warn("handler asked to move a message to INBOX; keeping it", "uid", uid)
			return nil
		}
		err := s.move(uid, d.folder)
		var ie *imap.Error
		if errors.As(err, &ie) && ie.Code == imap.ResponseCodeTryCreate {
			if err := s.ensureFolder(d.folder); err != nil {
				return err
			}
			err = s.move(uid, d.folder)
		}
		return err
	}
	return nil
}

// move uses MOVE when offered; otherwise COPY, and only after the copy
// succeeded, \Deleted + EXPUNGE. (imapclient's own fallback pipelines the
// three commands, so a failed COPY would still delete the message.)
func (s *session) move(uid uint32, folder string) error {
	set := imap.UIDSetNum(imap.UID(uid))
	if s.c.Caps().Has(imap.CapMove) {
		return s.guarded("move", func() error {
			_, err := s.c.Move(set, folder).Wait()
			return err
		})
	}
	if err := s.guarded("copy", func() error {
		_, err := s.c.Copy(set, folder).Wait()
		return err
	}); err != nil {
		return err
	}
	return s.expunge(set)
}

// expunge deletes messages of the selected folder: UID EXPUNGE when the
// server has UIDPLUS, otherwise a plain EXPUNGE (which also removes
// whatever else is \Deleted there).
func (s *session) expunge(set imap.UIDSet) error {
	if err := s.guarded("store \\Deleted", func() error {
		return s.c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close()
	}); err != nil {
		return err
	}
	return s.guarded("expunge", func() error {
		if s.c.Caps().Has(imap.CapUIDPlus) {
			return s.c.UIDExpunge(set).Close()
		}
		return s.c.Expunge().Close()
	})
}

// wait blocks until there may be new mail, the refresh interval passed, or
// ctx ended: IDLE when the server has it, otherwise a timer and NOOP.
func (s *session) wait(ctx context.Context) error {
	if !s.c.Caps().Has(imap.CapIdle) {
		s.w.status(Status{State: StateIdle})
		t := time.NewTimer(s.w.o.PollInterval)
		defer t.Stop()
		// A connection that closes meanwhile (its capabilities are empty
		// then, so a closing IDLE server lands here too) ends the wait: the
		// NOOP fails and the watcher reconnects, not a poll interval later.
		select {
		case <-ctx.Done():
			return nil
		case <-s.w.wake:
		case <-t.C:
		case <-s.c.Closed():
		}
		return s.guarded("noop", func() error { return s.c.Noop().Wait() })
	}

	var idle *imapclient.IdleCommand
	if err := s.guarded("idle", func() (err error) {
		idle, err = s.c.Idle()
		return err
	}); err != nil {
		return err
	}
	s.w.status(Status{State: StateIdle})
	t := time.NewTimer(s.w.o.IdleRefresh)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-s.w.wake:
	case <-t.C:
	case <-s.c.Closed():
	}
	// DONE, and the server must confirm in time: this is the watchdog.
	return s.guarded("idle done", func() error {
		if err := idle.Close(); err != nil {
			return err
		}
		return idle.Wait()
	})
}
