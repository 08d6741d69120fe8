package app

import (
	"context"
	"fmt"

	"github.com/thingpost/thingpost/transport"
)

// Start connects: it watches the inbox (IMAP IDLE, reconnecting with
// backoff), sends the outbox and expires unanswered commands, in the
// background until Stop. It needs the unlocked identity and an account.
// ctx bounds only the start itself. Starting a running app does nothing.
func (a *App) Start(ctx context.Context) error {
	a.runMu.Lock()
	defer a.runMu.Unlock()
	if a.run != nil {
		return nil
	}
	if _, err := a.identity(); err != nil {
		return err
	}
	acct, err := a.account(ctx)
	if err != nil {
		return err
	}
	sender, err := transport.NewSender(acct)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	// Messages held for a pairing that a crash interrupted: applied if the
	// thing got paired, else dropped.
	a.applyHeld(ctx, true)
	pending, err := a.st.pendingCommands()
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	a.mu.Lock()
	for _, c := range pending {
		if c.Status == StatusSent {
			a.sentDeadlines[c.ID] = c.Deadline
		}
	}
	a.mu.Unlock()

	rctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, acct: acct, sender: sender, stopped: make(chan struct{})}
	wo := a.opts.Watch
	if wo.Logger == nil {
		wo.Logger = a.log
	}
	wo.OnStatus = a.onWatchStatus
	r.done.Add(3)
	go func() {
		defer r.done.Done()
		if err := transport.Watch(rctx, acct, a.st, a.handle, wo); err != nil {
			a.log.Error("inbox watcher stopped", "err", err)
			a.setConn(func(s *ConnStatus) { s.State, s.Err = ConnStopped, err.Error() })
		}
	}()
	go func() { defer r.done.Done(); a.runOutbox(rctx, r) }()
	go func() { defer r.done.Done(); a.runExpiry(rctx) }()
	a.mu.Lock()
	a.run = r
	a.mu.Unlock()
	kick(a.outKick)
	kick(a.expKick)
	return nil
}

// Stop disconnects and waits for the background work to end. Commands stay
// in the outbox; pairings in progress fail. A phone calls it when the app
// leaves the foreground and Start when it comes back: the inbox catches up
// and the outbox flushes.
func (a *App) Stop() {
	a.runMu.Lock()
	defer a.runMu.Unlock()
	r := a.run
	if r == nil {
		return
	}
	a.mu.Lock()
	a.run = nil
	a.mu.Unlock()
	close(r.stopped)
	r.cancel()
	r.done.Wait()
	r.sender.Close()
	a.setConn(func(s *ConnStatus) { s.State, s.Err, s.Retry = ConnStopped, "", 0 })
}

// Running reports whether Start has connected the app.
func (a *App) Running() bool { return a.running() != nil }

func (a *App) running() *running {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.run
}

// Conn returns the current connection status.
func (a *App) Conn() ConnStatus {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.conn
}

func (a *App) onWatchStatus(st transport.Status) {
	var back bool
	a.setConn(func(s *ConnStatus) {
		back = st.State == transport.StateIdle && s.State != ConnIdle
		s.State, s.Retry = connState(st.State), st.Retry
		switch {
		case st.Err != nil:
			s.Err = st.Err.Error()
		case st.State == transport.StateIdle:
			s.Err = ""
		}
	})
	if back {
		a.retryNow()
	}
}

// setConn changes the connection status and publishes it when it changed.
func (a *App) setConn(f func(*ConnStatus)) {
	a.mu.Lock()
	old := a.conn
	f(&a.conn)
	now := a.conn
	a.mu.Unlock()
	if now != old {
		a.emit(Event{Kind: EventConnection, Conn: &now})
	}
}
