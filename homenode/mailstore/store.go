package mailstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Sentinel errors callers decide on. Errors returned by the store wrap them
// with context (the address, the mailbox name).
var (
	ErrNoSuchUser         = errors.New("no such user")
	ErrUserExists         = errors.New("user already exists")
	ErrNoSuchMailbox      = errors.New("no such mailbox")
	ErrMailboxExists      = errors.New("mailbox already exists")
	ErrMailboxHasChildren = errors.New("mailbox has children")
	ErrCannotDeleteInbox  = errors.New("INBOX cannot be deleted")
	ErrNoSuchMessage      = errors.New("no such message")
	ErrNoSuchQueueItem    = errors.New("no such queue item")
	ErrInvalidAddress     = errors.New("invalid address")
	ErrInvalidMailboxName = errors.New("invalid mailbox name")
	ErrSameMailbox        = errors.New("source and destination mailbox are the same")
	ErrInvalidFlag        = errors.New("invalid flag")
	ErrNotMailstore       = errors.New("not a mailstore file")
	ErrCorrupt            = errors.New("mailstore file is corrupt")
	ErrLocked             = errors.New("mailstore file is in use by another process")
	ErrClosed             = errors.New("mailstore is closed")
)

// formatMagic marks a bbolt file as ours, with the layout version. Layout 2
// keeps each message's bytes in a bucket of its own (see putBody); a layout
// 1 file is still read and is marked 2 when opened, so that an older
// program, which would find no bytes for new messages, refuses it.
const (
	formatMagic   = "thingpost-mailstore/2"
	formatMagicV1 = "thingpost-mailstore/1"
)

// maxBatch bounds how many queued writes share one transaction.
const maxBatch = 128

// lockTimeout is how long Open waits for the file lock held by another
// process before giving up with ErrLocked.
const lockTimeout = time.Second

var (
	bucketMeta     = []byte("meta")
	bucketUsers    = []byte("users")
	bucketQueue    = []byte("queue")
	bucketQueueRaw = []byte("queueraw")
	keyFormat      = []byte("format")
)

// Store is the mail store. Its methods are safe for concurrent use.
type Store struct {
	db     *bolt.DB
	path   string
	now    func() time.Time
	limits atomic.Pointer[Limits]

	ops      chan *op
	quit     chan struct{}
	done     chan struct{}
	closeErr error
	once     sync.Once

	watchMu  sync.RWMutex
	watchers map[mailboxKey]map[*Watcher]struct{}
}

// op is one write, run by the committer inside a shared transaction. fn may
// run more than once (when another write in the same batch fails, the batch
// is rolled back and rerun without it), so it must only touch tx, ev and
// results it overwrites on every run.
type op struct {
	fn   func(tx *bolt.Tx, ev *events) error
	done chan error
}

// Open opens or creates the store file at path (mode 0600; a more permissive
// existing file is tightened to 0600). Another process holding the file
// gives ErrLocked; a file that is not a bbolt file, or a bbolt file of
// another program, gives ErrNotMailstore; a damaged one ErrCorrupt.
func Open(path string) (*Store, error) {
	if fi, err := os.Stat(path); err == nil {
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("open mailstore %s: %w (not a regular file)", path, ErrNotMailstore)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(path, 0o600); err != nil {
				return nil, fmt.Errorf("open mailstore %s: tighten mode: %w", path, err)
			}
		}
	}
	db, err := openBolt(path)
	if err != nil {
		return nil, err
	}
	s := &Store{
		db:       db,
		path:     path,
		now:      time.Now,
		ops:      make(chan *op),
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
		watchers: make(map[mailboxKey]map[*Watcher]struct{}),
	}
	s.limits.Store(&Limits{})
	if err := s.initFormat(path); err != nil {
		db.Close()
		return nil, err
	}
	go s.committer()
	return s, nil
}

func openBolt(path string) (db *bolt.DB, err error) {
	// bbolt panics on some kinds of damage instead of returning an error.
	defer func() {
		if v := recover(); v != nil {
			db, err = nil, fmt.Errorf("open mailstore %s: %w: %v", path, ErrCorrupt, v)
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{
		Timeout:      lockTimeout,
		FreelistType: bolt.FreelistMapType,
	})
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("open mailstore %s: %w", path, ErrLocked)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch):
		return nil, fmt.Errorf("open mailstore %s: %w (%v)", path, ErrNotMailstore, err)
	case errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrInvalidMapping):
		return nil, fmt.Errorf("open mailstore %s: %w (%v)", path, ErrCorrupt, err)
	default:
		return nil, fmt.Errorf("open mailstore %s: %w", path, err)
	}
}

// initFormat creates the top-level buckets of a new file, or checks that an
// existing file is a mailstore of a layout this code knows.
func (s *Store) initFormat(path string) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("open mailstore %s: %w: %v", path, ErrCorrupt, v)
		}
	}()
	err = s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			empty := true
			_ = tx.ForEach(func([]byte, *bolt.Bucket) error { empty = false; return nil })
			if !empty {
				return fmt.Errorf("open mailstore %s: %w (a bbolt file of another program)", path, ErrNotMailstore)
			}
			var err error
			if meta, err = tx.CreateBucket(bucketMeta); err != nil {
				return err
			}
			if err := meta.Put(keyFormat, []byte(formatMagic)); err != nil {
				return err
			}
		} else if got := string(meta.Get(keyFormat)); got == formatMagicV1 {
			if err := meta.Put(keyFormat, []byte(formatMagic)); err != nil {
				return err
			}
		} else if got != formatMagic {
			return fmt.Errorf("open mailstore %s: %w (format %q, want %q)", path, ErrNotMailstore, got, formatMagic)
		}
		for _, name := range [][]byte{bucketUsers, bucketQueue, bucketQueueRaw} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return countUsage(tx)
	})
	if err != nil && !errors.Is(err, ErrNotMailstore) {
		return fmt.Errorf("open mailstore %s: %w", path, err)
	}
	return err
}

// Close waits for writes in progress, refuses new ones and closes the file.
// Watchers receive no more changes.
func (s *Store) Close() error {
	s.once.Do(func() {
		close(s.quit)
		<-s.done
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

// update runs fn as one write through the committer and returns once it is
// committed and fsynced (or failed). Cancelling ctx only helps while the
// write is still waiting for its turn: once it runs, it completes.
func (s *Store) update(ctx context.Context, fn func(tx *bolt.Tx, ev *events) error) error {
	o := &op{fn: fn, done: make(chan error, 1)}
	select {
	case s.ops <- o:
	case <-s.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-o.done
}

// view runs a read-only transaction. bbolt panics on some damaged pages;
// the transaction is rolled back and the caller gets ErrCorrupt rather than
// a crashed node.
func (s *Store) view(ctx context.Context, fn func(tx *bolt.Tx) error) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w (or an internal error): %v", ErrCorrupt, v)
		}
	}()
	err = s.db.View(fn)
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// committer runs every write. Writes that queue up while a transaction
// commits are run together in the next one: one fsync for all of them.
func (s *Store) committer() {
	defer close(s.done)
	for {
		var batch []*op
		select {
		case o := <-s.ops:
			batch = append(batch, o)
		case <-s.quit:
			return
		}
	collect:
		for len(batch) < maxBatch {
			select {
			case o := <-s.ops:
				batch = append(batch, o)
			default:
				break collect
			}
		}
		s.runBatch(batch)
		s.unmapFile()
	}
}

// runBatch commits the ops of batch in one transaction. An op that fails is
// answered with its error and the transaction is rerun without it, so a
// failed write never leaves partial changes and never fails its neighbours.
func (s *Store) runBatch(batch []*op) {
	for len(batch) > 0 {
		tx, err := s.db.Begin(true)
		if err != nil {
			for _, o := range batch {
				o.done <- fmt.Errorf("begin write: %w", err)
			}
			return
		}
		ev := &events{}
		failed := -1
		var failErr error
		for i, o := range batch {
			if err := runOp(o, tx, ev); err != nil {
				failed, failErr = i, err
				break
			}
		}
		if failed >= 0 {
			_ = tx.Rollback()
			batch[failed].done <- failErr
			batch = append(batch[:failed:failed], batch[failed+1:]...)
			continue
		}
		if err := tx.Commit(); err != nil {
			for _, o := range batch {
				o.done <- fmt.Errorf("commit: %w", err)
			}
			return
		}
		// Publish before answering, so that when a write returns every
		// watcher already has its changes queued.
		s.publish(ev)
		for _, o := range batch {
			o.done <- nil
		}
		return
	}
}

func runOp(o *op, tx *bolt.Tx, ev *events) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w (or an internal error): %v", ErrCorrupt, v)
		}
	}()
	return o.fn(tx, ev)
}
