package mailstore

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Keys and buckets inside a user's bucket.
var (
	keyPassword  = []byte("pw")
	keyLastUIDV  = []byte("uidv")
	bucketNames  = []byte("names") // mailbox name -> mailbox id
	bucketSubs   = []byte("subs")  // subscribed mailbox names
	bucketBoxes  = []byte("boxes") // mailbox id -> mailbox bucket; its sequence numbers mailboxes
	keyUIDV      = []byte("uidv")  // in a mailbox bucket
	bucketMsgs   = []byte("m")     // in a mailbox bucket: UID -> msgMeta; its sequence is the UID counter
	bucketBodies = []byte("r")     // in a mailbox bucket: UID -> the raw message (see putBody)
)

func userBucket(tx *bolt.Tx, addr string) (*bolt.Bucket, error) {
	u := tx.Bucket(bucketUsers).Bucket([]byte(addr))
	if u == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoSuchUser, addr)
	}
	return u, nil
}

// viewUser runs fn in a read-only transaction on the bucket of the
// normalised address addr.
func (s *Store) viewUser(ctx context.Context, addr string, fn func(u *bolt.Bucket) error) error {
	return s.view(ctx, func(tx *bolt.Tx) error {
		u, err := userBucket(tx, addr)
		if err != nil {
			return err
		}
		return fn(u)
	})
}

// updateUser runs fn in a write transaction on the bucket of the
// normalised address addr.
func (s *Store) updateUser(ctx context.Context, addr string, fn func(u *bolt.Bucket, ev *events) error) error {
	return s.update(ctx, func(tx *bolt.Tx, ev *events) error {
		u, err := userBucket(tx, addr)
		if err != nil {
			return err
		}
		return fn(u, ev)
	})
}

// viewMailbox runs fn in a read-only transaction on the mailbox id of the
// normalised address addr.
func (s *Store) viewMailbox(ctx context.Context, addr string, id uint64, fn func(mb *mbox) error) error {
	return s.viewUser(ctx, addr, func(u *bolt.Bucket) error {
		mb, err := mailboxByID(u, addr, id)
		if err != nil {
			return err
		}
		return fn(mb)
	})
}

// updateMailbox runs fn in a write transaction on the mailbox id of the
// normalised address addr.
func (s *Store) updateMailbox(ctx context.Context, addr string, id uint64, fn func(mb *mbox, ev *events) error) error {
	return s.updateUser(ctx, addr, func(u *bolt.Bucket, ev *events) error {
		mb, err := mailboxByID(u, addr, id)
		if err != nil {
			return err
		}
		return fn(mb, ev)
	})
}

// AddUser creates a user with its INBOX.
func (s *Store) AddUser(ctx context.Context, addr, passwordHash string) error {
	addr, err := normAddr(addr)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx, ev *events) error {
		users := tx.Bucket(bucketUsers)
		if users.Bucket([]byte(addr)) != nil {
			return fmt.Errorf("%w: %s", ErrUserExists, addr)
		}
		u, err := users.CreateBucket([]byte(addr))
		if err != nil {
			return fmt.Errorf("add user %s: %w", addr, err)
		}
		if err := u.Put(keyPassword, []byte(passwordHash)); err != nil {
			return fmt.Errorf("add user %s: %w", addr, err)
		}
		for _, b := range [][]byte{bucketNames, bucketSubs, bucketBoxes} {
			if _, err := u.CreateBucket(b); err != nil {
				return fmt.Errorf("add user %s: %w", addr, err)
			}
		}
		if _, err := s.createMailbox(u, Inbox); err != nil {
			return fmt.Errorf("add user %s: %w", addr, err)
		}
		if err := u.Bucket(bucketSubs).Put([]byte(Inbox), nil); err != nil {
			return fmt.Errorf("add user %s: %w", addr, err)
		}
		return nil
	})
}

// SetPasswordHash replaces the password hash of a user.
func (s *Store) SetPasswordHash(ctx context.Context, addr, passwordHash string) error {
	addr, err := normAddr(addr)
	if err != nil {
		return err
	}
	return s.updateUser(ctx, addr, func(u *bolt.Bucket, ev *events) error {
		return u.Put(keyPassword, []byte(passwordHash))
	})
}

// DeleteUser removes a user with all its mailboxes and mail. IMAP sessions
// watching its mailboxes are told MailboxDeleted.
func (s *Store) DeleteUser(ctx context.Context, addr string) error {
	addr, err := normAddr(addr)
	if err != nil {
		return err
	}
	return s.updateUser(ctx, addr, func(u *bolt.Bucket, ev *events) error {
		err := u.Bucket(bucketBoxes).ForEachBucket(func(k []byte) error {
			if id, ok := keyU64(k); ok {
				ev.add(mailboxKey{addr: addr, id: id}, Change{Kind: MailboxDeleted}, nil)
			}
			return nil
		})
		if err != nil {
			return err
		}
		use := readUsage(u)
		meta := u.Tx().Bucket(bucketMeta)
		all := readUsage(meta)
		if err := writeUsage(meta, Usage{Bytes: all.Bytes - use.Bytes, Messages: all.Messages - use.Messages}); err != nil {
			return err
		}
		if err := u.Tx().Bucket(bucketUsers).DeleteBucket([]byte(addr)); err != nil {
			return fmt.Errorf("delete user %s: %w", addr, err)
		}
		return nil
	})
}

// PasswordHash returns the stored password hash of a user.
func (s *Store) PasswordHash(ctx context.Context, addr string) (string, error) {
	addr, err := normAddr(addr)
	if err != nil {
		return "", err
	}
	var hash string
	err = s.viewUser(ctx, addr, func(u *bolt.Bucket) error {
		hash = string(u.Get(keyPassword))
		return nil
	})
	return hash, err
}

// HasUser says whether addr is a local user. A malformed address is simply
// not one.
func (s *Store) HasUser(ctx context.Context, addr string) (bool, error) {
	addr, err := normAddr(addr)
	if err != nil {
		return false, nil
	}
	var ok bool
	err = s.view(ctx, func(tx *bolt.Tx) error {
		ok = tx.Bucket(bucketUsers).Bucket([]byte(addr)) != nil
		return nil
	})
	return ok, err
}

// Users returns every user address, sorted.
func (s *Store) Users(ctx context.Context) ([]string, error) {
	var out []string
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketUsers).ForEachBucket(func(k []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	return out, err
}
