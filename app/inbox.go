package app

import (
	"context"
	"errors"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.etcd.io/bbolt"

	"github.com/thingpost/thingpost/envelope"
	"github.com/thingpost/thingpost/securejoin"
	"github.com/thingpost/thingpost/transport"
	"github.com/thingpost/thingpost/wire"
)

// handle is the inbox watcher's handler. Only a message that envelope.Open
// authenticates as signed by a paired thing's key, or a handshake step a
// pairing in progress accepts, is used (and then deleted from the
// mailbox); anything else is left where it is and logged.
func (a *App) handle(ctx context.Context, m transport.Msg) (transport.Disposition, error) {
	if m.Raw == nil {
		a.log.Warn("dropped: message too large to read", "uid", m.UID, "size", m.Size)
		return transport.Keep(), nil
	}
	if envelope.IsReport(m.Raw) {
		a.log.Debug("dropped: a report (read receipt or bounce)", "uid", m.UID)
		return transport.Keep(), nil
	}
	id, err := a.identity()
	if err != nil {
		return transport.Disposition{}, err
	}
	msg, err := envelope.Open(ctx, m.Raw, envelope.OpenOptions{Self: id, Trusted: a.trusted, Known: a.known, Now: a.now()})
	if err == nil {
		if msg.Header.Get(securejoin.HeaderStep) != "" {
			// A handshake step from a thing we know: a pairing again
			// (a new invite) may be waiting for it.
			a.offerToPairings(ctx, m.Raw)
			return transport.Delete(), nil
		}
		if !slices.Contains(msg.To, id.Addr()) {
			a.log.Warn("dropped: a thing's message not addressed to us", "uid", m.UID, "from", msg.From, "to", msg.To)
			return transport.Keep(), nil
		}
		return a.fromThing(msg, id.Fingerprint().String())
	}
	if a.offerToPairings(ctx, m.Raw) {
		return transport.Delete(), nil
	}
	a.log.Info("dropped: not verified as from a paired thing", "uid", m.UID, "reason", err)
	return transport.Keep(), nil
}

// fromThing records a verified message from a paired thing; self is our
// fingerprint. What the message says is committed in one transaction
// before anything is published (see recordFromThing).
func (a *App) fromThing(msg *envelope.Message, self string) (transport.Disposition, error) {
	thingID := msg.Signer.Fingerprint().String()
	wm := a.machineForm(msg, thingID)
	var in inbound
	err := a.st.db.Update(func(tx *bbolt.Tx) (err error) {
		in, err = a.recordFromThing(tx, msg, wm, self)
		return err
	})
	if errors.Is(err, ErrNotFound) {
		// Removed meanwhile.
		return transport.Keep(), nil
	}
	if err != nil {
		// The message stays in the mailbox and is offered again.
		return transport.Disposition{}, err
	}
	if in.entry != nil {
		a.publishFromThing(thingID, in)
	}
	return transport.Delete(), nil
}

// machineForm decodes the wire header of a thing's message; an unreadable
// one leaves the text alone.
func (a *App) machineForm(msg *envelope.Message, thingID string) wire.Message {
	v := msg.Header.Get(wire.HeaderName)
	if v == "" {
		return wire.Message{}
	}
	wm, err := wire.Decode(v)
	if err != nil {
		a.log.Warn("a thing's machine form is unreadable; keeping its text only", "thing", thingID, "err", err)
		return wire.Message{}
	}
	return wm
}

// inbound is what recordFromThing committed: the history entry (nil when
// the message was seen before) and the command it answered ("" for none).
type inbound struct {
	entry *Entry
	cmdID string
}

// recordFromThing is fromThing's transaction: the Message-ID is recorded
// as seen, the history gets the entry, the thing its state, role and last
// seen time, and a reply settles its command.
func (a *App) recordFromThing(tx *bbolt.Tx, msg *envelope.Message, wm wire.Message, self string) (inbound, error) {
	thingID := msg.Signer.Fingerprint().String()
	now := a.now()
	if fresh, err := a.firstSeen(tx, msg, thingID); err != nil || !fresh {
		return inbound{}, err
	}
	th, err := getThing(tx, thingID)
	if err != nil {
		return inbound{}, err
	}
	th.LastSeen, th.Unanswered = now, 0
	at := now
	if !msg.Date.IsZero() {
		at = msg.Date
	}
	in := inbound{entry: &Entry{Thing: thingID, Kind: EntryMessage, Time: at, Text: msg.Text, Verified: true, MessageID: msg.MessageID}}
	switch {
	case wm.Reply != nil:
		if in.cmdID, err = a.takeReply(tx, th, msg, wm.Reply, in.entry, self, now); err != nil {
			return inbound{}, err
		}
	case wm.Event != nil:
		takeEvent(&th.Thing, wm.Event, in.entry)
	}
	if err := addEntry(tx, in.entry); err != nil {
		return inbound{}, err
	}
	if err := putThing(tx, th); err != nil {
		return inbound{}, err
	}
	a.keep(th)
	return in, nil
}

// firstSeen holds a thing's message to the rules of wire.Guard, on its
// signature time (signed data, unlike an outer Date): one signed more than
// seenRetention ago, or more than seenSkew ahead, is dropped, as is one
// whose Message-ID was seen. An id is remembered until its signature time
// leaves the window, so a server replaying an old reply or event is refused
// at any later time, not only while the id is remembered. false means the
// message is dropped.
func (a *App) firstSeen(tx *bbolt.Tx, msg *envelope.Message, thingID string) (bool, error) {
	g := wire.Guard{Store: seenTx{tx: tx, seen: a.st.seen}, Window: seenRetention, Skew: seenSkew, Now: a.now}
	// The record is part of tx, which the caller commits.
	err := g.Check(context.Background(), msg.MessageID, msg.Signed)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, wire.ErrReplayed):
		a.log.Info("dropped: a thing's message seen before", "thing", thingID, "message_id", msg.MessageID)
	case errors.Is(err, wire.ErrTooOld), errors.Is(err, wire.ErrInFuture), errors.Is(err, wire.ErrNoDate):
		a.log.Warn("dropped: a thing's message outside the time window", "thing", thingID, "message_id", msg.MessageID, "err", err)
	case errors.Is(err, wire.ErrNoMessageID), errors.Is(err, wire.ErrBadMessageID):
		a.log.Warn("dropped: a thing's message without a usable Message-ID", "thing", thingID, "err", err)
	default:
		return false, err
	}
	return false, nil
}

// seenTx records Message-IDs in the caller's write transaction.
type seenTx struct {
	tx   *bbolt.Tx
	seen *wire.BoltSeen
}

func (s seenTx) Record(_ context.Context, id string, date, pruneBefore time.Time) error {
	return s.seen.RecordTx(s.tx, id, date, pruneBefore)
}

// takeReply makes e the entry of a verified reply, settles the command it
// answers and takes what it says about the thing; our role comes from its
// text when its machine form does not say it and it answers no command of
// ours (the welcome of an older thing). It returns the ID of the command it
// answered, "" for none.
func (a *App) takeReply(tx *bbolt.Tx, th *thingRecord, msg *envelope.Message, r *wire.Reply, e *Entry, self string, now time.Time) (string, error) {
	e.Reply = r
	if r.Text != "" {
		e.Text = r.Text
	}
	var cmdID string
	if msg.InReplyTo != "" {
		ok, err := a.answer(tx, th, msg, r, e, now)
		if err != nil {
			return "", err
		}
		if ok {
			cmdID = e.CommandID
		}
	}
	if !applyReply(&th.Thing, r, self, e.Time) && e.CommandID == "" {
		learnRole(&th.Thing, e.Text)
	}
	return cmdID, nil
}

// takeEvent makes e the entry of a thing's event and merges the state it
// reports.
func takeEvent(t *Thing, ev *wire.Event, e *Entry) {
	e.Kind, e.Event = EntryEvent, ev
	if ev.Text != "" {
		e.Text = ev.Text
	}
	if !ev.Time.IsZero() {
		e.Time = ev.Time
	}
	mergeState(t, ev.State, e.Time)
}

// publishFromThing tells the subscribers what recordFromThing committed:
// the changed thing, then the answered command (waking its waiters) or the
// thing's event or message.
func (a *App) publishFromThing(thingID string, in inbound) {
	if t, err := a.Thing(thingID); err == nil {
		a.emit(Event{Kind: EventThing, ThingID: thingID, Thing: &t})
	}
	if in.cmdID != "" {
		a.finished(in.cmdID)
		return
	}
	a.emit(Event{Kind: EventThingEvent, ThingID: thingID, Entry: in.entry})
}

// settle records a reply as the outcome of its command.
func settle(c *commandRecord, r *wire.Reply, msg *envelope.Message, now time.Time) {
	c.Late = c.Status == StatusExpired
	c.Status, c.Reply, c.DoneAt = StatusAnswered, r, now
	if !r.OK {
		c.Status = StatusRefused
	}
	for _, p := range msg.Parts {
		if p.ContentType == "image/png" && len(p.Body) > 0 {
			c.Image = p.Body
			break
		}
	}
}

// answer matches a reply to its command (In-Reply-To, and the command went
// to this very thing) and records the outcome. It reports whether the reply
// answered a command of ours.
func (a *App) answer(tx *bbolt.Tx, th *thingRecord, msg *envelope.Message, r *wire.Reply, e *Entry, now time.Time) (bool, error) {
	c, err := getCommand(tx, msg.InReplyTo)
	if errors.Is(err, ErrNotFound) {
		a.log.Info("a reply to no command of ours", "thing", th.ID, "in_reply_to", msg.InReplyTo)
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if c.Thing != th.ID {
		a.log.Warn("a thing answered another thing's command; kept as a message", "thing", th.ID, "command_thing", c.Thing)
		return false, nil
	}
	e.Kind, e.CommandID, e.Command = EntryReply, c.ID, &c.Command.Command
	switch c.Status {
	case StatusAnswered, StatusRefused:
		a.log.Info("a second reply to one command", "thing", th.ID, "command", c.ID)
		return false, nil
	}
	settle(c, r, msg, now)
	if err := putCommand(tx, c); err != nil {
		return false, err
	}
	if err := updateEntry(tx, th.ID, c.HistorySeq, func(ce *Entry) { ce.Status = c.Status }); err != nil {
		return false, err
	}
	a.mu.Lock()
	delete(a.sentDeadlines, c.ID)
	a.mu.Unlock()
	return true, nil
}

// finished publishes a command's outcome and wakes its waiters.
func (a *App) finished(cmdID string) {
	c, err := a.command(cmdID)
	if err != nil {
		return
	}
	a.emit(Event{Kind: EventCommand, ThingID: c.Thing, Command: &c})
	a.wake(cmdID)
}

// applyReply takes what a verified reply says about the thing: state,
// capabilities and our role. It reports whether the reply told our role.
func applyReply(t *Thing, r *wire.Reply, self string, at time.Time) bool {
	mergeState(t, r.State, at)
	if caps := r.Capabilities; caps != nil {
		t.Capabilities = caps
		t.Kind = caps.Kind
		if caps.Name != "" {
			t.Name = caps.Name
		}
	}
	return roleFromUsers(t, r.Users, self)
}

func mergeState(t *Thing, s wire.State, at time.Time) {
	if len(s) == 0 {
		return
	}
	if t.State == nil {
		t.State = wire.State{}
	}
	for k, v := range s {
		t.State[k] = v
	}
	t.StateTime = at
}

// roleFromUsers takes our role from the users a verified reply lists: the
// welcome after pairing lists the joiner alone, the answer to "users"
// everyone. It reports whether we were among them with a known role.
func roleFromUsers(t *Thing, users []wire.User, self string) bool {
	for _, u := range users {
		if !strings.EqualFold(u.Fingerprint, self) {
			continue
		}
		switch u.Role {
		case wire.RoleOwner, wire.RoleMember, wire.RoleGuest:
			t.Role, t.RoleExpires, t.Pending = u.Role, time.Time{}, u.Pending
			if !u.Expires.IsZero() {
				t.RoleExpires = u.Expires.UTC()
			}
			return true
		}
		return false
	}
	return false
}

// welcomeRole reads the role from the text of the welcome ("You are my
// member until 2026-03-01 12:00 UTC."). Things built before the welcome
// carried the role in machine form (wire.Reply.Users) send only the text;
// for them this stays the fallback.
var welcomeRole = regexp.MustCompile(`You are my (owner|member|guest)(?: until (\d{4}-\d{2}-\d{2} \d{2}:\d{2}) UTC)?\.`)

func learnRole(t *Thing, text string) {
	m := welcomeRole.FindStringSubmatch(text)
	if m == nil {
		return
	}
	t.Role, t.RoleExpires = wire.Role(m[1]), time.Time{}
	if m[2] != "" {
		if exp, err := time.Parse("2006-01-02 15:04", m[2]); err == nil {
			t.RoleExpires = exp
		}
	}
}

// senderAddr reads the outer From address of a raw message, cheaply, to
// pick the pairing it may belong to.
func senderAddr(raw []byte) string {
	end := len(raw)
	if i := strings.Index(string(raw[:min(len(raw), 64<<10)]), "\r\n\r\n"); i >= 0 {
		end = i
	}
	for line := range strings.SplitSeq(string(raw[:end]), "\n") {
		if len(line) > 5 && strings.EqualFold(line[:5], "from:") {
			a, err := mail.ParseAddress(strings.TrimSpace(line[5:]))
			// A local part that needs quoting ("<"@x) unquotes to
			// text that is no bare address: no thing has one.
			if err != nil || (&mail.Address{Address: a.Address}).String() != "<"+a.Address+">" {
				return ""
			}
			return strings.ToLower(a.Address)
		}
	}
	return ""
}
