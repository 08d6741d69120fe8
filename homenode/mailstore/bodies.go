package mailstore

import (
	"errors"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// keyBody holds a message's bytes inside the message's own bucket.
var keyBody = []byte("b")

// Message bytes (of a mailbox's messages and of queued mail) are each kept
// in a bucket of their own, under the message's key, rather than as the
// key's value. Keys are appended in order, and bbolt does not split a leaf
// of four or fewer entries: with the bytes as values, every append rewrote
// (and read back through the mapping) the last two to four messages, so a
// delivery wrote about seven times its size and left the neighbours
// resident. A nested bucket puts only a 16-byte header into the leaf (a
// small message stays inline in it), and the bytes are written once. Files
// of layout 1 hold the bytes as values; they are read and removed the same
// way.

// putBody stores raw under key in b. raw must not change until the
// transaction commits.
func putBody(b *bolt.Bucket, key, raw []byte) error {
	mb, err := b.CreateBucket(key)
	if err != nil {
		return err
	}
	return mb.Put(keyBody, raw)
}

// getBody returns the bytes stored under key in b, or nil. Outside a write
// transaction they point into the file's mapping and are valid until the
// transaction ends.
func getBody(b *bolt.Bucket, key []byte) []byte {
	if mb := b.Bucket(key); mb != nil {
		return mb.Get(keyBody)
	}
	return b.Get(key)
}

// deleteBody removes the bytes stored under key in b; none is no error.
func deleteBody(b *bolt.Bucket, key []byte) error {
	err := b.DeleteBucket(key)
	switch {
	case errors.Is(err, berrors.ErrIncompatibleValue):
		return b.Delete(key) // layout 1: the bytes are the value
	case errors.Is(err, berrors.ErrBucketNotFound):
		return nil
	}
	return err
}
