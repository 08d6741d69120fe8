package mobile

import (
	"context"
	"sync"
)

// Core is what a Lifecycle starts and stops: *app.App, or the demo.Host
// that starts it.
type Core interface {
	// Start connects (inbox catch-up, IDLE, outbox); it returns once
	// started.
	Start(ctx context.Context) error
	// Stop disconnects and waits; queued commands stay in the outbox.
	Stop()
}

// Lifecycle keeps the core's connection in step with what the app wants
// (Activate, Deactivate) and with whether the app is in the foreground. It
// reconciles on one goroutine of its own, in order, so that a quick
// background-foreground switch never leaves the connection down, and the
// UI goroutine never waits for the network.
type Lifecycle struct {
	core       Core
	background bool // stop while in the background
	onChange   func(running bool, err error)

	mu      sync.Mutex
	active  bool // the app wants the connection
	restart bool // reconnect (new account settings)
	inFront bool
	running bool
	kick    chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
}

// NewLifecycle manages core. stopInBackground is usually
// StopInBackground(). onChange, if not nil, is called (on the Lifecycle's
// goroutine) after each start or stop, with the error of a failed start.
func NewLifecycle(core Core, stopInBackground bool, onChange func(running bool, err error)) *Lifecycle {
	ctx, cancel := context.WithCancel(context.Background())
	l := &Lifecycle{core: core, background: stopInBackground, onChange: onChange, inFront: true,
		kick: make(chan struct{}, 1), ctx: ctx, cancel: cancel, done: make(chan struct{})}
	go l.run()
	return l
}

// Activate asks for the connection (after unlock and account setup).
func (l *Lifecycle) Activate() { l.set(func() { l.active = true }) }

// Deactivate drops the connection.
func (l *Lifecycle) Deactivate() { l.set(func() { l.active = false }) }

// Restart reconnects if connected, so that new account settings apply.
func (l *Lifecycle) Restart() { l.set(func() { l.restart = true }) }

// EnteredForeground is Fyne's Lifecycle.SetOnEnteredForeground hook.
func (l *Lifecycle) EnteredForeground() { l.set(func() { l.inFront = true }) }

// ExitedForeground is Fyne's Lifecycle.SetOnExitedForeground hook.
func (l *Lifecycle) ExitedForeground() { l.set(func() { l.inFront = false }) }

// Close stops reconciling and the connection, and waits for both.
func (l *Lifecycle) Close() {
	l.cancel()
	<-l.done
}

func (l *Lifecycle) set(f func()) {
	l.mu.Lock()
	f()
	l.mu.Unlock()
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// want says whether the connection should be up, and whether a running
// one should be restarted first.
func (l *Lifecycle) want() (up, restart bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	restart, l.restart = l.restart, false
	return l.active && (l.inFront || !l.background), restart
}

func (l *Lifecycle) run() {
	defer close(l.done)
	running := false
	for {
		select {
		case <-l.ctx.Done():
			if running {
				l.core.Stop()
			}
			return
		case <-l.kick:
		}
		want, restart := l.want()
		if restart && running {
			l.core.Stop()
			running = false
			l.changed(false, nil)
		}
		switch {
		case want && !running:
			err := l.core.Start(l.ctx)
			running = err == nil
			l.changed(running, err)
		case !want && running:
			l.core.Stop()
			running = false
			l.changed(false, nil)
		}
	}
}

func (l *Lifecycle) changed(running bool, err error) {
	l.mu.Lock()
	l.running = running
	l.mu.Unlock()
	if l.onChange != nil {
		l.onChange(running, err)
	}
}

// Running reports whether the lifecycle has the core started.
func (l *Lifecycle) Running() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.running
}
