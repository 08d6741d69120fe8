package driver

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/thingpost/thingpost/wire"
)

func TestLock(t *testing.T) {
	var rec recorder
	var l *Lock
	var seen []string
	notify := func(e wire.Event) {
		rec.notify(e)
		seen = append(seen, l.Status().Text) // Notify may call Status
	}
	l, err := NewLock(Config{Noun: "front door", Notify: notify, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	type step struct {
		name   string
		act    func() (Status, error)
		text   string // sentence after the step
		err    error  // expected error (errors.Is), or a wire kind for refusals
		events []string
		locked bool
		door   string
	}
	do := func(text string) func() (Status, error) {
		return func() (Status, error) { return send(t, l, text) }
	}
	sim := func(f func() error) func() (Status, error) {
		return func() (Status, error) { return l.Status(), f() }
	}
	steps := []step{
		{name: "new", act: sim(func() error { return nil }), text: "The front door is locked.", locked: true, door: "closed"},
		{name: "open locked", act: sim(l.OpenDoor), text: "The front door is locked.", err: ErrLocked, locked: true, door: "closed"},
		{name: "unlock", act: do("unlock"), text: "The front door is unlocked and closed.", door: "closed"},
		{name: "unlock again", act: do("unlock"), text: "The front door is unlocked and closed.", door: "closed"},
		{name: "open", act: sim(l.OpenDoor), text: "The front door is unlocked and open.", events: []string{"door-opened"}, door: "open"},
		{name: "open again", act: sim(l.OpenDoor), text: "The front door is unlocked and open.", door: "open"},
		{name: "lock while open", act: do("lock"), err: ErrDoorOpen, text: "The front door is unlocked and open.", door: "open"},
		{name: "set locked while open", act: do("set locked on"), err: ErrDoorOpen, text: "The front door is unlocked and open.", door: "open"},
		{name: "set door", act: do("set door closed"), err: wire.ErrUnsupported, text: "The front door is unlocked and open.", door: "open"},
		{name: "close", act: sim(l.CloseDoor), text: "The front door is unlocked and closed.", events: []string{"door-closed"}, door: "closed"},
		{name: "close again", act: sim(l.CloseDoor), text: "The front door is unlocked and closed.", door: "closed"},
		{name: "lock", act: do("lock"), text: "The front door is locked.", locked: true, door: "closed"},
		{name: "set locked off", act: do("set locked off"), text: "The front door is unlocked and closed.", door: "closed"},
		{name: "set locked on", act: do("set locked on"), text: "The front door is locked.", locked: true, door: "closed"},
		{name: "on", act: do("on"), err: wire.ErrUnsupported, text: "The front door is locked.", locked: true, door: "closed"},
	}
	for _, st := range steps {
		_, err := st.act()
		if !errors.Is(err, st.err) {
			t.Errorf("%s: error %v, want %v", st.name, err, st.err)
		}
		s := l.Status()
		if s.Text != st.text {
			t.Errorf("%s: %q, want %q", st.name, s.Text, st.text)
		}
		if want := (wire.State{"locked": wire.BoolValue(st.locked), "door": wire.StringValue(st.door)}); !s.State.Equal(want) {
			t.Errorf("%s: state %v, want %v", st.name, s.State, want)
		}
		evs := rec.take()
		if !slices.Equal(kinds(evs), st.events) {
			t.Errorf("%s: events %v, want %v", st.name, kinds(evs), st.events)
		}
		checkWire(t, l, s, evs...)
		for _, e := range evs {
			if !e.Time.Equal(t0) || !e.State.Equal(s.State) {
				t.Errorf("%s: event %+v has the wrong time or state", st.name, e)
			}
		}
	}
	want := []string{"The front door is unlocked and open.", "The front door is unlocked and closed."}
	if !slices.Equal(seen, want) {
		t.Errorf("Notify saw %q, want %q", seen, want)
	}
	if ErrDoorOpen.Error() != "the door is open; close it before locking" {
		t.Errorf("ErrDoorOpen reads %q", ErrDoorOpen)
	}
	// A reply to the refused lock tells the person why.
	r := wire.Refusal(&wire.Command{Name: "lock"}, ErrDoorOpen)
	if r.Text != "The door is open; close it before locking." {
		t.Errorf("refusal text %q", r.Text)
	}
}

func TestLockRefusesItself(t *testing.T) {
	l, err := NewLock(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, tt := range []struct {
		call wire.Call
		kind error
		why  string
	}{
		{set("locked", wire.StringValue("yes")), wire.ErrBadValue, "locked is on or off"},
		{set("door", wire.StringValue("open")), wire.ErrUnsupported, "door is read-only"},
		{plain("unlock", wire.StringValue("1234")), wire.ErrBadCommand, "takes no arguments"},
		{plain("open"), wire.ErrUnsupported, `this door cannot "open"`},
	} {
		_, err := l.Do(context.Background(), tt.call)
		wantRefusal(t, err, tt.kind, tt.why)
	}
	if s := l.Status(); s.Text != "The door is locked." {
		t.Errorf("refused calls changed the lock: %q", s.Text)
	}
}
