package wire

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// pruneBatch bounds the ids one Record forgets, so that a Record after a
// long pause stays quick; the rest go in later Records.
const pruneBatch = 256

var (
	idsBucket   = []byte("ids")   // id -> date key
	datesBucket = []byte("dates") // date key + id -> nothing, in date order for pruning
)

// BoltSeen is a SeenStore in a bucket of the caller's bbolt file. The bucket
// holds two nested buckets: ids (id -> date) and dates (date+id, in date
// order). Dates are kept in whole seconds, rounded down, and an id is
// forgotten only when its second lies wholly before pruneBefore.
type BoltSeen struct {
	db   *bbolt.DB
	name []byte
}

// NewBoltSeen creates (if needed) the bucket in db and returns the store. It
// refuses a read-only db and one with NoSync set: an unsynced record would
// let a crash run a command twice.
func NewBoltSeen(db *bbolt.DB, bucket string) (*BoltSeen, error) {
	if db == nil || bucket == "" {
		return nil, errors.New("seen store: no database or bucket name")
	}
	if db.IsReadOnly() || db.NoSync {
		return nil, fmt.Errorf("seen store %s: database is read-only or has NoSync set", db.Path())
	}
	s := &BoltSeen{db: db, name: []byte(bucket)}
	err := db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(s.name)
		if err != nil {
			return err
		}
		if _, err := b.CreateBucketIfNotExists(idsBucket); err != nil {
			return err
		}
		_, err = b.CreateBucketIfNotExists(datesBucket)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("seen store %s: create bucket %q: %w", db.Path(), bucket, err)
	}
	return s, nil
}

// dateKey encodes Unix seconds so that byte order is time order, dates
// before 1970 included.
func dateKey(t time.Time) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], uint64(t.Unix())^(1<<63))
	return k[:]
}

func (s *BoltSeen) buckets(tx *bbolt.Tx) (ids, dates *bbolt.Bucket, err error) {
	b := tx.Bucket(s.name)
	if b != nil {
		ids, dates = b.Bucket(idsBucket), b.Bucket(datesBucket)
	}
	if ids == nil || dates == nil {
		return nil, nil, fmt.Errorf("seen store: bucket %q is missing or damaged", s.name)
	}
	return ids, dates, nil
}

// Record implements SeenStore in one bbolt write transaction, which bbolt
// fsyncs before Update returns.
func (s *BoltSeen) Record(ctx context.Context, id string, date, pruneBefore time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if id == "" {
		return ErrNoMessageID
	}
	if s.db.NoSync {
		return fmt.Errorf("seen store %s: NoSync is set", s.db.Path())
	}
	return s.db.Update(func(tx *bbolt.Tx) error { return s.RecordTx(tx, id, date, pruneBefore) })
}

// RecordTx is Record inside the caller's write transaction of the same
// file, so that the caller can commit its own record of the message (what
// it is about to do) with the id, in one fsync. Nothing is recorded unless
// the caller's transaction commits; on ErrReplayed the caller must not
// commit anything that acts on the message.
func (s *BoltSeen) RecordTx(tx *bbolt.Tx, id string, date, pruneBefore time.Time) error {
	if id == "" {
		return ErrNoMessageID
	}
	if tx.DB() != s.db || !tx.Writable() || tx.DB().NoSync {
		return errors.New("seen store: RecordTx needs a synced write transaction on the store's own file")
	}
	ids, dates, err := s.buckets(tx)
	if err != nil {
		return err
	}
	if ids.Get([]byte(id)) != nil {
		return ErrReplayed
	}
	dk := dateKey(date)
	if err := ids.Put([]byte(id), dk); err != nil {
		return fmt.Errorf("seen store: record: %w", err)
	}
	if err := dates.Put(append(dk, id...), nil); err != nil {
		return fmt.Errorf("seen store: record: %w", err)
	}
	return prune(ids, dates, dateKey(pruneBefore))
}

// prune forgets up to pruneBatch ids whose date second lies before the
// cutoff second.
func prune(ids, dates *bbolt.Bucket, cutoff []byte) error {
	var old [][]byte
	c := dates.Cursor()
	for k, _ := c.First(); k != nil && len(old) < pruneBatch; k, _ = c.Next() {
		if len(k) < 8 || bytes.Compare(k[:8], cutoff) >= 0 {
			break
		}
		old = append(old, bytes.Clone(k))
	}
	for _, k := range old {
		if err := dates.Delete(k); err != nil {
			return fmt.Errorf("seen store: prune: %w", err)
		}
		if err := ids.Delete(k[8:]); err != nil {
			return fmt.Errorf("seen store: prune: %w", err)
		}
	}
	return nil
}

// Contains reports whether id is recorded.
func (s *BoltSeen) Contains(ctx context.Context, id string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	var found bool
	err := s.db.View(func(tx *bbolt.Tx) error {
		ids, _, err := s.buckets(tx)
		if err != nil {
			return err
		}
		found = ids.Get([]byte(id)) != nil
		return nil
	})
	return found, err
}

// Len is the number of recorded ids.
func (s *BoltSeen) Len(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var n int
	err := s.db.View(func(tx *bbolt.Tx) error {
		ids, _, err := s.buckets(tx)
		if err != nil {
			return err
		}
		n = ids.Stats().KeyN
		return nil
	})
	return n, err
}
