package imapd

import (
	"errors"
	"slices"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/thingpost/thingpost/homenode/mailstore"
)

// selection is a connection's view of its selected mailbox.
type selection struct {
	id          uint64
	readOnly    bool
	uidValidity uint32
	watcher     *mailstore.Watcher

	// The client's view, touched only by the connection (and its Idle).
	uids      []uint32 // UIDs the client knows; index+1 is the sequence number
	uidNext   uint32   // added UIDs below this are already in the view
	searchRes []uint32 // SEARCH RETURN (SAVE) result, for "$"

	// Changes from the store, not yet told to the client.
	mu      sync.Mutex
	pending []mailstore.Change
	wake    chan struct{} // capacity 1: "pending may have grown"
}

// notify is the store's watcher callback: queue and wake, never block.
func (sel *selection) notify(cs []mailstore.Change) {
	sel.mu.Lock()
	sel.pending = append(sel.pending, cs...)
	sel.mu.Unlock()
	select {
	case sel.wake <- struct{}{}:
	default:
	}
}

func (sel *selection) close() {
	sel.watcher.Close()
}

func (sel *selection) seqOf(uid uint32) int {
	i, ok := slices.BinarySearch(sel.uids, uid)
	if !ok {
		return 0
	}
	return i + 1
}

// forget removes a UID from the view and returns its former sequence
// number (0 if the client did not know it).
func (sel *selection) forget(uid uint32) uint32 {
	seq := sel.seqOf(uid)
	if seq > 0 {
		sel.uids = slices.Delete(sel.uids, seq-1, seq)
	}
	return uint32(seq)
}

func (s *session) Select(name string, options *imap.SelectOptions) (*imap.SelectData, error) {
	sel := &selection{readOnly: options.ReadOnly, wake: make(chan struct{}, 1)}
	w, snap, err := s.srv.store.Watch(s.ctx, s.user, name, sel.notify)
	if err != nil {
		return nil, storeErr(err)
	}
	sel.id, sel.uidValidity, sel.uidNext, sel.watcher = snap.ID, snap.UIDValidity, snap.UIDNext, w
	sel.uids = make([]uint32, len(snap.Messages))
	var firstUnseen uint32
	used := map[string]bool{}
	var keywords []imap.Flag
	for i, m := range snap.Messages {
		sel.uids[i] = m.UID
		if firstUnseen == 0 && !slices.Contains(m.Flags, mailstore.FlagSeen) {
			firstUnseen = uint32(i + 1)
		}
		for _, f := range m.Flags {
			if len(f) > 0 && f[0] != '\\' && !used[f] {
				used[f] = true
				keywords = append(keywords, imap.Flag(f))
			}
		}
	}
	s.sel = sel
	flags := append([]imap.Flag{imap.FlagSeen, imap.FlagAnswered, imap.FlagFlagged, imap.FlagDeleted, imap.FlagDraft}, keywords...)
	permanent := []imap.Flag{}
	if !sel.readOnly {
		permanent = append([]imap.Flag{imap.FlagSeen, imap.FlagAnswered, imap.FlagFlagged, imap.FlagDeleted, imap.FlagDraft}, imap.FlagWildcard)
	}
	return &imap.SelectData{
		Flags:             flags,
		PermanentFlags:    permanent,
		NumMessages:       uint32(len(sel.uids)),
		FirstUnseenSeqNum: firstUnseen,
		UIDNext:           imap.UID(sel.uidNext),
		UIDValidity:       sel.uidValidity,
	}, nil
}

func (s *session) Unselect() error {
	if s.sel != nil {
		s.sel.close()
		s.sel = nil
	}
	return nil
}

// Poll writes the queued changes of the selected mailbox. Without
// allowExpunge (during FETCH, STORE, SEARCH) it stops before the first
// expunge of a message the client knows, which stays queued.
func (s *session) Poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	return s.poll(s.sel, w, allowExpunge)
}

func (s *session) poll(sel *selection, w *imapserver.UpdateWriter, allowExpunge bool) error {
	if sel == nil {
		return nil
	}
	sel.mu.Lock()
	changes := sel.pending
	sel.pending = nil
	sel.mu.Unlock()

	announced := len(sel.uids)
	flushExists := func() error {
		if len(sel.uids) == announced {
			return nil
		}
		announced = len(sel.uids)
		return w.WriteNumMessages(uint32(announced))
	}
	for i, c := range changes {
		var err error
		switch c.Kind {
		case mailstore.MessageAdded:
			if c.UID >= sel.uidNext {
				sel.uids = append(sel.uids, c.UID)
				sel.uidNext = c.UID + 1
			}
		case mailstore.MessageExpunged:
			if sel.seqOf(c.UID) == 0 {
				continue
			}
			if !allowExpunge {
				sel.mu.Lock()
				sel.pending = append(slices.Clone(changes[i:]), sel.pending...)
				sel.mu.Unlock()
				return flushExists()
			}
			if err = flushExists(); err == nil {
				seq := sel.forget(c.UID)
				announced--
				err = w.WriteExpunge(seq)
			}
		case mailstore.FlagsChanged:
			seq := sel.seqOf(c.UID)
			if seq == 0 {
				continue
			}
			if err = flushExists(); err == nil {
				err = w.WriteMessageFlags(uint32(seq), imap.UID(c.UID), imapFlags(c.Flags))
			}
		case mailstore.MailboxDeleted:
			// Like Dovecot: the client cannot go on with a mailbox that no
			// longer exists.
			return s.conn.Bye("Selected mailbox was deleted")
		}
		if err != nil {
			return err
		}
	}
	return flushExists()
}

// Idle writes changes as they come until stop is closed.
func (s *session) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.idlers.Add(1)
	sel := s.sel
	s.mu.Unlock()
	defer s.idlers.Done()
	if sel == nil {
		select {
		case <-stop:
		case <-s.ctx.Done():
		}
		return nil
	}
	if s.srv.idleHook != nil {
		s.srv.idleHook()
	}
	// The registration race: a change committed after "+ idling" was sent
	// but before this goroutine waits on wake is already queued (the
	// watcher queues whether or not we idle). Flush it now; anything later
	// fills wake, so the loop cannot miss it.
	if err := s.poll(sel, w, true); err != nil {
		return err
	}
	for {
		select {
		case <-sel.wake:
			if err := s.poll(sel, w, true); err != nil {
				return err
			}
		case <-stop:
			return nil
		case <-s.ctx.Done():
			return nil
		}
	}
}

// msgRef is a message of the client's view.
type msgRef struct {
	seq uint32
	uid uint32
}

var errBadSeq = &imap.Error{
	Type: imap.StatusResponseTypeBad,
	Text: "Invalid message sequence number",
}

// resolve turns a command's sequence set, UID set or "$" into the messages
// of the client's view it names, in sequence order. A sequence number
// beyond the view is an error (RFC 9051 6.4.5); UIDs that do not exist are
// simply not matched.
func (sel *selection) resolve(numSet imap.NumSet) ([]msgRef, error) {
	var refs []msgRef
	switch set := numSet.(type) {
	case imap.SeqSet:
		n := uint32(len(sel.uids))
		if n == 0 && set.Dynamic() {
			return nil, nil // "1:*" in an empty mailbox: nothing, not an error
		}
		static := make(imap.SeqSet, len(set))
		for i, r := range set {
			start, stop := staticRange(r.Start, r.Stop, n)
			if start == 0 || stop > n {
				return nil, errBadSeq
			}
			static[i] = imap.SeqRange{Start: start, Stop: stop}
		}
		for i, uid := range sel.uids {
			if static.Contains(uint32(i + 1)) {
				refs = append(refs, msgRef{seq: uint32(i + 1), uid: uid})
			}
		}
	case imap.UIDSet:
		var static imap.UIDSet
		if imap.IsSearchRes(set) {
			for _, uid := range sel.searchRes {
				static.AddNum(imap.UID(uid))
			}
		} else {
			var max uint32
			if len(sel.uids) > 0 {
				max = sel.uids[len(sel.uids)-1]
			}
			for _, r := range set {
				start, stop := staticRange(uint32(r.Start), uint32(r.Stop), max)
				static = append(static, imap.UIDRange{Start: imap.UID(start), Stop: imap.UID(stop)})
			}
		}
		for i, uid := range sel.uids {
			if static.Contains(imap.UID(uid)) {
				refs = append(refs, msgRef{seq: uint32(i + 1), uid: uid})
			}
		}
	default:
		return nil, errors.New("imapd: unknown number set type")
	}
	return refs, nil
}

// staticRange replaces "*" (0) by max and orders the range.
func staticRange(start, stop, max uint32) (uint32, uint32) {
	if start == 0 {
		start = max
	}
	if stop == 0 {
		stop = max
	}
	if start > stop {
		start, stop = stop, start
	}
	return start, stop
}

func uidsOf(refs []msgRef) []uint32 {
	out := make([]uint32, len(refs))
	for i, r := range refs {
		out[i] = r.uid
	}
	return out
}

var errReadOnly = &imap.Error{
	Type: imap.StatusResponseTypeNo,
	Code: imap.ResponseCode("READ-ONLY"),
	Text: "Mailbox is read-only (EXAMINE)",
}

func (s *session) Store(w *imapserver.FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, options *imap.StoreOptions) error {
	sel := s.sel
	if sel.readOnly {
		return errReadOnly
	}
	refs, err := sel.resolve(numSet)
	if err != nil || len(refs) == 0 {
		return err
	}
	var op mailstore.FlagOp
	switch flags.Op {
	case imap.StoreFlagsAdd:
		op = mailstore.FlagsAdd
	case imap.StoreFlagsDel:
		op = mailstore.FlagsRemove
	default:
		op = mailstore.FlagsReplace
	}
	infos, err := s.srv.store.UpdateFlags(s.ctx, s.user, sel.id, uidsOf(refs), op, flagStrings(flags.Flags), sel.watcher)
	if err != nil {
		return storeErr(err)
	}
	if flags.Silent {
		return nil
	}
	byUID := make(map[uint32][]string, len(infos))
	for _, in := range infos {
		byUID[in.UID] = in.Flags
	}
	for _, r := range refs {
		f, ok := byUID[r.uid]
		if !ok {
			continue // expunged meanwhile; its EXPUNGE is queued
		}
		mw := w.CreateMessage(r.seq)
		mw.WriteUID(imap.UID(r.uid))
		mw.WriteFlags(imapFlags(f))
		if err := mw.Close(); err != nil {
			return err
		}
	}
	return nil
}

// Expunge removes the \Deleted messages (among uids for UID EXPUNGE). The
// EXPUNGE responses come from the change queue, written by the poll that
// follows the command; for CLOSE the queue is dropped with the selection.
// In a read-only (EXAMINE) mailbox nothing is removed: CLOSE must succeed
// there, and imapserver calls this same method for CLOSE.
func (s *session) Expunge(w *imapserver.ExpungeWriter, uids *imap.UIDSet) error {
	sel := s.sel
	if sel.readOnly {
		return nil
	}
	var list []uint32 // nil: every \Deleted message
	if uids != nil {
		refs, err := sel.resolve(*uids)
		if err != nil {
			return err
		}
		if len(refs) == 0 {
			return nil
		}
		list = uidsOf(refs)
	}
	_, err := s.srv.store.Expunge(s.ctx, s.user, sel.id, list)
	return storeErr(err)
}

func (s *session) Copy(numSet imap.NumSet, dest string) (*imap.CopyData, error) {
	refs, err := s.sel.resolve(numSet)
	if err != nil {
		return nil, err
	}
	res, err := s.srv.store.Copy(s.ctx, s.user, s.sel.id, uidsOf(refs), dest)
	if err != nil {
		if errors.Is(err, mailstore.ErrNoSuchMailbox) {
			return nil, tryCreate(err)
		}
		return nil, storeErr(err)
	}
	return copyData(res), nil
}

// copyData is the COPYUID response; none when nothing was copied (an empty
// set cannot be written).
func copyData(res mailstore.CopyResult) *imap.CopyData {
	if len(res.SourceUIDs) == 0 {
		return nil
	}
	var src, dst imap.UIDSet
	for i := range res.SourceUIDs {
		src.AddNum(imap.UID(res.SourceUIDs[i]))
		dst.AddNum(imap.UID(res.DestUIDs[i]))
	}
	return &imap.CopyData{UIDValidity: res.UIDValidity, SourceUIDs: src, DestUIDs: dst}
}

func (s *session) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
	sel := s.sel
	if sel.readOnly {
		return errReadOnly
	}
	refs, err := sel.resolve(numSet)
	if err != nil {
		return err
	}
	res, err := s.srv.store.Move(s.ctx, s.user, sel.id, uidsOf(refs), dest)
	if err != nil {
		if errors.Is(err, mailstore.ErrNoSuchMailbox) {
			return tryCreate(err)
		}
		return storeErr(err)
	}
	data := copyData(res)
	if data == nil {
		return nil
	}
	if err := w.WriteCopyData(data); err != nil {
		return err
	}
	// Our own expunges, written now as MOVE requires; the same changes in
	// the queue are skipped later because the view no longer has them.
	for _, uid := range res.SourceUIDs {
		if seq := sel.forget(uid); seq > 0 {
			if err := w.WriteExpunge(seq); err != nil {
				return err
			}
		}
	}
	return nil
}
