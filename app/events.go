package app

import (
	"sync"
	"time"

	"github.com/thingpost/thingpost/transport"
)

// EventKind says what an Event is about.
type EventKind string

// Event kinds.
const (
	// EventConnection: the mailbox connection or the outbox changed state
	// (Conn).
	EventConnection EventKind = "connection"
	// EventPairing: a pairing made progress or failed (Pairing).
	EventPairing EventKind = "pairing"
	// EventCommand: a command changed status (Command).
	EventCommand EventKind = "command"
	// EventThingEvent: a thing told something on its own (Entry, kind
	// event) or sent other verified text (kind message).
	EventThingEvent EventKind = "thing-event"
	// EventThing: a thing was added or changed: state, capabilities, name,
	// role, last seen (Thing).
	EventThing EventKind = "thing"
	// EventThingRemoved: a thing was removed (ThingID).
	EventThingRemoved EventKind = "thing-removed"
)

// Event is one notification for the GUI. Exactly the field its Kind names
// is set.
type Event struct {
	Kind    EventKind `json:"kind"`
	Time    time.Time `json:"time"`
	ThingID string    `json:"thing,omitempty"`

	Conn    *ConnStatus    `json:"conn,omitempty"`
	Pairing *PairingStatus `json:"pairing,omitempty"`
	Command *Command       `json:"command,omitempty"`
	Entry   *Entry         `json:"entry,omitempty"`
	Thing   *Thing         `json:"thing_info,omitempty"`
}

// ConnStatus is the state of the mail connection.
type ConnStatus struct {
	State ConnState `json:"state"`
	// Err says why the connection or the last send failed ("" if fine).
	Err string `json:"error,omitempty"`
	// Retry is the wait before the next attempt when reconnecting.
	Retry time.Duration `json:"retry,omitempty"`
	// Outbox is the number of messages waiting to be sent.
	Outbox int `json:"outbox"`
}

// ConnState is where the mail connection stands.
type ConnState string

// Connection states.
const (
	ConnConnecting   ConnState = "connecting"   // dialling and logging in
	ConnCatchingUp   ConnState = "catching up"  // logged in, reading the mail that came meanwhile
	ConnIdle         ConnState = "idle"         // connected and up to date
	ConnReconnecting ConnState = "reconnecting" // the connection failed; ConnStatus.Err says why
	ConnStopped      ConnState = "stopped"      // not started, or stopped
)

// connState is the app's name for the inbox watcher's state.
func connState(s transport.ConnState) ConnState {
	switch s {
	case transport.StateConnecting:
		return ConnConnecting
	case transport.StateCatchingUp:
		return ConnCatchingUp
	case transport.StateIdle:
		return ConnIdle
	case transport.StateReconnecting:
		return ConnReconnecting
	}
	return ConnStopped
}

// PairingStep is a step of pairing as joiner.
type PairingStep string

// Pairing steps, in order; Failed can come at any point.
const (
	PairRequested PairingStep = "requested"    // the first handshake message is queued
	PairVerified  PairingStep = "key-verified" // the thing's key matched the code's fingerprint
	PairJoined    PairingStep = "joined"       // the thing confirmed; it is stored
	PairDescribed PairingStep = "described"    // its capabilities arrived: done
	PairFailed    PairingStep = "failed"
)

// PairingStatus is the progress of one pairing.
type PairingStatus struct {
	ID          string      `json:"id"`
	Step        PairingStep `json:"step"`
	ThingAddr   string      `json:"addr"`
	ThingName   string      `json:"name"`
	Fingerprint string      `json:"fpr"`
	// Err says why the pairing failed, for people.
	Err string `json:"error,omitempty"`
}

// broker fans events out to subscribers without ever blocking the sender:
// each subscriber has its own unbounded queue and goroutine.
type broker struct {
	mu   sync.Mutex
	subs map[*subscriber]struct{}
}

type subscriber struct {
	mu    sync.Mutex
	queue []Event
	wake  chan struct{}
	done  chan struct{}
	out   chan Event
}

func (b *broker) publish(e Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		s.mu.Lock()
		s.queue = append(s.queue, e)
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

func (b *broker) subscribe() (<-chan Event, func()) {
	s := &subscriber{wake: make(chan struct{}, 1), done: make(chan struct{}), out: make(chan Event)}
	b.mu.Lock()
	if b.subs == nil {
		b.subs = map[*subscriber]struct{}{}
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	go s.run()
	var once sync.Once
	return s.out, func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs, s)
			b.mu.Unlock()
			close(s.done)
		})
	}
}

func (s *subscriber) run() {
	defer close(s.out)
	for {
		s.mu.Lock()
		q := s.queue
		s.queue = nil
		s.mu.Unlock()
		for _, e := range q {
			select {
			case s.out <- e:
			case <-s.done:
				return
			}
		}
		select {
		case <-s.wake:
		case <-s.done:
			return
		}
	}
}

// Events subscribes to the event stream. The channel delivers every event
// in order until stop is called, after which it is closed. A slow reader
// never blocks the app: events queue up for it.
func (a *App) Events() (events <-chan Event, stop func()) {
	return a.events.subscribe()
}

func (a *App) emit(e Event) {
	if e.Time.IsZero() {
		e.Time = a.now()
	}
	a.events.publish(e)
}
