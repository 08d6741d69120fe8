package app

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/thingpost/thingpost/keystore"
	"github.com/thingpost/thingpost/transport"
	"github.com/thingpost/thingpost/wire"
)

// storeFile is the app's bbolt file inside the data directory.
const storeFile = "app.db"

var (
	bucketMeta     = []byte("meta")
	bucketThings   = []byte("things")
	bucketCommands = []byte("commands")
	bucketOutbox   = []byte("outbox")
	bucketHistory  = []byte("history")
	bucketHeld     = []byte("held")
	seenBucket     = "seen"

	keyProfile = []byte("profile")
	keyAccount = []byte("account")
	keySecret  = []byte("secret")
	keyMailbox = []byte("mailbox")
)

// seenRetention is how old (by its signature time) a thing's message may be
// when it comes: an app offline that long still gets every reply and event.
// Message-IDs are remembered as long, so that a message delivered twice is
// recorded once, and an older one is dropped unseen (see firstSeen).
const seenRetention = 60 * 24 * time.Hour

// seenSkew is how far ahead of our clock a thing's message may be signed.
// More than the things allow their people (wire.DefaultSkew): a thing's
// clock running ahead costs only the space of remembering its ids longer.
const seenSkew = time.Hour

// store is the app's bbolt file. Every write transaction is fsynced by
// bbolt before it returns.
type store struct {
	db   *bbolt.DB
	seen *wire.BoltSeen
}

// thingRecord is a Thing with its public key.
type thingRecord struct {
	Thing
	Key []byte `json:"key"`
	// pub is Key parsed (in memory only).
	pub *keystore.PublicKey
}

// commandRecord is a Command with the history entry that shows it.
type commandRecord struct {
	Command
	HistorySeq uint64 `json:"hseq"`
}

// outItem is a message waiting in the outbox.
type outItem struct {
	ID       string    `json:"id"` // Message-ID
	Command  bool      `json:"cmd,omitempty"`
	To       []string  `json:"to"`
	Raw      []byte    `json:"raw"`
	Deadline time.Time `json:"deadline"`
	NextTry  time.Time `json:"next,omitzero"`
	Attempts int       `json:"attempts,omitempty"`
	LastErr  string    `json:"err,omitempty"`
}

// accountRecord is the account without its password.
type accountRecord struct {
	Account transport.Account `json:"account"`
	// ServerPasswords says the IMAP and SMTP servers have passwords of their
	// own (kept with the main one).
	ServerPasswords bool `json:"server_passwords,omitempty"`
}

// secretRecord says where the mail password is.
type secretRecord struct {
	Where PasswordPlace `json:"where"`
	// Sealed is the password encrypted to the person's own key.
	Sealed []byte `json:"sealed,omitempty"`
}

func openStore(dir string) (*store, error) {
	path := filepath.Join(dir, storeFile)
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open %s: %w", path, ErrInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bucketMeta, bucketThings, bucketCommands, bucketOutbox, bucketHistory, bucketHeld} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	seen, err := wire.NewBoltSeen(db, seenBucket)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &store{db: db, seen: seen}, nil
}

func (s *store) close() error { return s.db.Close() }

func getJSON(b *bbolt.Bucket, key []byte, v any) (bool, error) {
	data := b.Get(key)
	if data == nil {
		return false, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return true, fmt.Errorf("stored %s is damaged: %w", key, err)
	}
	return true, nil
}

func putJSON(b *bbolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

func (s *store) getMeta(key []byte, v any) (bool, error) {
	var found bool
	err := s.db.View(func(tx *bbolt.Tx) error {
		var err error
		found, err = getJSON(tx.Bucket(bucketMeta), key, v)
		return err
	})
	return found, err
}

func (s *store) putMeta(key []byte, v any) error {
	return s.db.Update(func(tx *bbolt.Tx) error { return putJSON(tx.Bucket(bucketMeta), key, v) })
}

// LoadState implements transport.StateStore.
func (s *store) LoadState(context.Context) (transport.State, error) {
	var st transport.State
	_, err := s.getMeta(keyMailbox, &st)
	return st, err
}

// SaveState implements transport.StateStore.
func (s *store) SaveState(_ context.Context, st transport.State) error {
	return s.putMeta(keyMailbox, st)
}

// allRecords reads every record of a bucket; what names them in errors.
func allRecords[T any](db *bbolt.DB, bucket []byte, what string) ([]T, error) {
	var out []T
	err := db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			var r T
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("stored %s %s is damaged: %w", what, k, err)
			}
			out = append(out, r)
			return nil
		})
	})
	return out, err
}

// getRecord reads the record id of a bucket (ErrNotFound when there is
// none); what names it in errors.
func getRecord[T any](tx *bbolt.Tx, bucket []byte, what, id string) (*T, error) {
	var r T
	found, err := getJSON(tx.Bucket(bucket), []byte(id), &r)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%s %s: %w", what, id, ErrNotFound)
	}
	return &r, nil
}

func (s *store) things() ([]thingRecord, error) {
	return allRecords[thingRecord](s.db, bucketThings, "thing")
}

func getThing(tx *bbolt.Tx, id string) (*thingRecord, error) {
	return getRecord[thingRecord](tx, bucketThings, "thing", id)
}

func putThing(tx *bbolt.Tx, r *thingRecord) error {
	return putJSON(tx.Bucket(bucketThings), []byte(r.ID), r)
}

// deleteThing forgets a thing, its history and its finished commands.
func deleteThing(tx *bbolt.Tx, id string) error {
	if err := tx.Bucket(bucketThings).Delete([]byte(id)); err != nil {
		return err
	}
	if tx.Bucket(bucketHistory).Bucket([]byte(id)) != nil {
		if err := tx.Bucket(bucketHistory).DeleteBucket([]byte(id)); err != nil {
			return err
		}
	}
	cmds := tx.Bucket(bucketCommands)
	var del [][]byte
	err := cmds.ForEach(func(k, v []byte) error {
		var c commandRecord
		if json.Unmarshal(v, &c) == nil && c.Thing == id {
			del = append(del, k)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range del {
		if err := cmds.Delete(k); err != nil {
			return err
		}
		if err := tx.Bucket(bucketOutbox).Delete(k); err != nil {
			return err
		}
	}
	return nil
}

func getCommand(tx *bbolt.Tx, id string) (*commandRecord, error) {
	return getRecord[commandRecord](tx, bucketCommands, "command", id)
}

func putCommand(tx *bbolt.Tx, c *commandRecord) error {
	return putJSON(tx.Bucket(bucketCommands), []byte(c.ID), c)
}

// pendingCommands lists the commands that have no outcome yet.
func (s *store) pendingCommands() ([]commandRecord, error) {
	cmds, err := allRecords[commandRecord](s.db, bucketCommands, "command")
	return slices.DeleteFunc(cmds, func(c commandRecord) bool { return c.Status.Final() }), err
}

func (s *store) outbox() ([]outItem, error) {
	return allRecords[outItem](s.db, bucketOutbox, "outbox item")
}

func putOut(tx *bbolt.Tx, it *outItem) error {
	return putJSON(tx.Bucket(bucketOutbox), []byte(it.ID), it)
}

func seqKey(n uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], n)
	return k[:]
}

// addEntry appends e to its thing's history and sets e.Seq.
func addEntry(tx *bbolt.Tx, e *Entry) error {
	b, err := tx.Bucket(bucketHistory).CreateBucketIfNotExists([]byte(e.Thing))
	if err != nil {
		return err
	}
	n, err := b.NextSequence()
	if err != nil {
		return err
	}
	e.Seq = n
	return putJSON(b, seqKey(n), e)
}

// updateEntry rewrites an entry of a thing's history in place.
func updateEntry(tx *bbolt.Tx, thing string, seq uint64, f func(*Entry)) error {
	b := tx.Bucket(bucketHistory).Bucket([]byte(thing))
	if b == nil {
		return nil
	}
	var e Entry
	found, err := getJSON(b, seqKey(seq), &e)
	if err != nil || !found {
		return err
	}
	f(&e)
	return putJSON(b, seqKey(seq), &e)
}
