package ui

import (
	"fyne.io/fyne/v2"

	"github.com/thingpost/thingpost/app"
)

// pumpEvents forwards the app's events to the UI goroutine, in order,
// until the subscription stops.
func (u *UI) pumpEvents(events <-chan app.Event) {
	u.work.Add(1)
	go func() {
		defer u.work.Done()
		for e := range events {
			u.post(func() { u.onEvent(e) })
		}
	}()
}

// sent is a command this session sent from a control: which property it
// changes ("" for other commands), so the control holds the person's value
// until the answer comes.
type sent struct {
	thing, prop string
}

// onEvent applies one event from the app to what is on screen.
func (u *UI) onEvent(e app.Event) {
	switch e.Kind {
	case app.EventConnection:
		u.conn = *e.Conn
		u.refreshHeader()
	case app.EventThing:
		t := *e.Thing
		_, known := u.things[t.ID]
		u.things[t.ID] = t
		if u.home != nil {
			if known {
				u.home.update(t.ID)
			} else {
				u.home.rebuild()
			}
		}
		if u.open != nil && u.open.id == t.ID {
			u.open.update()
		}
		if u.demo != nil {
			u.demo.refresh()
		}
	case app.EventThingRemoved:
		delete(u.things, e.ThingID)
		if u.home != nil {
			u.home.rebuild()
		}
		if u.open != nil && u.open.id == e.ThingID {
			u.backToRoot()
		}
		if u.demo != nil {
			u.demo.refresh()
		}
	case app.EventCommand:
		u.onCommand(*e.Command)
	case app.EventPairing:
		if u.scan != nil {
			u.scan.progress(*e.Pairing)
		}
	case app.EventThingEvent:
		if u.open != nil && u.open.id == e.ThingID {
			u.open.history.reload()
		}
		if e.Entry != nil && e.Entry.Kind == app.EntryEvent && u.prefs.notifications() {
			name := "Thingpost"
			if t, ok := u.things[e.ThingID]; ok {
				name = t.DisplayName()
			}
			u.fa.SendNotification(fyne.NewNotification(name, e.Entry.Text))
		}
	}
}

// onCommand follows a command's status: the controls waiting for it, the
// open history, and a message when one sent from here did not succeed.
func (u *UI) onCommand(c app.Command) {
	u.log.Debug("command", "thing", c.Thing, "command", c.Command.String(), "status", c.Status)
	u.noteCommand(c)
	s, mine := u.sent[c.ID]
	if c.Status.Final() {
		delete(u.sent, c.ID)
		if mine && c.Status != app.StatusAnswered {
			name := "The thing"
			if t, ok := u.things[c.Thing]; ok {
				name = t.DisplayName()
			}
			u.showToast(commandOutcome(name, &c))
		}
	}
	if u.home != nil {
		u.home.update(c.Thing)
	}
	if u.open != nil && u.open.id == c.Thing {
		u.open.commandChanged(c, mine, s.prop)
	}
}

// pending reports whether a command from this session that changes prop
// of the thing still waits for its answer.
func (u *UI) pending(thingID, prop string) bool {
	if u.editing[thingID+"\x00"+prop] {
		return true
	}
	for id, s := range u.sent {
		if s.thing == thingID && s.prop == prop && !u.finished[id] {
			return true
		}
	}
	return false
}

// noteCommand records a command's status: the commands on their way by
// ID, the ones finished lately (so that a status arriving before Send
// returned is not taken for a pending one), and each thing's newest.
func (u *UI) noteCommand(c app.Command) {
	if c.Status.Final() {
		delete(u.cmds, c.ID)
		if len(u.finished) >= maxFinished {
			clear(u.finished) // only the last few seconds' matter
		}
		u.finished[c.ID] = true
	} else if !u.finished[c.ID] {
		u.cmds[c.ID] = c
	}
	if c.Command.Name == "describe" {
		return // the pairing's, not the person's
	}
	if last, ok := u.last[c.Thing]; !ok || last.ID == c.ID || c.Created.After(last.Created) {
		if !(last.ID == c.ID && last.Status.Final() && !c.Status.Final()) {
			u.last[c.Thing] = c
		}
	}
}

// maxFinished bounds the set of finished command IDs kept.
const maxFinished = 1000

// lastCommand is the newest command of this session to the thing.
func (u *UI) lastCommand(thingID string) (app.Command, bool) {
	c, ok := u.last[thingID]
	return c, ok
}

// sentinel marks a property as being changed by a control that has not
// sent yet, so that state updates do not move the control back.
func (u *UI) sentinel(thingID, prop string) { u.editing[thingID+"\x00"+prop] = true }

func (u *UI) unsentinel(thingID, prop string) { delete(u.editing, thingID+"\x00"+prop) }
