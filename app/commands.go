package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.etcd.io/bbolt"

	"github.com/thingpost/thingpost/envelope"
	"github.com/thingpost/thingpost/keystore"
	"github.com/thingpost/thingpost/transport"
	"github.com/thingpost/thingpost/wire"
)

// Outbox retry delays while the mail server cannot be reached.
const (
	minRetry = 250 * time.Millisecond
	maxRetry = 10 * time.Second
)

// ParseCommand reads what a person typed for this thing: the built-in
// commands and the ones the thing declared. It does not send anything.
func (a *App) ParseCommand(thingID, text string) (wire.Command, error) {
	t, err := a.Thing(thingID)
	if err != nil {
		return wire.Command{}, err
	}
	if t.Capabilities != nil {
		return t.Capabilities.ParseCommand(text)
	}
	return wire.ParseCommand(text)
}

// Send parses text as a command for the thing, checks a device command
// against the thing's capabilities (a *wire.CommandError says what is wrong,
// and nothing is sent), seals it and puts it in the durable outbox. It
// returns at once with the command queued; Wait (or the event stream)
// gives the outcome. timeout 0 means Options.CommandTimeout.
func (a *App) Send(ctx context.Context, thingID, text string, timeout time.Duration) (Command, error) {
	cmd, err := a.ParseCommand(thingID, text)
	if err != nil {
		return Command{}, err
	}
	return a.sendCommand(ctx, thingID, cmd, timeout)
}

// sendCommand is Send for a command already in canonical form.
func (a *App) sendCommand(ctx context.Context, thingID string, cmd wire.Command, timeout time.Duration) (Command, error) {
	id, err := a.identity()
	if err != nil {
		return Command{}, err
	}
	a.mu.RLock()
	r, ok := a.things[thingID]
	var th thingRecord
	if ok {
		th = *r
	}
	a.mu.RUnlock()
	if !ok {
		return Command{}, fmt.Errorf("thing %s: %w", thingID, ErrNotFound)
	}
	if cmd.Class() == wire.ClassDevice && th.Capabilities != nil {
		if err := th.Capabilities.Validate(cmd); err != nil {
			return Command{}, err
		}
	}
	hv, err := wire.Encode(wire.Message{Version: wire.Version, Command: &cmd})
	if err != nil {
		return Command{}, fmt.Errorf("command: %w", err)
	}
	now := a.now()
	s, err := envelope.Seal(ctx, &envelope.Draft{
		From:    id,
		To:      []*keystore.PublicKey{th.pub},
		Date:    now,
		Subject: "Message from " + id.Addr(),
		Headers: []envelope.Field{{Name: wire.HeaderName, Value: hv}},
		Text:    cmd.String(),
	})
	if err != nil {
		return Command{}, fmt.Errorf("command: %w", err)
	}
	if timeout <= 0 {
		timeout = a.opts.CommandTimeout
	}
	timeout = min(timeout, maxCommandTimeout)
	c := commandRecord{Command: Command{ID: s.MessageID, Thing: thingID, Command: cmd, Status: StatusQueued,
		Created: now, Deadline: now.Add(timeout)}}
	err = a.st.db.Update(func(tx *bbolt.Tx) error {
		e := Entry{Thing: thingID, Kind: EntryCommand, Time: now, Text: cmd.String(), CommandID: c.ID,
			Command: &cmd, Status: StatusQueued, Verified: true, MessageID: c.ID}
		if err := addEntry(tx, &e); err != nil {
			return err
		}
		c.HistorySeq = e.Seq
		if err := putCommand(tx, &c); err != nil {
			return err
		}
		return putOut(tx, &outItem{ID: c.ID, Command: true, To: []string{th.Addr}, Raw: s.Raw, Deadline: c.Deadline})
	})
	if err != nil {
		return Command{}, fmt.Errorf("command: outbox: %w", err)
	}
	out := c.Command
	a.emit(Event{Kind: EventCommand, ThingID: thingID, Command: &out})
	kick(a.outKick)
	return out, nil
}

// Wait waits until the command has an outcome (or ctx ends) and returns
// it. The error is nil when the thing answered; it wraps ErrRefused when
// the thing refused (Reply.Reason says why), and otherwise says why the
// command expired or failed (Status tells which). The outcome is committed
// (the history holds the reply) before Wait returns.
func (a *App) Wait(ctx context.Context, id string) (Command, error) {
	for {
		ch := make(chan struct{})
		a.mu.Lock()
		a.waiters[id] = append(a.waiters[id], ch)
		a.mu.Unlock()
		c, err := a.command(id)
		if err != nil || c.Status.Final() {
			a.dropWaiter(id, ch)
			if err != nil {
				return c, err
			}
			return c, c.err()
		}
		// While the app is stopped nothing expires the command: give up at
		// its deadline instead of waiting for ctx.
		deadline := time.NewTimer(max(c.Deadline.Sub(a.now()), 0) + 100*time.Millisecond)
		select {
		case <-ch:
		case <-deadline.C:
			if !a.Running() {
				a.dropWaiter(id, ch)
				return c, fmt.Errorf("command %s is still %s: %w", id, c.Status, ErrNotRunning)
			}
		case <-ctx.Done():
			deadline.Stop()
			a.dropWaiter(id, ch)
			return c, ctx.Err()
		}
		deadline.Stop()
		a.dropWaiter(id, ch)
	}
}

func (a *App) dropWaiter(id string, ch chan struct{}) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ws := slices.DeleteFunc(a.waiters[id], func(c chan struct{}) bool { return c == ch })
	if len(ws) == 0 {
		delete(a.waiters, id)
	} else {
		a.waiters[id] = ws
	}
}

// command returns a command by its ID.
func (a *App) command(id string) (Command, error) {
	var c *commandRecord
	err := a.st.db.View(func(tx *bbolt.Tx) error {
		var err error
		c, err = getCommand(tx, id)
		return err
	})
	if err != nil {
		return Command{}, err
	}
	return c.Command, nil
}

// Pending lists the commands without an outcome yet, oldest first.
func (a *App) Pending() ([]Command, error) {
	recs, err := a.st.pendingCommands()
	if err != nil {
		return nil, err
	}
	out := make([]Command, len(recs))
	for i, r := range recs {
		out[i] = r.Command
	}
	slices.SortFunc(out, func(x, y Command) int { return x.Created.Compare(y.Created) })
	return out, nil
}

// transition changes a command in one transaction with its history entry
// (and, when it expires, the thing's count of unanswered commands); f
// returns false to leave it unchanged. extra runs in the same transaction.
// It publishes the change and wakes the waiters.
func (a *App) transition(id string, f func(*commandRecord) bool, extra func(tx *bbolt.Tx, c *commandRecord) error) (changed bool, err error) {
	var c *commandRecord
	var th *thingRecord
	err = a.st.db.Update(func(tx *bbolt.Tx) error {
		c, th = nil, nil
		cmd, err := getCommand(tx, id)
		if err != nil {
			return err
		}
		if !f(cmd) {
			return nil
		}
		if err := putCommand(tx, cmd); err != nil {
			return err
		}
		if err := updateEntry(tx, cmd.Thing, cmd.HistorySeq, func(e *Entry) { e.Status = cmd.Status }); err != nil {
			return err
		}
		if cmd.Status == StatusExpired {
			if r, err := getThing(tx, cmd.Thing); err == nil {
				r.Unanswered++
				if err := putThing(tx, r); err != nil {
					return err
				}
				th = r
			}
		}
		if extra != nil {
			if err := extra(tx, cmd); err != nil {
				return err
			}
		}
		c = cmd
		return nil
	})
	if err != nil || c == nil {
		return false, err
	}
	if th != nil {
		a.keep(th)
		t := cloneThing(&th.Thing)
		a.emit(Event{Kind: EventThing, ThingID: t.ID, Thing: &t})
	}
	out := c.Command
	a.emit(Event{Kind: EventCommand, ThingID: c.Thing, Command: &out})
	if c.Status.Final() {
		a.wake(id)
	}
	return true, nil
}

// wake wakes the waiters of a command that has its outcome.
func (a *App) wake(id string) {
	a.mu.Lock()
	ws := a.waiters[id]
	delete(a.waiters, id)
	a.mu.Unlock()
	for _, ch := range ws {
		close(ch)
	}
}

func kick(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// runOutbox submits what the outbox holds, in deadline order, and retries
// with backoff while the server cannot be reached. An item whose deadline
// passes unsent is never sent: a command executed long after the person
// gave up on it would surprise.
func (a *App) runOutbox(ctx context.Context, r *running) {
	var retryAt time.Time
	delay := minRetry
	for {
		next, failed := a.flushOutbox(ctx, r, retryAt)
		if failed != nil {
			retryAt = a.now().Add(delay)
			delay = min(2*delay, maxRetry)
			next = earliest(next, retryAt)
			a.setConn(func(s *ConnStatus) { s.Err = "sending: " + failed.Error() })
		} else if !retryAt.IsZero() && !a.now().Before(retryAt) {
			retryAt, delay = time.Time{}, minRetry
		}
		if !a.sleep(ctx, a.outKick, next) {
			return
		}
	}
}

// sleep waits for a kick, the time next (zero: no timeout) or the end of
// ctx; it reports false when ctx ended.
func (a *App) sleep(ctx context.Context, kicked <-chan struct{}, next time.Time) bool {
	var timer <-chan time.Time
	if !next.IsZero() {
		t := time.NewTimer(max(next.Sub(a.now()), time.Millisecond))
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-ctx.Done():
		return false
	case <-kicked:
	case <-timer:
	}
	return true
}

// retryNow ends the outbox's backoff (the connection came back).
func (a *App) retryNow() { kick(a.outKick) }

// flushOutbox sends what is due; it returns when to look again and the
// retryable error that stopped it, if any.
func (a *App) flushOutbox(ctx context.Context, r *running, retryAt time.Time) (next time.Time, failed error) {
	items, err := a.st.outbox()
	if err != nil {
		a.log.Error("read outbox", "err", err)
		return a.now().Add(maxRetry), nil
	}
	slices.SortFunc(items, func(x, y outItem) int { return x.Deadline.Compare(y.Deadline) })
	a.setConn(func(s *ConnStatus) { s.Outbox = len(items) })
	for i := range items {
		it := &items[i]
		now := a.now()
		if !now.Before(it.Deadline) {
			a.expireUnsent(it)
			continue
		}
		if failed != nil || now.Before(retryAt) {
			next = earliest(next, it.Deadline)
			continue
		}
		sctx, cancel := context.WithDeadline(ctx, it.Deadline)
		err := r.sender.Send(sctx, r.acct.Address, it.To, it.Raw)
		cancel()
		switch {
		case err == nil:
			a.sent(it)
		case ctx.Err() != nil:
			return time.Time{}, nil
		case transport.Retryable(err):
			a.log.Warn("send failed, will retry", "to", it.To, "err", err)
			a.noteAttempt(it, err)
			failed = err
			next = earliest(next, it.Deadline)
		default:
			a.log.Error("send rejected", "to", it.To, "err", err)
			a.dropOut(it, StatusFailed, "the mail server refused it: "+err.Error())
		}
	}
	if failed == nil {
		a.setConn(func(s *ConnStatus) {
			if strings.HasPrefix(s.Err, "sending:") {
				s.Err = ""
			}
			s.Outbox = 0
		})
	}
	return next, failed
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// sent records that the server took the message.
func (a *App) sent(it *outItem) {
	now := a.now()
	changed := a.leaveOutbox(it, func(c *commandRecord) bool {
		if c.Status != StatusQueued {
			return false // answered already: the reply overtook this record
		}
		c.Status, c.SentAt, c.Attempts = StatusSent, now, c.Attempts+1
		return true
	})
	if changed {
		a.mu.Lock()
		a.sentDeadlines[it.ID] = it.Deadline
		a.mu.Unlock()
		kick(a.expKick)
	}
}

// leaveOutbox removes an item from the outbox: a command's item in the
// transaction in which f changes the command (see transition). It reports
// whether f changed it.
func (a *App) leaveOutbox(it *outItem, f func(*commandRecord) bool) (changed bool) {
	del := func(tx *bbolt.Tx, _ *commandRecord) error { return tx.Bucket(bucketOutbox).Delete([]byte(it.ID)) }
	var err error
	if it.Command {
		changed, err = a.transition(it.ID, f, del)
	}
	if err == nil && !changed {
		err = a.st.db.Update(func(tx *bbolt.Tx) error { return del(tx, nil) })
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		a.log.Error("outbox", "err", err)
	}
	return changed
}

func (a *App) noteAttempt(it *outItem, err error) {
	it.Attempts++
	it.LastErr = err.Error()
	if uerr := a.st.db.Update(func(tx *bbolt.Tx) error { return putOut(tx, it) }); uerr != nil {
		a.log.Error("outbox", "err", uerr)
	}
}

// expireUnsent drops an item whose time ran out before the server took it.
func (a *App) expireUnsent(it *outItem) {
	reason := "not sent in time: the mail server could not be reached"
	if it.LastErr != "" {
		reason += " (" + it.LastErr + ")"
	}
	a.dropOut(it, StatusExpired, reason)
}

// dropOut removes an item from the outbox and ends its command.
func (a *App) dropOut(it *outItem, status CommandStatus, reason string) {
	now := a.now()
	a.leaveOutbox(it, func(c *commandRecord) bool {
		if c.Status.Final() {
			return false
		}
		c.Status, c.Error, c.DoneAt = status, reason, now
		return true
	})
}

// runExpiry ends the sent commands whose deadline passes unanswered.
func (a *App) runExpiry(ctx context.Context) {
	for {
		now := a.now()
		var due []string
		var next time.Time
		a.mu.Lock()
		for id, d := range a.sentDeadlines {
			if !now.Before(d) {
				due = append(due, id)
				delete(a.sentDeadlines, id)
			} else {
				next = earliest(next, d)
			}
		}
		a.mu.Unlock()
		for _, id := range due {
			_, err := a.transition(id, func(c *commandRecord) bool {
				if c.Status != StatusSent {
					return false // answered meanwhile
				}
				c.Status, c.DoneAt = StatusExpired, now
				c.Error = fmt.Sprintf("no answer within %s", c.Deadline.Sub(c.Created).Round(time.Second))
				return true
			}, nil)
			if err != nil && !errors.Is(err, ErrNotFound) {
				a.log.Error("expire command", "id", id, "err", err)
			}
		}
		if !a.sleep(ctx, a.expKick, next) {
			return
		}
	}
}
