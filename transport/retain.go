package transport

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
)

// Retention bounds a folder that the handler moves messages into, such as
// a quarantine that anyone can fill by sending mail: the watcher keeps the
// newest messages (by UID, that is, by arrival in the folder), at most
// MaxMessages of them and MaxBytes together, and none that arrived on the
// server (INTERNALDATE) more than MaxAge ago. A zero bound is no bound.
//
// The watcher trims the folder in its own session, never in between two
// steps of a message: once after login, and after a batch of new mail when
// the folder may be over a bound or its oldest message too old (the
// watcher adds up what it moved there, so a trim that is not needed costs
// nothing). A trim keeps at most seven eighths of MaxMessages and MaxBytes,
// so that in a flood it runs once per eighth, not once per message. It
// deletes only in the selected Folder: STORE \Deleted and UID EXPUNGE (a
// server without UIDPLUS gets EXPUNGE, which removes what is \Deleted in
// that folder only).
type Retention struct {
	Folder      string
	MaxMessages int
	MaxBytes    int64
	MaxAge      time.Duration
	// Now is the clock for MaxAge (nil: time.Now).
	Now func() time.Time
}

func (r *Retention) check() error {
	if r.Folder == "" || strings.EqualFold(r.Folder, inbox) {
		return fmt.Errorf("retention: folder %q: only a folder other than INBOX can be trimmed", r.Folder)
	}
	if r.MaxMessages < 0 || r.MaxBytes < 0 || r.MaxAge < 0 {
		return fmt.Errorf("retention of %s: negative bound", r.Folder)
	}
	return nil
}

func (r *Retention) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// usage is what a session knows of a retained folder: the messages and
// bytes in it and the oldest arrival, counted at the last trim plus what
// the watcher moved there since. known is false until the first trim.
type usage struct {
	known    bool
	messages int
	bytes    int64
	oldest   time.Time
}

func (u *usage) add(size int64, at time.Time) {
	u.messages++
	u.bytes += size
	if !at.IsZero() && (u.oldest.IsZero() || at.Before(u.oldest)) {
		u.oldest = at
	}
}

// due reports whether the folder may be over one of r's bounds.
func (u *usage) due(r *Retention) bool {
	return !u.known ||
		(r.MaxMessages > 0 && u.messages > r.MaxMessages) ||
		(r.MaxBytes > 0 && u.bytes > r.MaxBytes) ||
		(r.MaxAge > 0 && !u.oldest.IsZero() && r.now().Sub(u.oldest) > r.MaxAge)
}

// sample is one message of a retained folder.
type sample struct {
	uid  imap.UID
	size int64
	at   time.Time
}

// keep splits a folder's messages into those r keeps and the UIDs to delete.
func (r *Retention) keep(msgs []sample) (kept usage, drop []imap.UID) {
	slices.SortFunc(msgs, func(a, b sample) int { return cmp.Compare(b.uid, a.uid) })
	maxN, maxB := r.MaxMessages-r.MaxMessages/8, r.MaxBytes-r.MaxBytes/8
	cut := time.Time{}
	if r.MaxAge > 0 {
		cut = r.now().Add(-r.MaxAge)
	}
	full := false
	kept.known = true
	for _, m := range msgs {
		full = full || (r.MaxMessages > 0 && kept.messages+1 > maxN) || (r.MaxBytes > 0 && kept.bytes+m.size > maxB)
		if full || (!m.at.IsZero() && m.at.Before(cut)) {
			drop = append(drop, m.uid)
			continue
		}
		kept.add(m.size, m.at)
	}
	return kept, drop
}

// retainAll trims the folders that are due; reselect says INBOX has to be
// selected again.
func (s *session) retainAll() (reselect bool, err error) {
	for i := range s.w.o.Retain {
		r := &s.w.o.Retain[i]
		if !s.usage[i].due(r) {
			continue
		}
		reselect = true
		u, err := s.trim(r)
		var refused *imap.Error
		if errors.As(err, &refused) {
			// The server will not (a folder missing or read-only, say):
			// mail must keep flowing all the same. The trim is tried again
			// when the folder is due, in this session or the next.
			s.w.log.Warn("cannot trim folder; trying again later", "folder", r.Folder, "err", err)
			u = usage{known: true}
		} else if err != nil {
			return true, fmt.Errorf("trim %s: %w", r.Folder, err)
		}
		s.usage[i] = u
	}
	return reselect, nil
}

// moved counts a message the watcher moved into a retained folder.
func (s *session) moved(folder string, p pending) {
	for i := range s.w.o.Retain {
		if s.w.o.Retain[i].Folder == folder {
			s.usage[i].add(p.size, p.at)
		}
	}
}

// trim selects r.Folder, lists its messages and deletes what r does not
// keep. The caller selects INBOX again.
func (s *session) trim(r *Retention) (usage, error) {
	var sel *imap.SelectData
	if err := s.guarded("select "+r.Folder, func() (err error) {
		sel, err = s.c.Select(r.Folder, nil).Wait()
		return err
	}); err != nil {
		return usage{}, err
	}
	if sel.NumMessages == 0 {
		return usage{known: true}, nil
	}
	var msgs []sample
	if err := s.guarded("list "+r.Folder, func() error {
		all, err := s.c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}},
			&imap.FetchOptions{UID: true, RFC822Size: true, InternalDate: true}).Collect()
		for _, m := range all {
			msgs = append(msgs, sample{uid: m.UID, size: m.RFC822Size, at: m.InternalDate})
		}
		return err
	}); err != nil {
		return usage{}, err
	}
	kept, drop := r.keep(msgs)
	if len(drop) == 0 {
		return kept, nil
	}
	if err := s.expunge(imap.UIDSetNum(drop...)); err != nil {
		return usage{}, err
	}
	s.w.log.Info("trimmed folder", "folder", r.Folder, "deleted", len(drop), "kept", kept.messages, "bytes", kept.bytes)
	return kept, nil
}
