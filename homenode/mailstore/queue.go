package mailstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// QueueItem is a message waiting for delivery to other domains.
type QueueItem struct {
	ID          uint64
	From        string // envelope sender; empty for a bounce
	Rcpts       []string
	Raw         []byte
	Created     time.Time
	NextAttempt time.Time
	Attempts    int
	LastError   string
}

// queueMeta is the stored form of a QueueItem without ID and Raw (the raw
// bytes live in their own bucket so scanning the queue does not read them).
type queueMeta struct {
	From        string    `json:"from"`
	Rcpts       []string  `json:"rcpts"`
	Created     time.Time `json:"created"`
	NextAttempt time.Time `json:"next"`
	Attempts    int       `json:"attempts"`
	LastError   string    `json:"lastError,omitempty"`
}

// Enqueue stores a message for outbound delivery, due at once, and returns
// its ID. Addresses are kept as given: remote local parts may be
// case-sensitive.
func (s *Store) Enqueue(ctx context.Context, from string, rcpts []string, raw []byte) (uint64, error) {
	if len(rcpts) == 0 {
		return 0, errors.New("enqueue: no recipients")
	}
	var id uint64
	err := s.update(ctx, func(tx *bolt.Tx, ev *events) error {
		if err := s.checkDisk(s.limits.Load(), int64(len(raw)), ev.stored); err != nil {
			return fmt.Errorf("enqueue: %w", err)
		}
		ev.stored += int64(len(raw))
		q := tx.Bucket(bucketQueue)
		var err error
		if id, err = q.NextSequence(); err != nil {
			return err
		}
		now := s.now()
		b, err := json.Marshal(queueMeta{From: from, Rcpts: rcpts, Created: now, NextAttempt: now})
		if err != nil {
			return err
		}
		if err := q.Put(u64key(id), b); err != nil {
			return err
		}
		return putBody(tx.Bucket(bucketQueueRaw), u64key(id), raw)
	})
	if err != nil {
		return 0, fmt.Errorf("enqueue: %w", err)
	}
	return id, nil
}

// QueueDue returns the items whose next attempt is at or before now, with
// their bytes, earliest first.
func (s *Store) QueueDue(ctx context.Context, now time.Time) ([]QueueItem, error) {
	var out []QueueItem
	err := s.view(ctx, func(tx *bolt.Tx) error {
		raws := tx.Bucket(bucketQueueRaw)
		return tx.Bucket(bucketQueue).ForEach(func(k, v []byte) error {
			it, err := decodeQueueItem(k, v)
			if err != nil {
				return err
			}
			if it.NextAttempt.After(now) {
				return nil
			}
			raw := getBody(raws, k)
			if raw == nil {
				return fmt.Errorf("%w: queue item %d has no body", ErrCorrupt, it.ID)
			}
			it.Raw = bytes.Clone(raw)
			out = append(out, it)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("queue due: %w", err)
	}
	slices.SortStableFunc(out, func(a, b QueueItem) int { return a.NextAttempt.Compare(b.NextAttempt) })
	return out, nil
}

func decodeQueueItem(k, v []byte) (QueueItem, error) {
	id, ok := keyU64(k)
	var m queueMeta
	if !ok || json.Unmarshal(v, &m) != nil {
		return QueueItem{}, fmt.Errorf("%w: queue record %x", ErrCorrupt, k)
	}
	return QueueItem{
		ID:          id,
		From:        m.From,
		Rcpts:       m.Rcpts,
		Created:     m.Created,
		NextAttempt: m.NextAttempt,
		Attempts:    m.Attempts,
		LastError:   m.LastError,
	}, nil
}

// QueueUpdate records a failed attempt: the remaining Rcpts, NextAttempt,
// Attempts and LastError of it replace the stored ones (From, Created and
// the bytes stay). An item with no recipients left must be removed instead.
func (s *Store) QueueUpdate(ctx context.Context, it QueueItem) error {
	if len(it.Rcpts) == 0 {
		return fmt.Errorf("queue update %d: no recipients left (use QueueRemove)", it.ID)
	}
	err := s.update(ctx, func(tx *bolt.Tx, ev *events) error {
		q := tx.Bucket(bucketQueue)
		v := q.Get(u64key(it.ID))
		if v == nil {
			return fmt.Errorf("%w: %d", ErrNoSuchQueueItem, it.ID)
		}
		old, err := decodeQueueItem(u64key(it.ID), v)
		if err != nil {
			return err
		}
		b, err := json.Marshal(queueMeta{
			From:        old.From,
			Rcpts:       it.Rcpts,
			Created:     old.Created,
			NextAttempt: it.NextAttempt,
			Attempts:    it.Attempts,
			LastError:   it.LastError,
		})
		if err != nil {
			return err
		}
		return q.Put(u64key(it.ID), b)
	})
	if err != nil {
		return fmt.Errorf("queue update: %w", err)
	}
	return nil
}

// QueueRemove deletes an item (delivered, or bounced).
func (s *Store) QueueRemove(ctx context.Context, id uint64) error {
	err := s.update(ctx, func(tx *bolt.Tx, ev *events) error {
		q := tx.Bucket(bucketQueue)
		if q.Get(u64key(id)) == nil {
			return fmt.Errorf("%w: %d", ErrNoSuchQueueItem, id)
		}
		if err := q.Delete(u64key(id)); err != nil {
			return err
		}
		return deleteBody(tx.Bucket(bucketQueueRaw), u64key(id))
	})
	if err != nil {
		return fmt.Errorf("queue remove: %w", err)
	}
	return nil
}

// QueueLen counts the queued items.
func (s *Store) QueueLen(ctx context.Context) (int, error) {
	var n int
	err := s.view(ctx, func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketQueue).Stats().KeyN
		return nil
	})
	return n, err
}
