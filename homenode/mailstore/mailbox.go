package mailstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// MailboxInfo names a mailbox of a user.
type MailboxInfo struct {
	ID          uint64
	Name        string
	UIDValidity uint32
	Subscribed  bool
}

// MailboxStatus is what IMAP STATUS reports.
type MailboxStatus struct {
	Name        string
	UIDValidity uint32
	UIDNext     uint32
	Messages    uint32
	Unseen      uint32
	Deleted     uint32
	Size        int64
}

// mbox is an open mailbox bucket inside a transaction.
type mbox struct {
	key  mailboxKey
	u    *bolt.Bucket // the user's
	b    *bolt.Bucket
	msgs *bolt.Bucket
	raw  *bolt.Bucket
}

func mailboxID(u *bolt.Bucket, name string) (uint64, error) {
	id, ok := keyU64(u.Bucket(bucketNames).Get([]byte(name)))
	if !ok {
		return 0, fmt.Errorf("%w: %q", ErrNoSuchMailbox, name)
	}
	return id, nil
}

func mailboxByID(u *bolt.Bucket, addr string, id uint64) (*mbox, error) {
	b := u.Bucket(bucketBoxes).Bucket(u64key(id))
	if b == nil {
		return nil, fmt.Errorf("%w (id %d)", ErrNoSuchMailbox, id)
	}
	mb := &mbox{key: mailboxKey{addr: addr, id: id}, u: u, b: b, msgs: b.Bucket(bucketMsgs), raw: b.Bucket(bucketBodies)}
	if mb.msgs == nil || mb.raw == nil || len(b.Get(keyUIDV)) != 4 {
		return nil, fmt.Errorf("%w: mailbox %d of %s is incomplete", ErrCorrupt, id, addr)
	}
	return mb, nil
}

func openMailbox(u *bolt.Bucket, addr, name string) (*mbox, error) {
	id, err := mailboxID(u, name)
	if err != nil {
		return nil, err
	}
	return mailboxByID(u, addr, id)
}

// nextUIDValidity takes the clock in seconds, but never repeats or goes back
// for one user: a re-created name must get a new UIDVALIDITY.
func (s *Store) nextUIDValidity(u *bolt.Bucket) (uint32, error) {
	v := uint32(s.now().Unix())
	if last := u.Get(keyLastUIDV); len(last) == 4 {
		if l := binary.BigEndian.Uint32(last); v <= l {
			if l == math.MaxUint32 {
				return 0, fmt.Errorf("mailstore: UIDVALIDITY exhausted")
			}
			v = l + 1
		}
	}
	if v == 0 {
		v = 1
	}
	return v, u.Put(keyLastUIDV, u32key(v))
}

// createMailbox creates name (which must not exist) with a new id and
// UIDVALIDITY.
func (s *Store) createMailbox(u *bolt.Bucket, name string) (uint64, error) {
	boxes := u.Bucket(bucketBoxes)
	id, err := boxes.NextSequence()
	if err != nil {
		return 0, err
	}
	b, err := boxes.CreateBucket(u64key(id))
	if err != nil {
		return 0, err
	}
	uidv, err := s.nextUIDValidity(u)
	if err != nil {
		return 0, err
	}
	if err := b.Put(keyUIDV, u32key(uidv)); err != nil {
		return 0, err
	}
	if _, err := b.CreateBucket(bucketMsgs); err != nil {
		return 0, err
	}
	if _, err := b.CreateBucket(bucketBodies); err != nil {
		return 0, err
	}
	return id, u.Bucket(bucketNames).Put([]byte(name), u64key(id))
}

// createWithParents creates name and any missing superior names.
func (s *Store) createWithParents(u *bolt.Bucket, name string) error {
	names := u.Bucket(bucketNames)
	parts := strings.Split(name, Delim)
	for i := 1; i <= len(parts); i++ {
		n := strings.Join(parts[:i], Delim)
		if names.Get([]byte(n)) != nil {
			continue
		}
		if _, err := s.createMailbox(u, n); err != nil {
			return err
		}
	}
	return nil
}

func (mb *mbox) uidValidity() uint32 {
	return binary.BigEndian.Uint32(mb.b.Get(keyUIDV))
}

func (mb *mbox) uidNext() uint32 {
	return uint32(mb.msgs.Sequence() + 1)
}

func (mb *mbox) meta(uid uint32) (msgMeta, bool, error) {
	v := mb.msgs.Get(u32key(uid))
	if v == nil {
		return msgMeta{}, false, nil
	}
	m, err := decodeMeta(v)
	if err != nil {
		return m, false, fmt.Errorf("%w: message %d of mailbox %d of %s: %v", ErrCorrupt, uid, mb.key.id, mb.key.addr, err)
	}
	return m, true, nil
}

// infos returns the messages with the given UIDs (all if uids is nil) that
// exist, in UID order.
func (mb *mbox) infos(uids []uint32) ([]MessageInfo, error) {
	var out []MessageInfo
	if uids == nil {
		c := mb.msgs.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			uid, ok := keyU32(k)
			m, err := decodeMeta(v)
			if !ok || err != nil {
				return nil, fmt.Errorf("%w: message record %x of mailbox %d of %s: %v", ErrCorrupt, k, mb.key.id, mb.key.addr, err)
			}
			out = append(out, m.info(uid))
		}
		return out, nil
	}
	for _, uid := range sortedUnique(uids) {
		m, ok, err := mb.meta(uid)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, m.info(uid))
		}
	}
	return out, nil
}

// appendMsg stores a new message and records the change.
func (mb *mbox) appendMsg(ev *events, raw []byte, flags flagSet, date time.Time) (uint32, error) {
	seq, err := mb.msgs.NextSequence()
	if err != nil {
		return 0, err
	}
	if seq > math.MaxUint32 {
		return 0, fmt.Errorf("mailstore: UIDs of mailbox %d of %s exhausted", mb.key.id, mb.key.addr)
	}
	uid := uint32(seq)
	m := msgMeta{flags: flags, date: date.UnixNano(), size: int64(len(raw))}
	if err := mb.msgs.Put(u32key(uid), m.encode()); err != nil {
		return 0, err
	}
	if err := putBody(mb.raw, u32key(uid), raw); err != nil {
		return 0, err
	}
	if err := addUsage(mb.u, Usage{Bytes: m.size, Messages: 1}); err != nil {
		return 0, err
	}
	ev.stored += m.size
	ev.add(mb.key, Change{Kind: MessageAdded, UID: uid, Flags: flags.list()}, nil)
	return uid, nil
}

// remove deletes a message and records the expunge.
func (mb *mbox) remove(ev *events, uid uint32) error {
	k := u32key(uid)
	m, ok, err := mb.meta(uid)
	if err != nil {
		return err
	}
	if ok {
		if err := addUsage(mb.u, Usage{Bytes: -m.size, Messages: -1}); err != nil {
			return err
		}
	}
	if err := mb.msgs.Delete(k); err != nil {
		return err
	}
	if err := deleteBody(mb.raw, k); err != nil {
		return err
	}
	ev.add(mb.key, Change{Kind: MessageExpunged, UID: uid}, nil)
	return nil
}

// Mailboxes lists the mailboxes of a user, sorted by name.
func (s *Store) Mailboxes(ctx context.Context, addr string) ([]MailboxInfo, error) {
	addr, err := normAddr(addr)
	if err != nil {
		return nil, err
	}
	var out []MailboxInfo
	err = s.viewUser(ctx, addr, func(u *bolt.Bucket) error {
		subs := u.Bucket(bucketSubs)
		return u.Bucket(bucketNames).ForEach(func(k, v []byte) error {
			id, ok := keyU64(v)
			if !ok {
				return fmt.Errorf("%w: mailbox name %q of %s", ErrCorrupt, k, addr)
			}
			mb, err := mailboxByID(u, addr, id)
			if err != nil {
				return err
			}
			out = append(out, MailboxInfo{
				ID:          id,
				Name:        string(k),
				UIDValidity: mb.uidValidity(),
				Subscribed:  subs.Get(k) != nil,
			})
			return nil
		})
	})
	return out, err
}

// Subscriptions lists the subscribed mailbox names of a user, sorted. A
// subscription survives the deletion of its mailbox (RFC 3501 6.3.6).
func (s *Store) Subscriptions(ctx context.Context, addr string) ([]string, error) {
	addr, err := normAddr(addr)
	if err != nil {
		return nil, err
	}
	var out []string
	err = s.viewUser(ctx, addr, func(u *bolt.Bucket) error {
		return u.Bucket(bucketSubs).ForEach(func(k, _ []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	return out, err
}

// CreateMailbox creates a mailbox, and its missing superior names.
func (s *Store) CreateMailbox(ctx context.Context, addr, name string) error {
	addr, name, err := normAddrMailbox(addr, name)
	if err != nil {
		return err
	}
	return s.updateUser(ctx, addr, func(u *bolt.Bucket, ev *events) error {
		if u.Bucket(bucketNames).Get([]byte(name)) != nil {
			return fmt.Errorf("%w: %q", ErrMailboxExists, name)
		}
		return s.createWithParents(u, name)
	})
}

// DeleteMailbox deletes a mailbox and its messages. INBOX cannot be
// deleted, nor a mailbox with inferior names (delete those first).
func (s *Store) DeleteMailbox(ctx context.Context, addr, name string) error {
	addr, name, err := normAddrMailbox(addr, name)
	if err != nil {
		return err
	}
	if name == Inbox {
		return ErrCannotDeleteInbox
	}
	return s.updateUser(ctx, addr, func(u *bolt.Bucket, ev *events) error {
		id, err := mailboxID(u, name)
		if err != nil {
			return err
		}
		if hasChildren(u.Bucket(bucketNames), name) {
			return fmt.Errorf("%w: %q", ErrMailboxHasChildren, name)
		}
		use, err := mailboxUsage(u.Bucket(bucketBoxes).Bucket(u64key(id)))
		if err != nil {
			return fmt.Errorf("delete mailbox %q: %w", name, err)
		}
		if err := addUsage(u, Usage{Bytes: -use.Bytes, Messages: -use.Messages}); err != nil {
			return err
		}
		if err := u.Bucket(bucketBoxes).DeleteBucket(u64key(id)); err != nil {
			return fmt.Errorf("delete mailbox %q: %w", name, err)
		}
		if err := u.Bucket(bucketNames).Delete([]byte(name)); err != nil {
			return err
		}
		ev.add(mailboxKey{addr: addr, id: id}, Change{Kind: MailboxDeleted}, nil)
		return nil
	})
}

func hasChildren(names *bolt.Bucket, name string) bool {
	prefix := []byte(name + Delim)
	k, _ := names.Cursor().Seek(prefix)
	return k != nil && bytes.HasPrefix(k, prefix)
}

// RenameMailbox renames a mailbox and its inferior names. Renaming INBOX
// moves its messages into a new mailbox of the new name and leaves INBOX
// empty (RFC 3501 6.3.5).
func (s *Store) RenameMailbox(ctx context.Context, addr, oldName, newName string) error {
	addr, oldName, err := normAddrMailbox(addr, oldName)
	if err != nil {
		return err
	}
	if newName, err = normMailboxName(newName); err != nil {
		return err
	}
	if newName == Inbox || strings.HasPrefix(newName, oldName+Delim) {
		return fmt.Errorf("%w: cannot rename %q to %q", ErrInvalidMailboxName, oldName, newName)
	}
	return s.updateUser(ctx, addr, func(u *bolt.Bucket, ev *events) error {
		names := u.Bucket(bucketNames)
		if _, err := mailboxID(u, oldName); err != nil {
			return err
		}
		if names.Get([]byte(newName)) != nil {
			return fmt.Errorf("%w: %q", ErrMailboxExists, newName)
		}
		if oldName == Inbox {
			return s.renameInbox(u, ev, addr, newName)
		}
		// The mailbox and its inferiors, collected before the bucket changes.
		type rename struct{ from, to string }
		renames := []rename{{oldName, newName}}
		prefix := []byte(oldName + Delim)
		c := names.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			renames = append(renames, rename{string(k), newName + Delim + string(k[len(prefix):])})
		}
		for _, r := range renames {
			if names.Get([]byte(r.to)) != nil {
				return fmt.Errorf("%w: %q", ErrMailboxExists, r.to)
			}
		}
		subs := u.Bucket(bucketSubs)
		for _, r := range renames {
			id := bytes.Clone(names.Get([]byte(r.from)))
			if err := names.Delete([]byte(r.from)); err != nil {
				return err
			}
			if err := names.Put([]byte(r.to), id); err != nil {
				return err
			}
			if subs.Get([]byte(r.from)) != nil {
				if err := subs.Delete([]byte(r.from)); err != nil {
					return err
				}
				if err := subs.Put([]byte(r.to), nil); err != nil {
					return err
				}
			}
		}
		// Superior names of the new name must exist, as after CREATE.
		if i := strings.LastIndex(newName, Delim); i > 0 {
			return s.createWithParents(u, newName[:i])
		}
		return nil
	})
}

func (s *Store) renameInbox(u *bolt.Bucket, ev *events, addr, newName string) error {
	inbox, err := openMailbox(u, addr, Inbox)
	if err != nil {
		return err
	}
	if err := s.createWithParents(u, newName); err != nil {
		return err
	}
	dest, err := openMailbox(u, addr, newName)
	if err != nil {
		return err
	}
	var uids []uint32
	c := inbox.msgs.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if uid, ok := keyU32(k); ok {
			uids = append(uids, uid)
		}
	}
	_, err = moveMessages(ev, inbox, dest, uids, true)
	return err
}

// SetSubscribed subscribes (the mailbox must exist) or unsubscribes a name.
func (s *Store) SetSubscribed(ctx context.Context, addr, name string, subscribed bool) error {
	addr, name, err := normAddrMailbox(addr, name)
	if err != nil {
		return err
	}
	return s.updateUser(ctx, addr, func(u *bolt.Bucket, ev *events) error {
		if !subscribed {
			return u.Bucket(bucketSubs).Delete([]byte(name))
		}
		if _, err := mailboxID(u, name); err != nil {
			return err
		}
		return u.Bucket(bucketSubs).Put([]byte(name), nil)
	})
}

// MailboxStatus counts the messages of a mailbox.
func (s *Store) MailboxStatus(ctx context.Context, addr, name string) (MailboxStatus, error) {
	st := MailboxStatus{}
	addr, name, err := normAddrMailbox(addr, name)
	if err != nil {
		return st, err
	}
	st.Name = name
	err = s.viewUser(ctx, addr, func(u *bolt.Bucket) error {
		mb, err := openMailbox(u, addr, name)
		if err != nil {
			return err
		}
		st.UIDValidity, st.UIDNext = mb.uidValidity(), mb.uidNext()
		c := mb.msgs.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			m, err := decodeMeta(v)
			if err != nil {
				return fmt.Errorf("%w: message record %x of %q of %s: %v", ErrCorrupt, k, name, addr, err)
			}
			st.Messages++
			st.Size += m.size
			if !m.flags.has(FlagSeen) {
				st.Unseen++
			}
			if m.flags.has(FlagDeleted) {
				st.Deleted++
			}
		}
		return nil
	})
	return st, err
}

// Append stores a message in a mailbox of addr with the given flags and
// internal date (now if zero), and returns the mailbox's UIDVALIDITY and the
// new UID.
func (s *Store) Append(ctx context.Context, addr, mailbox string, raw []byte, flags []string, date time.Time) (uidValidity, uid uint32, err error) {
	addr, mailbox, err = normAddrMailbox(addr, mailbox)
	if err != nil {
		return 0, 0, err
	}
	fs, err := parseFlags(flags)
	if err != nil {
		return 0, 0, err
	}
	err = s.updateUser(ctx, addr, func(u *bolt.Bucket, ev *events) error {
		mb, err := openMailbox(u, addr, mailbox)
		if err != nil {
			return err
		}
		d := date
		if d.IsZero() {
			d = s.now()
		}
		if err := s.checkRoom(u, addr, int64(len(raw)), 1, int64(len(raw)), ev.stored); err != nil {
			return fmt.Errorf("append to %q: %w", mailbox, err)
		}
		uidValidity = mb.uidValidity()
		uid, err = mb.appendMsg(ev, raw, fs, d)
		return err
	})
	if err != nil {
		return 0, 0, err
	}
	return uidValidity, uid, nil
}
