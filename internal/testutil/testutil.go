// Package testutil holds small helpers that tests of several packages share.
// Only tests and test support (internal/mailserver) import it.
package testutil

import (
	"bytes"
	"sync"
)

// SyncBuffer is a log sink that is safe for concurrent writers: servers
// under test log from many goroutines while the test reads the log.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String is everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
