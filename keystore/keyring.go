package keystore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"
)

// Keyring holds the public keys of known peers. It is safe for concurrent use.
//
// Keys are identified by fingerprint; one address may have several keys over
// time (a new phone, a re-created identity). Keys are kept in the order they
// were added, and adding a key that is already present replaces its material
// and moves it to the end: the key added last for an address is that
// address's current key (ByAddr). Older keys stay until removed, so mail they
// signed can still be verified (ByFingerprint, AllByAddr).
//
// The zero value is an empty keyring.
type Keyring struct {
	mu   sync.RWMutex
	keys []*PublicKey // oldest first
}

// Add validates k at the current time (shape, not expired or revoked, no
// secret material, an address in its User ID) and makes it the current key
// for its address. The keyring keeps its own copy of the key.
func (r *Keyring) Add(k *PublicKey) error {
	if k == nil || k.entity == nil {
		return fmt.Errorf("add key: %w: empty key", ErrBadKey)
	}
	nk, err := newPublicKey(k.entity, time.Now())
	if err != nil {
		return fmt.Errorf("add key %s: %w", k.fpr, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys = slices.DeleteFunc(r.keys, func(o *PublicKey) bool { return o.fpr == nk.fpr })
	r.keys = append(r.keys, nk)
	return nil
}

// ByFingerprint returns the key with fingerprint f.
func (r *Keyring) ByFingerprint(f Fingerprint) (*PublicKey, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, k := range r.keys {
		if k.fpr == f {
			return k, true
		}
	}
	return nil, false
}

// ByAddr returns the current key for addr: the one added last.
func (r *Keyring) ByAddr(addr string) (*PublicKey, bool) {
	all := r.AllByAddr(addr)
	if len(all) == 0 {
		return nil, false
	}
	return all[0], true
}

// AllByAddr returns every key for addr, the current one first.
func (r *Keyring) AllByAddr(addr string) []*PublicKey {
	addr, err := NormalizeAddr(addr)
	if err != nil {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []*PublicKey
	for i := len(r.keys) - 1; i >= 0; i-- {
		if r.keys[i].addr == addr {
			out = append(out, r.keys[i])
		}
	}
	return out
}

// Remove deletes the key with fingerprint f and reports whether it was there.
func (r *Keyring) Remove(f Fingerprint) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.keys)
	r.keys = slices.DeleteFunc(r.keys, func(k *PublicKey) bool { return k.fpr == f })
	return len(r.keys) != n
}

// All returns every key, oldest first.
func (r *Keyring) All() []*PublicKey {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Clone(r.keys)
}

// Len is the number of keys.
func (r *Keyring) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.keys)
}

const (
	keyringFormat  = "thingpost-keyring"
	keyringVersion = 1
)

type keyringJSON struct {
	Format  string   `json:"format"`
	Version int      `json:"version"`
	Keys    [][]byte `json:"keys"`
}

// MarshalBinary encodes the keyring (a small versioned JSON document holding
// each key's Bytes, oldest first) for the caller to store.
func (r *Keyring) MarshalBinary() ([]byte, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	doc := keyringJSON{Format: keyringFormat, Version: keyringVersion, Keys: make([][]byte, 0, len(r.keys))}
	for _, k := range r.keys {
		doc.Keys = append(doc.Keys, k.min)
	}
	return json.Marshal(&doc)
}

// UnmarshalBinary replaces the keyring's contents with what MarshalBinary
// wrote. Every key is checked again (its shape; not its expiry, so that a
// stored keyring stays readable as keys expire). On any error the keyring is
// left unchanged.
func (r *Keyring) UnmarshalBinary(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var doc keyringJSON
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("read keyring: %w: %v", ErrCorrupt, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("read keyring: %w: data after the JSON document", ErrCorrupt)
	}
	if doc.Format != keyringFormat || doc.Version != keyringVersion {
		return fmt.Errorf("read keyring: %w: format %q version %d, want %q version %d",
			ErrCorrupt, doc.Format, doc.Version, keyringFormat, keyringVersion)
	}
	keys := make([]*PublicKey, 0, len(doc.Keys))
	seen := make(map[Fingerprint]bool, len(doc.Keys))
	for i, kb := range doc.Keys {
		e, err := readSingleEntity(bytes.NewReader(kb))
		if err != nil {
			return fmt.Errorf("read keyring: key %d: %w", i, err)
		}
		k, err := newPublicKey(e, time.Time{})
		if err != nil {
			return fmt.Errorf("read keyring: key %d: %w", i, err)
		}
		if seen[k.fpr] {
			return fmt.Errorf("read keyring: %w: key %s appears twice", ErrCorrupt, k.fpr)
		}
		seen[k.fpr] = true
		keys = append(keys, k)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys = keys
	return nil
}
