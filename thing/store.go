package thing

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/bbolt"

	"github.com/thingpost/thingpost/keystore"
	"github.com/thingpost/thingpost/transport"
	"github.com/thingpost/thingpost/wire"
)

// StoreFile is the name of the agent's bbolt file in its data directory.
const StoreFile = "thing.db"

var (
	bucketPeople  = []byte("people")
	bucketTokens  = []byte("tokens")
	bucketMeta    = []byte("meta")
	bucketJournal = []byte("journal")
	// bucketJournalOrder indexes the journal by date for pruning.
	bucketJournalOrder = []byte("journal-order")
	bucketOutbox       = []byte("outbox")
	keyMailbox         = []byte("mailbox")
	keyName            = []byte("name")
	keyQuarantined     = []byte("quarantined")
	seenBucket         = "seen"
)

// ErrNotFound means no person or token matched.
var ErrNotFound = errors.New("not found")

// Person is someone the thing knows: a paired key and its role.
type Person struct {
	Addr        string    `json:"addr"`
	Fingerprint string    `json:"fpr"`
	Key         []byte    `json:"key"` // binary transferable public key
	Role        wire.Role `json:"role"`
	Since       time.Time `json:"since"`
	// Expires ends a guest's access; zero means never.
	Expires    time.Time `json:"expires,omitzero"`
	Subscribed bool      `json:"subscribed"`
	// Pending marks a joiner whose address the mail server did not vouch
	// for: kept apart from the people, without any rights, until the
	// owner confirms him.
	Pending bool `json:"pending,omitempty"`
}

// Active reports whether the person may use the thing at now.
func (p *Person) Active(now time.Time) bool {
	return p.Expires.IsZero() || now.Before(p.Expires)
}

// Token is an open invite: the secrets of one QR code and what it grants.
type Token struct {
	InviteNumber string `json:"i"`
	Auth         string `json:"s"`
	// Factory marks the code printed on the thing: it makes the first
	// joiner the owner and grants nothing once there is an owner.
	Factory bool      `json:"factory,omitempty"`
	Role    wire.Role `json:"role,omitempty"`
	// For is how long the granted role lasts (guests); 0 means no end.
	For time.Duration `json:"for,omitempty"`
	// Expires ends the code itself; zero for the factory code.
	Expires time.Time `json:"expires,omitzero"`
}

// journalEntry remembers an accepted message: which mailbox message it came
// in, so one offered again after a crash is told from a replay, and how far
// it got.
type journalEntry struct {
	UIDValidity uint32    `json:"uidv"`
	UID         uint32    `json:"uid"`
	Date        time.Time `json:"date"`
	// Runs says the command was valid and allowed: the device is called
	// right after this entry is committed.
	Runs bool `json:"runs,omitempty"`
	// Done says the reply is in the outbox.
	Done bool `json:"done,omitempty"`
}

// outboxEntry is a sealed message waiting to be submitted.
type outboxEntry struct {
	To  []string `json:"to"`
	Raw []byte   `json:"raw"`
}

// Store is the agent's durable state in one bbolt file: people, invites,
// seen Message-IDs, the mailbox position, and the outbox.
type Store struct {
	db   *bbolt.DB
	seen *wire.BoltSeen
	// mu guards pending: the reasons of quarantined messages whose
	// disposition the watcher has not recorded yet, by UIDVALIDITY and UID.
	mu      sync.Mutex
	pending map[[2]uint32]string
}

// OpenStore opens or creates the store at path (mode 0600).
func OpenStore(path string) (*Store, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open thing store %s: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bucketPeople, bucketTokens, bucketMeta, bucketJournal, bucketJournalOrder, bucketOutbox, bucketPending} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init thing store %s: %w", path, err)
	}
	seen, err := wire.NewBoltSeen(db, seenBucket)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init thing store %s: %w", path, err)
	}
	return &Store{db: db, seen: seen, pending: map[[2]uint32]string{}}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

func getJSON(b *bbolt.Bucket, key []byte, v any) (bool, error) {
	raw := b.Get(key)
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("decode %s/%q: %w", "record", key, err)
	}
	return true, nil
}

// eachJSON calls fn with every key of b and its value decoded as a T (what
// names it in errors) until fn fails.
func eachJSON[T any](b *bbolt.Bucket, what string, fn func(k []byte, v T) error) error {
	return b.ForEach(func(k, raw []byte) error {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("decode %s %q: %w", what, k, err)
		}
		return fn(k, v)
	})
}

func putJSON(b *bbolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, raw)
}

// People returns everyone the thing knows, including expired guests.
func (s *Store) People() ([]Person, error) { return s.persons(bucketPeople) }

// persons lists the people recorded in bucket.
func (s *Store) persons(bucket []byte) ([]Person, error) {
	var out []Person
	err := s.db.View(func(tx *bbolt.Tx) error {
		return eachJSON(tx.Bucket(bucket), "person", func(_ []byte, p Person) error {
			out = append(out, p)
			return nil
		})
	})
	return out, err
}

// Person finds a person by fingerprint.
func (s *Store) Person(fpr keystore.Fingerprint) (*Person, error) {
	var p Person
	var ok bool
	err := s.db.View(func(tx *bbolt.Tx) (err error) {
		ok, err = getJSON(tx.Bucket(bucketPeople), []byte(fpr.String()), &p)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrNotFound
	}
	return &p, nil
}

// PutPerson adds or replaces a person. A new key for an address replaces
// the old one: one key per address, as Delta Chat has it.
func (s *Store) PutPerson(p Person) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketPeople)
		if err := deleteAddr(b, p.Addr, p.Fingerprint); err != nil {
			return err
		}
		return putJSON(b, []byte(p.Fingerprint), p)
	})
}

func deleteAddr(b *bbolt.Bucket, addr, keep string) error {
	var drop [][]byte
	err := eachJSON(b, "person", func(k []byte, p Person) error {
		if p.Addr == addr && string(k) != keep {
			drop = append(drop, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range drop {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// RemovePerson forgets the person with this fingerprint or address, or
// the pending joiner when no person matches.
func (s *Store) RemovePerson(who string) (*Person, error) {
	var removed *Person
	err := s.db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketPeople, bucketPending} {
			b := tx.Bucket(name)
			var err error
			if removed, err = findPerson(b, who); err != nil {
				return err
			}
			if removed != nil {
				return b.Delete([]byte(removed.Fingerprint))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if removed == nil {
		return nil, ErrNotFound
	}
	return removed, nil
}

// findPerson returns the first person in b with this address or
// fingerprint, or nil.
func findPerson(b *bbolt.Bucket, who string) (*Person, error) {
	var found *Person
	err := eachJSON(b, "person", func(_ []byte, p Person) error {
		if found == nil && (p.Addr == who || p.Fingerprint == who) {
			found = &p
		}
		return nil
	})
	return found, err
}

// hasOwner reports whether any owner is recorded.
func hasOwner(tx *bbolt.Tx) (bool, error) {
	found := false
	err := eachJSON(tx.Bucket(bucketPeople), "person", func(_ []byte, p Person) error {
		found = found || p.Role == wire.RoleOwner
		return nil
	})
	return found, err
}

// PutToken records an invite.
func (s *Store) PutToken(t Token) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		return putJSON(tx.Bucket(bucketTokens), []byte(t.Auth), t)
	})
}

// FactoryToken returns the factory code's token.
func (s *Store) FactoryToken() (*Token, error) {
	var out *Token
	err := s.db.View(func(tx *bbolt.Tx) error {
		return eachJSON(tx.Bucket(bucketTokens), "token", func(_ []byte, t Token) error {
			if t.Factory {
				out = &t
			}
			return nil
		})
	})
	if err == nil && out == nil {
		err = ErrNotFound
	}
	return out, err
}

// ValidTokens lists the invites that may be used at now: unexpired invites,
// and the factory code while the thing has no owner.
func (s *Store) ValidTokens(now time.Time) ([]Token, error) {
	var out []Token
	err := s.db.View(func(tx *bbolt.Tx) error {
		owned, err := hasOwner(tx)
		if err != nil {
			return err
		}
		return eachJSON(tx.Bucket(bucketTokens), "token", func(_ []byte, t Token) error {
			if t.usable(now, owned) {
				out = append(out, t)
			}
			return nil
		})
	})
	return out, err
}

func (t *Token) usable(now time.Time, owned bool) bool {
	if t.Factory {
		return !owned
	}
	return now.Before(t.Expires)
}

// Grant makes the joiner of auth a person with the role the token grants,
// and uses the token up, in one transaction: two joiners racing for one
// invite cannot both get in. It returns the person as recorded. A joiner
// whose address is not verified and who binds it to a new key through an
// owner's invite is recorded as pending instead (Person.Pending), outside
// the people; the holder of the factory code is the owner by definition.
func (s *Store) Grant(auth string, key *keystore.PublicKey, now time.Time, verified bool) (*Person, error) {
	var granted *Person
	err := s.db.Update(func(tx *bbolt.Tx) error {
		tb := tx.Bucket(bucketTokens)
		var t Token
		ok, err := getJSON(tb, []byte(auth), &t)
		if err != nil {
			return err
		}
		owned, err := hasOwner(tx)
		if err != nil {
			return err
		}
		if !ok || !t.usable(now, owned) {
			return fmt.Errorf("invite: %w", ErrNotFound)
		}
		p := Person{Addr: key.Addr(), Fingerprint: key.Fingerprint().String(), Key: key.Bytes(), Since: now}
		if t.Factory {
			p.Role = wire.RoleOwner
		} else {
			p.Role = t.Role
			if t.For > 0 {
				p.Expires = now.Add(t.For)
			}
			if err := tb.Delete([]byte(auth)); err != nil {
				return err
			}
		}
		p.Subscribed = p.Role != wire.RoleGuest
		pb := tx.Bucket(bucketPeople)
		// Someone who already is owner keeps the role if he joins again.
		var old Person
		known, err := getJSON(pb, []byte(p.Fingerprint), &old)
		if err != nil {
			return err
		}
		if known && old.Role == wire.RoleOwner {
			p.Role, p.Expires, p.Since = wire.RoleOwner, time.Time{}, old.Since
		}
		// A key already on the list binds no new address.
		p.Pending = !verified && !t.Factory && !(known && old.Addr == p.Addr)
		granted = &p
		if p.Pending {
			if err := deleteAddr(tx.Bucket(bucketPending), p.Addr, p.Fingerprint); err != nil {
				return err
			}
			return putJSON(tx.Bucket(bucketPending), []byte(p.Fingerprint), p)
		}
		// Verified: whoever claimed the address before waits no more.
		if err := deleteAddr(tx.Bucket(bucketPending), p.Addr, ""); err != nil {
			return err
		}
		if err := deleteAddr(pb, p.Addr, p.Fingerprint); err != nil {
			return err
		}
		return putJSON(pb, []byte(p.Fingerprint), p)
	})
	return granted, err
}

// Name is the thing's display name as renamed by its owner ("" if never).
func (s *Store) Name() (string, error) {
	var n string
	err := s.db.View(func(tx *bbolt.Tx) error {
		n = string(tx.Bucket(bucketMeta).Get(keyName))
		return nil
	})
	return n, err
}

// SetName records a new display name.
func (s *Store) SetName(name string) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyName, []byte(name))
	})
}

// LoadState implements transport.StateStore.
func (s *Store) LoadState(context.Context) (transport.State, error) {
	var st transport.State
	err := s.db.View(func(tx *bbolt.Tx) error {
		_, err := getJSON(tx.Bucket(bucketMeta), keyMailbox, &st)
		return err
	})
	return st, err
}

// SaveState implements transport.StateStore. The quarantine counts of the
// messages the new position passes are committed with it: a refused
// message costs one small write (the same key rewritten, so the file does
// not grow), and one offered again after a crash is counted once.
func (s *Store) SaveState(_ context.Context, st transport.State) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var passed [][2]uint32
	for k := range s.pending {
		if k[0] != st.UIDValidity || k[1] <= st.LastUID {
			passed = append(passed, k)
		}
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		if len(passed) > 0 {
			counts := map[string]uint64{}
			if _, err := getJSON(b, keyQuarantined, &counts); err != nil {
				return err
			}
			for _, k := range passed {
				// A message of an older UIDVALIDITY is offered again
				// under the new one (transport.Reprocess) and counted then.
				if k[0] == st.UIDValidity {
					counts[s.pending[k]]++
				}
			}
			if err := putJSON(b, keyQuarantined, counts); err != nil {
				return err
			}
		}
		return putJSON(b, keyMailbox, st)
	})
	if err == nil {
		for _, k := range passed {
			delete(s.pending, k)
		}
	}
	return err
}

// noteQuarantined counts m as quarantined for reason once the watcher
// records its disposition (SaveState).
func (s *Store) noteQuarantined(m transport.Msg, reason string) {
	s.mu.Lock()
	s.pending[[2]uint32{m.UIDValidity, m.UID}] = reason
	s.mu.Unlock()
}

// Quarantined returns how many messages the thing refused and moved to its
// quarantine folder, by reason, including any whose move is under way. The
// folder keeps only the newest of them (QuarantineLimits).
func (s *Store) Quarantined() (map[string]uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	counts := map[string]uint64{}
	err := s.db.View(func(tx *bbolt.Tx) error {
		_, err := getJSON(tx.Bucket(bucketMeta), keyQuarantined, &counts)
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, r := range s.pending {
		counts[r]++
	}
	return counts, nil
}

// seenJournal is the SeenStore the replay guard records in: the id and
// the journal entry of the message are committed together, in one fsync.
type seenJournal struct {
	st    *Store
	entry journalEntry
}

func (j seenJournal) Record(ctx context.Context, id string, date, pruneBefore time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return j.st.db.Update(func(tx *bbolt.Tx) error {
		if err := j.st.seen.RecordTx(tx, id, date, pruneBefore); err != nil {
			return err
		}
		b, order := tx.Bucket(bucketJournal), tx.Bucket(bucketJournalOrder)
		// Forget entries older than the window, oldest first: a replay of
		// them is refused by the window before the journal is asked.
		c := order.Cursor()
		cut := dateKey(pruneBefore)
		for k, _ := c.First(); k != nil && bytes.Compare(k[:8], cut) < 0; k, _ = c.First() {
			if err := b.Delete(k[8:]); err != nil {
				return err
			}
			if err := order.Delete(k); err != nil {
				return err
			}
		}
		if err := order.Put(append(dateKey(j.entry.Date), id...), nil); err != nil {
			return err
		}
		return putJSON(b, []byte(id), j.entry)
	})
}

// dateKey orders journal entries by date (Unix seconds, big-endian).
func dateKey(t time.Time) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(max(t.Unix(), 0)))
}

// complete marks the message done and, when queue is set, queues its
// reply, in one transaction.
func (s *Store) complete(id string, reply outboxEntry, queue bool) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketJournal)
		var e journalEntry
		if _, err := getJSON(b, []byte(id), &e); err != nil {
			return err
		}
		e.Done = true
		if err := putJSON(b, []byte(id), e); err != nil {
			return err
		}
		if !queue {
			return nil
		}
		return queueTx(tx, reply)
	})
}

func (s *Store) journaled(id string) (*journalEntry, error) {
	var e journalEntry
	var ok bool
	err := s.db.View(func(tx *bbolt.Tx) (err error) {
		ok, err = getJSON(tx.Bucket(bucketJournal), []byte(id), &e)
		return err
	})
	if err != nil || !ok {
		return nil, err
	}
	return &e, nil
}

// queue puts sealed messages into the outbox, durably.
func (s *Store) queue(msgs ...outboxEntry) error {
	return s.db.Update(func(tx *bbolt.Tx) error { return queueTx(tx, msgs...) })
}

func queueTx(tx *bbolt.Tx, msgs ...outboxEntry) error {
	b := tx.Bucket(bucketOutbox)
	for _, m := range msgs {
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		if err := putJSON(b, binary.BigEndian.AppendUint64(nil, seq), m); err != nil {
			return err
		}
	}
	return nil
}

type queued struct {
	key []byte
	outboxEntry
}

func (s *Store) outbox() ([]queued, error) {
	var out []queued
	err := s.db.View(func(tx *bbolt.Tx) error {
		return eachJSON(tx.Bucket(bucketOutbox), "outbox entry", func(k []byte, e outboxEntry) error {
			out = append(out, queued{key: append([]byte(nil), k...), outboxEntry: e})
			return nil
		})
	})
	return out, err
}

func (s *Store) unqueue(key []byte) error {
	return s.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketOutbox).Delete(key) })
}
