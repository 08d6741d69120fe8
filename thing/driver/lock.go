package driver

import (
	"context"
	"errors"

	"github.com/thingpost/thingpost/wire"
)

// ErrLocked means the simulated door cannot be opened: it is locked.
var ErrLocked = errors.New("the door is locked")

// Lock is a simulated door lock with a door sensor. A new lock is locked
// with the door closed.
//
// It refuses to lock while the door is open (ErrDoorOpen): a bolt thrown
// into an open door locks nothing, and a reply "locked" would give false
// assurance. Likewise the simulated door cannot be opened while locked
// (ErrLocked). OpenDoor and CloseDoor stand for a person at the door and
// send door-opened and door-closed events.
type Lock struct {
	base
	noun   string
	locked bool
	open   bool
}

// NewLock builds a simulated lock.
func NewLock(cfg Config) (*Lock, error) {
	if err := cfg.Check("lock"); err != nil {
		return nil, err
	}
	l := &Lock{noun: cfg.noun("door"), locked: true}
	l.init(&cfg)
	return l, nil
}

// Capabilities: locked (bool), door (open or closed, read-only), lock,
// unlock, and the door-opened and door-closed events.
func (l *Lock) Capabilities() *wire.Capabilities {
	return &wire.Capabilities{
		Kind: "lock",
		Properties: []wire.Property{
			{Name: "locked", ValueSpec: wire.ValueSpec{Type: wire.TypeBool}, Writable: true},
			{Name: "door", ValueSpec: wire.ValueSpec{Type: wire.TypeEnum, Enum: []string{"open", "closed"}}},
		},
		Commands: []wire.CommandSpec{{Name: "lock"}, {Name: "unlock"}},
		Events:   []string{"door-opened", "door-closed"},
	}
}

// Status gives whether the lock is locked and the door open.
func (l *Lock) Status() Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.status()
}

func (l *Lock) status() Status {
	door := "closed"
	if l.open {
		door = "open"
	}
	s := Status{State: wire.State{"locked": wire.BoolValue(l.locked), "door": wire.StringValue(door)}}
	if l.locked {
		s.Text = "The " + l.noun + " is locked."
	} else {
		s.Text = "The " + l.noun + " is unlocked and " + door + "."
	}
	return s
}

// Do carries out lock, unlock and set locked.
func (l *Lock) Do(ctx context.Context, call wire.Call) (Status, error) {
	if err := l.begin(ctx); err != nil {
		return Status{}, err
	}
	defer l.mu.Unlock()
	var lock bool
	switch call.Command.Name {
	case "lock", "unlock":
		if err := noArgs(call); err != nil {
			return Status{}, err
		}
		lock = call.Command.Name == "lock"
	case "set":
		prop, v, err := setArgs(call)
		if err != nil {
			return Status{}, err
		}
		switch prop {
		case "locked":
			if lock, err = boolArg(prop, v); err != nil {
				return Status{}, err
			}
		case "door":
			return Status{}, refuse(wire.ErrUnsupported, "door is read-only")
		default:
			return Status{}, refuse(wire.ErrUnsupported, "this %s has no %q", l.noun, prop)
		}
	default:
		return Status{}, refuse(wire.ErrUnsupported, "this %s cannot %q", l.noun, call.Command.Name)
	}
	if lock && l.open {
		return Status{}, ErrDoorOpen
	}
	l.locked = lock
	return l.status(), nil
}

// OpenDoor simulates a person opening the door: a door-opened event, or
// ErrLocked. Opening an open door does nothing.
func (l *Lock) OpenDoor() error { return l.setDoor(true) }

// CloseDoor simulates the door being closed: a door-closed event. Closing
// a closed door does nothing.
func (l *Lock) CloseDoor() error { return l.setDoor(false) }

func (l *Lock) setDoor(open bool) error {
	l.mu.Lock()
	switch {
	case l.closed:
		l.mu.Unlock()
		return ErrClosed
	case open && l.locked:
		l.mu.Unlock()
		return ErrLocked
	case l.open == open:
		l.mu.Unlock()
		return nil
	}
	l.open = open
	e := wire.Event{Kind: "door-closed", Time: l.now(), Text: "The " + l.noun + " closed."}
	if open {
		e.Kind, e.Text = "door-opened", "The "+l.noun+" opened."
	}
	l.unlockAndNotify([]wire.Event{e}, l.status)
	return nil
}
