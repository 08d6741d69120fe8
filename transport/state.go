package transport

import (
	"context"
	"sync"
)

// State is the watcher's progress in one mailbox: the mailbox's UIDVALIDITY
// and the highest UID whose disposition has been applied.
type State struct {
	UIDValidity uint32
	LastUID     uint32
}

// StateStore persists a watcher's State. The caller implements it on its
// own storage (thingd and the app keep it in their bbolt file). SaveState
// must be durable when it returns: the watcher calls it after a message's
// disposition is applied and before the next message is fetched, so a crash
// in between re-offers at most that one message.
type StateStore interface {
	// LoadState returns the saved state, or the zero State if none.
	LoadState(ctx context.Context) (State, error)
	SaveState(ctx context.Context, s State) error
}

// MemoryState is a StateStore in memory, for tests and for callers that
// are content to reprocess the mailbox after a restart.
type MemoryState struct {
	mu    sync.Mutex
	state State
	saves int
}

// LoadState implements StateStore.
func (m *MemoryState) LoadState(context.Context) (State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state, nil
}

// SaveState implements StateStore.
func (m *MemoryState) SaveState(_ context.Context, s State) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state = s
	m.saves++
	return nil
}

// Saves reports how many times SaveState was called.
func (m *MemoryState) Saves() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.saves
}
