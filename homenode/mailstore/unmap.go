package mailstore

import (
	"context"
	"unsafe"

	bolt "go.etcd.io/bbolt"
)

// bbolt reads the file through a shared read-only mapping, and every page
// the process touched stays in its resident size: the message bytes a FETCH
// copied out, and, because the kernel maps the cached pages around each
// fault too, soon most of a file that commits rewrite all over. On a router
// that made the store the largest part of the node's RSS, growing with the
// mail kept. The store therefore unmaps what it is done with: the bytes of
// a message once copied, and the whole file after each commit. The pages
// stay in the page cache (clean, for the kernel to keep or reclaim); the
// hot ones are mapped again by the next access, a minor fault.

// unmapFile drops the whole file from this process's mapping. The read
// transaction keeps bbolt from remapping meanwhile; every page in use lies
// below its high-water mark (tx.Size).
func (s *Store) unmapFile() {
	_ = s.view(context.Background(), func(tx *bolt.Tx) error {
		data := s.db.Info().Data
		unmapPages(data, data+uintptr(tx.Size()))
		return nil
	})
}

// unmapValue drops the pages of v, read in the read transaction tx, from
// this process's mapping. v must not be used afterwards except through a
// copy (the bytes stay valid, mapped again on access).
func (s *Store) unmapValue(tx *bolt.Tx, v []byte) {
	if len(v) == 0 {
		return
	}
	data := s.db.Info().Data
	p := uintptr(unsafe.Pointer(&v[0]))
	if p < data || p+uintptr(len(v)) > data+uintptr(tx.Size()) {
		return // not in the mapping
	}
	unmapPages(p, p+uintptr(len(v)))
}
