package mailstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Deliver appends raw to the INBOX of every recipient in one fsynced
// transaction (all or nothing) and notifies watchers. A recipient named
// twice gets one copy. If any recipient is not local nothing is stored and
// the error wraps ErrNoSuchUser and names the address.
func (s *Store) Deliver(ctx context.Context, rcpts []string, raw []byte) error {
	if len(rcpts) == 0 {
		return errors.New("deliver: no recipients")
	}
	addrs := make([]string, 0, len(rcpts))
	for _, r := range rcpts {
		a, err := normAddr(r)
		if err != nil {
			return fmt.Errorf("deliver: %w", err)
		}
		if !slices.Contains(addrs, a) {
			addrs = append(addrs, a)
		}
	}
	return s.update(ctx, func(tx *bolt.Tx, ev *events) error {
		now := s.now()
		for _, a := range addrs {
			u, err := userBucket(tx, a)
			if err != nil {
				return fmt.Errorf("deliver: %w", err)
			}
			mb, err := openMailbox(u, a, Inbox)
			if err != nil {
				return fmt.Errorf("deliver to %s: %w", a, err)
			}
			if err := s.checkRoom(u, a, int64(len(raw)), 1, int64(len(raw)), ev.stored); err != nil {
				return fmt.Errorf("deliver: %w", err)
			}
			if _, err := mb.appendMsg(ev, raw, flagSet{}, now); err != nil {
				return fmt.Errorf("deliver to %s: %w", a, err)
			}
		}
		return nil
	})
}

// Messages returns the flags, dates and sizes of the messages with the given
// UIDs in the mailbox id of addr (all messages if uids is nil), in UID order.
// UIDs that do not exist (any more) are left out.
func (s *Store) Messages(ctx context.Context, addr string, id uint64, uids []uint32) ([]MessageInfo, error) {
	addr, err := normAddr(addr)
	if err != nil {
		return nil, err
	}
	var out []MessageInfo
	err = s.viewMailbox(ctx, addr, id, func(mb *mbox) error {
		var err error
		out, err = mb.infos(uids)
		return err
	})
	return out, err
}

// MessageRaw returns the bytes of a message.
func (s *Store) MessageRaw(ctx context.Context, addr string, id uint64, uid uint32) ([]byte, error) {
	addr, err := normAddr(addr)
	if err != nil {
		return nil, err
	}
	var raw []byte
	err = s.viewMailbox(ctx, addr, id, func(mb *mbox) error {
		v := getBody(mb.raw, u32key(uid))
		if v == nil {
			return fmt.Errorf("%w: UID %d", ErrNoSuchMessage, uid)
		}
		raw = bytes.Clone(v)
		s.unmapValue(mb.raw.Tx(), v)
		return nil
	})
	return raw, err
}

// FlagOp says how UpdateFlags combines the given flags with a message's.
type FlagOp uint8

// The operations of IMAP STORE.
const (
	FlagsAdd FlagOp = iota + 1
	FlagsRemove
	FlagsReplace
)

// UpdateFlags changes the flags of the messages with the given UIDs and
// returns them (those that exist) with their new flags. Watchers are told
// about messages whose flags changed, except origin (the IMAP session that
// asked: it reports the change itself, or not at all with .SILENT).
func (s *Store) UpdateFlags(ctx context.Context, addr string, id uint64, uids []uint32, op FlagOp, flags []string, origin *Watcher) ([]MessageInfo, error) {
	addr, err := normAddr(addr)
	if err != nil {
		return nil, err
	}
	if op < FlagsAdd || op > FlagsReplace {
		return nil, fmt.Errorf("update flags: unknown operation %d", op)
	}
	given, err := parseFlags(flags)
	if err != nil {
		return nil, err
	}
	var out []MessageInfo
	err = s.updateMailbox(ctx, addr, id, func(mb *mbox, ev *events) error {
		out = out[:0]
		for _, uid := range sortedUnique(uids) {
			m, ok, err := mb.meta(uid)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			old := m.flags
			m.flags = applyFlags(old, given, op)
			if !m.flags.equal(&old) {
				if err := mb.msgs.Put(u32key(uid), m.encode()); err != nil {
					return err
				}
				ev.add(mb.key, Change{Kind: FlagsChanged, UID: uid, Flags: m.flags.list()}, origin)
			}
			out = append(out, m.info(uid))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func applyFlags(old, given flagSet, op FlagOp) flagSet {
	switch op {
	case FlagsReplace:
		return flagSet{sys: given.sys, keywords: slices.Clone(given.keywords)}
	case FlagsAdd:
		f := flagSet{sys: old.sys | given.sys, keywords: slices.Clone(old.keywords)}
		for _, k := range given.keywords {
			// Cannot fail: given's keywords were checked, and a message over
			// the keyword limit keeps the keywords it has.
			_ = f.add(k)
		}
		return f
	default: // FlagsRemove
		f := flagSet{sys: old.sys &^ given.sys, keywords: slices.Clone(old.keywords)}
		for _, k := range given.keywords {
			f.remove(k)
		}
		return f
	}
}

// Expunge removes the messages flagged \Deleted, only among uids unless
// uids is nil, and returns their UIDs.
func (s *Store) Expunge(ctx context.Context, addr string, id uint64, uids []uint32) ([]uint32, error) {
	addr, err := normAddr(addr)
	if err != nil {
		return nil, err
	}
	var gone []uint32
	err = s.updateMailbox(ctx, addr, id, func(mb *mbox, ev *events) error {
		gone = gone[:0]
		infos, err := mb.infos(uids)
		if err != nil {
			return err
		}
		for _, in := range infos {
			if !slices.Contains(in.Flags, FlagDeleted) {
				continue
			}
			if err := mb.remove(ev, in.UID); err != nil {
				return err
			}
			gone = append(gone, in.UID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return gone, nil
}

// CopyResult pairs the UIDs of copied messages (for IMAP COPYUID).
type CopyResult struct {
	UIDValidity uint32 // of the destination
	SourceUIDs  []uint32
	DestUIDs    []uint32
}

// Copy copies the messages with the given UIDs, with their flags and
// internal dates, from mailbox id to the mailbox named dest.
func (s *Store) Copy(ctx context.Context, addr string, id uint64, uids []uint32, dest string) (CopyResult, error) {
	return s.copyOrMove(ctx, addr, id, uids, dest, false)
}

// Move moves the messages with the given UIDs from mailbox id to the
// mailbox named dest, in one transaction: no copy without the removal.
func (s *Store) Move(ctx context.Context, addr string, id uint64, uids []uint32, dest string) (CopyResult, error) {
	return s.copyOrMove(ctx, addr, id, uids, dest, true)
}

func (s *Store) copyOrMove(ctx context.Context, addr string, id uint64, uids []uint32, dest string, move bool) (CopyResult, error) {
	var res CopyResult
	addr, dest, err := normAddrMailbox(addr, dest)
	if err != nil {
		return res, err
	}
	err = s.updateUser(ctx, addr, func(u *bolt.Bucket, ev *events) error {
		src, err := mailboxByID(u, addr, id)
		if err != nil {
			return err
		}
		dst, err := openMailbox(u, addr, dest)
		if err != nil {
			return err
		}
		if move && dst.key == src.key {
			return fmt.Errorf("move to %q: %w", dest, ErrSameMailbox)
		}
		if !move {
			// A move takes no more room; a copy takes the copies'.
			infos, err := src.infos(uids)
			if err != nil {
				return err
			}
			add := Usage{Messages: int64(len(infos))}
			for _, in := range infos {
				add.Bytes += in.Size
			}
			if err := s.checkRoom(u, addr, add.Bytes, add.Messages, 0, ev.stored); err != nil {
				return fmt.Errorf("copy to %q: %w", dest, err)
			}
		}
		res, err = moveMessages(ev, src, dst, uids, move)
		return err
	})
	if err != nil {
		return CopyResult{}, err
	}
	return res, nil
}

// moveMessages copies (and with remove, deletes) the existing messages among
// uids from src to dst.
func moveMessages(ev *events, src, dst *mbox, uids []uint32, remove bool) (CopyResult, error) {
	res := CopyResult{UIDValidity: dst.uidValidity()}
	for _, uid := range sortedUnique(uids) {
		m, ok, err := src.meta(uid)
		if err != nil {
			return res, err
		}
		if !ok {
			continue
		}
		raw := getBody(src.raw, u32key(uid))
		if raw == nil {
			return res, fmt.Errorf("%w: message %d of mailbox %d of %s has no body", ErrCorrupt, uid, src.key.id, src.key.addr)
		}
		newUID, err := dst.appendMsg(ev, raw, m.flags, time.Unix(0, m.date))
		if err != nil {
			return res, err
		}
		if remove {
			if err := src.remove(ev, uid); err != nil {
				return res, err
			}
		}
		res.SourceUIDs = append(res.SourceUIDs, uid)
		res.DestUIDs = append(res.DestUIDs, newUID)
	}
	return res, nil
}

func sortedUnique(uids []uint32) []uint32 {
	out := slices.Clone(uids)
	slices.Sort(out)
	return slices.Compact(out)
}
