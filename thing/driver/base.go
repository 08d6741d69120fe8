package driver

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/thingpost/thingpost/wire"
)

// base is what every driver shares: the lock on its state, closing, the
// clock, event delivery and the simulation ticker.
type base struct {
	mu     sync.Mutex // guards the driver's state and closed
	closed bool

	// notifyMu is taken before mu is released and held while events are
	// delivered, so that events arrive in the order they happened while
	// Notify can still call Status and Do (which take only mu).
	notifyMu sync.Mutex
	notify   func(wire.Event)
	now      func() time.Time
	log      *slog.Logger

	stop chan struct{} // closed by Close; nil without a ticker
	done chan struct{} // closed when the ticker goroutine returns
}

func (b *base) init(cfg *Config) {
	b.notify, b.now, b.log = cfg.Notify, cfg.Now, cfg.Logger
	if b.now == nil {
		b.now = time.Now
	}
	if b.log == nil {
		b.log = slog.Default()
	}
}

// start runs step once per tick until Close, unless cfg.Manual.
func (b *base) start(cfg *Config, step func(time.Time) error) {
	if cfg.Manual {
		return
	}
	b.stop, b.done = make(chan struct{}), make(chan struct{})
	t := time.NewTicker(cfg.tick())
	go func() {
		defer close(b.done)
		defer t.Stop()
		for {
			select {
			case now := <-t.C:
				if err := step(now); err != nil {
					b.log.Warn("device simulation step failed", "err", err)
				}
			case <-b.stop:
				return
			}
		}
	}()
}

// Close stops the ticker and waits for it.
func (b *base) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	if b.stop != nil {
		close(b.stop)
		<-b.done
	}
	return nil
}

// begin takes mu for Do and checks that the driver is open and the caller
// still waits. On success the caller must unlock mu.
func (b *base) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	return nil
}

// unlockAndNotify stamps evs with the state status reports (read under mu,
// so it is the state right after them), releases mu, which the caller holds,
// and delivers evs in order.
func (b *base) unlockAndNotify(evs []wire.Event, status func() Status) {
	if len(evs) > 0 {
		state := status().State
		for i := range evs {
			evs[i].State = state
		}
	}
	if len(evs) == 0 || b.notify == nil {
		b.mu.Unlock()
		return
	}
	b.notifyMu.Lock()
	b.mu.Unlock()
	defer b.notifyMu.Unlock()
	for _, e := range evs {
		b.notify(e)
	}
}

// round rounds x to the given number of decimals, so that simulated values
// do not drift into 20.000000000000004.
func round(x float64, decimals int) float64 {
	p := math.Pow10(decimals)
	r := math.Round(x*p) / p
	if r == 0 {
		return 0 // not -0, which prints as "-0"
	}
	return r
}
