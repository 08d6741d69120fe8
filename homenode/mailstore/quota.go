package mailstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Quota errors. A delivery, APPEND or COPY that does not fit fails with one
// of them (wrapped, naming the account) and stores nothing.
var (
	// ErrQuota means the account is full: it may fit once mail is expunged.
	ErrQuota = errors.New("over quota")
	// ErrMessageTooBig means the message can never fit the account: it is
	// larger than the account's max_message_size, or (then the error also
	// wraps ErrQuota) than its whole quota.
	ErrMessageTooBig = errors.New("message too big for the account")
	// ErrStoreFull means the store as a whole is at its cap, or the file
	// system at its free-space reserve.
	ErrStoreFull = errors.New("mail store full")
)

// Quota limits one account. A zero field means no limit.
type Quota struct {
	Bytes          int64 // mail kept in all its mailboxes
	Messages       int64 // messages kept in all its mailboxes
	MaxMessageSize int64 // the largest message it takes
}

// Limits are the quotas of a store. The zero value limits nothing.
type Limits struct {
	Default Quota
	// Accounts replaces Default for the addresses it names (lower case).
	Accounts map[string]Quota
	// StoreBytes bounds the mail kept in all accounts together.
	StoreBytes int64
	// MinFreeDisk is the free space the store's file system must keep:
	// new mail is refused below it (Linux; elsewhere it is not checked).
	MinFreeDisk int64
}

// Usage is what an account (or the store) keeps.
type Usage struct {
	Bytes    int64
	Messages int64
}

// keyUsage holds a Usage in a user's bucket (that account's) and in the
// meta bucket (all accounts').
var keyUsage = []byte("usage")

// SetLimits sets the quotas checked from now on; mail already kept stays.
func (s *Store) SetLimits(l Limits) {
	s.limits.Store(&l)
}

func (s *Store) quotaOf(addr string) (Quota, *Limits) {
	l := s.limits.Load()
	if q, ok := l.Accounts[addr]; ok {
		return q, l
	}
	return l.Default, l
}

// Usage returns what an account keeps.
func (s *Store) Usage(ctx context.Context, addr string) (Usage, error) {
	addr, err := normAddr(addr)
	if err != nil {
		return Usage{}, err
	}
	var use Usage
	err = s.viewUser(ctx, addr, func(u *bolt.Bucket) error {
		use = readUsage(u)
		return nil
	})
	return use, err
}

// CheckQuota says whether a message of size bytes (0: unknown, then
// whether the account has any room) would fit addr now, with the error
// Deliver would give. SMTP asks it at RCPT, so that a full account is
// refused on its own and not with every other recipient at DATA.
func (s *Store) CheckQuota(ctx context.Context, addr string, size int64) error {
	addr, err := normAddr(addr)
	if err != nil {
		return err
	}
	return s.view(ctx, func(tx *bolt.Tx) error {
		u, err := userBucket(tx, addr)
		if err != nil {
			return err
		}
		return s.checkRoom(u, addr, max(size, 1), 1, size, 0)
	})
}

// checkRoom fails unless the account of bucket u may take msgs more
// messages of bytes bytes in all, the largest of them single bytes (0: no
// size limit to check, the messages are the account's already), while the
// transaction has stored pending bytes before.
func (s *Store) checkRoom(u *bolt.Bucket, addr string, bytes, msgs, single, pending int64) error {
	q, l := s.quotaOf(addr)
	switch {
	case q.MaxMessageSize > 0 && single > q.MaxMessageSize:
		return fmt.Errorf("%w: %s takes messages of up to %d bytes, this one has %d", ErrMessageTooBig, addr, q.MaxMessageSize, single)
	case q.Bytes > 0 && single > q.Bytes:
		return fmt.Errorf("%w: %w: %s may keep %d bytes, the message has %d", ErrMessageTooBig, ErrQuota, addr, q.Bytes, single)
	}
	use := readUsage(u)
	switch {
	case q.Bytes > 0 && use.Bytes+bytes > q.Bytes:
		return fmt.Errorf("%w: %s keeps %d of %d bytes, %d more do not fit", ErrQuota, addr, use.Bytes, q.Bytes, bytes)
	case q.Messages > 0 && use.Messages+msgs > q.Messages:
		return fmt.Errorf("%w: %s keeps %d of %d messages", ErrQuota, addr, use.Messages, q.Messages)
	}
	if l.StoreBytes > 0 {
		if all := readUsage(u.Tx().Bucket(bucketMeta)); all.Bytes+bytes > l.StoreBytes {
			return fmt.Errorf("%w: all accounts keep %d of %d bytes", ErrStoreFull, all.Bytes, l.StoreBytes)
		}
	}
	return s.checkDisk(l, bytes, pending)
}

// checkDisk fails when writing bytes more, after pending bytes of the
// transaction, would leave less than the free-disk reserve.
func (s *Store) checkDisk(l *Limits, bytes, pending int64) error {
	if l.MinFreeDisk > 0 {
		if free, ok := diskFree(s.path); ok && free-pending-bytes < l.MinFreeDisk {
			return fmt.Errorf("%w: %d bytes free on the disk, %d kept in reserve", ErrStoreFull, free, l.MinFreeDisk)
		}
	}
	return nil
}

// readUsage reads the usage record of b (a user's bucket or the meta
// bucket); none is zero.
func readUsage(b *bolt.Bucket) Usage {
	v := b.Get(keyUsage)
	if len(v) != 16 {
		return Usage{}
	}
	return Usage{Bytes: int64(binary.BigEndian.Uint64(v)), Messages: int64(binary.BigEndian.Uint64(v[8:]))}
}

func writeUsage(b *bolt.Bucket, use Usage) error {
	v := binary.BigEndian.AppendUint64(nil, uint64(max(use.Bytes, 0)))
	v = binary.BigEndian.AppendUint64(v, uint64(max(use.Messages, 0)))
	return b.Put(keyUsage, v)
}

// addUsage adds d to the usage of the account of bucket u and to the
// store's.
func addUsage(u *bolt.Bucket, d Usage) error {
	for _, b := range []*bolt.Bucket{u, u.Tx().Bucket(bucketMeta)} {
		use := readUsage(b)
		use.Bytes += d.Bytes
		use.Messages += d.Messages
		if err := writeUsage(b, use); err != nil {
			return err
		}
	}
	return nil
}

// mailboxUsage sums the messages of a mailbox bucket.
func mailboxUsage(b *bolt.Bucket) (Usage, error) {
	var use Usage
	msgs := b.Bucket(bucketMsgs)
	if msgs == nil {
		return use, nil
	}
	err := msgs.ForEach(func(k, v []byte) error {
		m, err := decodeMeta(v)
		if err != nil {
			return fmt.Errorf("%w: message record %x: %v", ErrCorrupt, k, err)
		}
		use.Bytes += m.size
		use.Messages++
		return nil
	})
	return use, err
}

// countUsage writes the usage records of a file made before they existed:
// every account's, and the store's.
func countUsage(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta.Get(keyUsage) != nil {
		return nil
	}
	var all Usage
	err := tx.Bucket(bucketUsers).ForEachBucket(func(addr []byte) error {
		u := tx.Bucket(bucketUsers).Bucket(addr)
		var use Usage
		boxes := u.Bucket(bucketBoxes)
		if boxes != nil {
			err := boxes.ForEachBucket(func(id []byte) error {
				mu, err := mailboxUsage(boxes.Bucket(id))
				use.Bytes += mu.Bytes
				use.Messages += mu.Messages
				return err
			})
			if err != nil {
				return fmt.Errorf("count usage of %s: %w", addr, err)
			}
		}
		all.Bytes += use.Bytes
		all.Messages += use.Messages
		return writeUsage(u, use)
	})
	if err != nil {
		return err
	}
	return writeUsage(meta, all)
}
