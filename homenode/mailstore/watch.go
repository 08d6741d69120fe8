package mailstore

import (
	"context"

	bolt "go.etcd.io/bbolt"
)

// ChangeKind says what happened to a mailbox.
type ChangeKind uint8

// The kinds of Change.
const (
	// MessageAdded: a message with UID (and Flags) was delivered, appended,
	// copied or moved into the mailbox. UIDs of added messages increase.
	MessageAdded ChangeKind = iota + 1
	// MessageExpunged: the message with UID was removed.
	MessageExpunged
	// FlagsChanged: the message with UID now has Flags.
	FlagsChanged
	// MailboxDeleted: the mailbox itself was deleted (or its user was).
	MailboxDeleted
)

// Change is one committed change to a watched mailbox.
type Change struct {
	Kind  ChangeKind
	UID   uint32
	Flags []string
}

type mailboxKey struct {
	addr string
	id   uint64
}

// events collects the changes of one transaction, published after commit.
type events struct {
	list []event
	// stored counts the message bytes the transaction wrote so far, for
	// the free-space check of the next write in it.
	stored int64
}

type event struct {
	key    mailboxKey
	change Change
	origin *Watcher // not told about its own change (STORE .SILENT)
}

func (ev *events) add(key mailboxKey, c Change, origin *Watcher) {
	ev.list = append(ev.list, event{key: key, change: c, origin: origin})
}

// Watcher receives the changes of one mailbox. Close it when done.
type Watcher struct {
	s   *Store
	key mailboxKey
	fn  func([]Change)
}

// Snapshot is the state of a mailbox, taken after a Watcher was registered:
// every change committed after the snapshot reaches the watcher, and a
// change already contained in it may reach the watcher too (so consumers
// ignore MessageAdded UIDs below UIDNext and expunges of unknown UIDs).
type Snapshot struct {
	ID          uint64
	Name        string
	UIDValidity uint32
	UIDNext     uint32
	Messages    []MessageInfo // in UID order
}

// Watch registers fn for the committed changes of the mailbox of addr, and
// returns the registration with a snapshot of the mailbox. fn is called in
// commit order, from the store's committer, before the write that caused
// the change returns to its caller; it must not block and must not call the
// Store. After Watcher.Close returns, fn is not called again.
func (s *Store) Watch(ctx context.Context, addr, mailbox string, fn func([]Change)) (*Watcher, *Snapshot, error) {
	addr, mailbox, err := normAddrMailbox(addr, mailbox)
	if err != nil {
		return nil, nil, err
	}
	var id uint64
	err = s.viewUser(ctx, addr, func(u *bolt.Bucket) error {
		var err error
		id, err = mailboxID(u, mailbox)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	w := &Watcher{s: s, key: mailboxKey{addr: addr, id: id}, fn: fn}
	s.watchMu.Lock()
	set := s.watchers[w.key]
	if set == nil {
		set = make(map[*Watcher]struct{})
		s.watchers[w.key] = set
	}
	set[w] = struct{}{}
	s.watchMu.Unlock()

	snap := &Snapshot{ID: id, Name: mailbox}
	err = s.viewMailbox(ctx, addr, id, func(mb *mbox) error {
		snap.UIDValidity = mb.uidValidity()
		snap.UIDNext = mb.uidNext()
		var err error
		snap.Messages, err = mb.infos(nil)
		return err
	})
	if err != nil {
		w.Close()
		return nil, nil, err
	}
	return w, snap, nil
}

// Close unregisters the watcher.
func (w *Watcher) Close() {
	s := w.s
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	if set := s.watchers[w.key]; set != nil {
		delete(set, w)
		if len(set) == 0 {
			delete(s.watchers, w.key)
		}
	}
}

// publish hands the changes of a committed transaction to the watchers.
func (s *Store) publish(ev *events) {
	if len(ev.list) == 0 {
		return
	}
	s.watchMu.RLock()
	defer s.watchMu.RUnlock()
	if len(s.watchers) == 0 {
		return
	}
	// Group by mailbox, keeping commit order within each mailbox.
	var order []mailboxKey
	byKey := make(map[mailboxKey][]event)
	for _, e := range ev.list {
		if s.watchers[e.key] == nil {
			continue
		}
		if _, ok := byKey[e.key]; !ok {
			order = append(order, e.key)
		}
		byKey[e.key] = append(byKey[e.key], e)
	}
	for _, key := range order {
		list := byKey[key]
		for w := range s.watchers[key] {
			changes := make([]Change, 0, len(list))
			for _, e := range list {
				if e.origin != w {
					changes = append(changes, e.change)
				}
			}
			if len(changes) > 0 {
				w.fn(changes)
			}
		}
	}
}
