package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/thingpost/thingpost/demo"
)

// ErrNoDemo means no demo home runs inside this app (see RunDemo).
var ErrNoDemo = errors.New("no demo home runs in this app")

// demoCheckTimeout bounds the connection Start tries before it starts the
// demo home again: the home is on loopback, so a live one answers at once.
const demoCheckTimeout = 5 * time.Second

// DemoOptions configure StartDemo and RunDemo.
type DemoOptions struct {
	// Dir holds the demo home (default: "demo" in the app's data
	// directory, so that the demo things keep their owners across runs).
	Dir string
	// Name and Passphrase make the profile when there is none yet (its
	// address is then on the demo domain).
	Name       string
	Passphrase []byte
	// Rate, Burst and Tick are passed to demo.Options.
	Rate, Burst int
	Tick        time.Duration
}

// demoRecord, kept in app.db, says that the account is the demo home's
// and how to start that home again.
type demoRecord struct {
	Dir   string        `json:"dir,omitempty"` // "": the default, "demo" in the data directory
	Addr  string        `json:"addr"`
	Rate  int           `json:"rate,omitempty"`
	Burst int           `json:"burst,omitempty"`
	Tick  time.Duration `json:"tick,omitempty"`
}

// DemoThing is a simulated thing of the demo home, as a screen offers it.
type DemoThing struct {
	Kind string `json:"kind"` // "light", "thermostat" or "lock"
	Name string `json:"name"`
	Addr string `json:"addr"`
	// Fingerprint is the thing's key: the Thing.ID it has once paired.
	Fingerprint string `json:"fpr"`
	// Invite is its factory code (an i.delta.chat link); QR the same as a
	// PNG picture, to scan the way a real thing's label is scanned.
	Invite string `json:"invite"`
	QR     []byte `json:"-"`
	// Paired says this app is paired with it.
	Paired bool `json:"paired"`
}

// StartDemo starts the demo home inside this process (package demo) and
// makes its account for the person this app's mail account. Without a
// profile it first creates one on the demo domain; an existing profile
// must be unlocked, and its address is served by the demo home. A running
// app is restarted on the demo account. The caller closes the returned
// demo when done (Close does not); its Things carry the invite links and
// QR images to pair with. RunDemo is the same with the app owning the
// demo home.
func (a *App) StartDemo(ctx context.Context, opts DemoOptions) (*demo.Demo, error) {
	rec, err := a.demoProfile(ctx, opts)
	if err != nil {
		return nil, err
	}
	d, err := a.startDemoHome(ctx, rec)
	if err != nil {
		return nil, err
	}
	if err := a.switchAccount(ctx, d, rec); err != nil {
		d.Close(context.Background())
		return nil, err
	}
	return d, nil
}

// RunDemo starts the demo home inside the app, which owns it: Close stops
// it, and after a restart Start starts it again by itself (see
// DemoAccount), so a GUI holds nothing of it. Otherwise it is StartDemo: a
// profile is made when there is none, the demo account becomes the app's,
// a running app is restarted on it. When the app already runs its demo
// home, RunDemo only lists its things.
func (a *App) RunDemo(ctx context.Context, opts DemoOptions) ([]DemoThing, error) {
	rec, err := a.demoProfile(ctx, opts)
	if err != nil {
		return nil, err
	}
	a.demoMu.Lock()
	if a.demo != nil {
		a.demoMu.Unlock()
		return a.DemoThings(), nil
	}
	d, err := a.startDemoHome(ctx, rec)
	if err != nil {
		a.demoMu.Unlock()
		return nil, err
	}
	if err := a.setAccount(ctx, d.Person, false, &rec); err != nil {
		a.demoMu.Unlock()
		d.Close(context.Background())
		return nil, fmt.Errorf("demo: %w", err)
	}
	a.demo = d
	a.demoMu.Unlock()
	if a.Running() {
		// Reconnect with the demo account's fresh password.
		a.Stop()
		if err := a.Start(ctx); err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
	}
	return a.DemoThings(), nil
}

// DemoAccount reports whether the mail account is the demo home's (set by
// StartDemo or RunDemo, and not replaced by SetAccount since). Such an
// account has a fresh password each time the demo home starts.
func (a *App) DemoAccount() bool {
	found, err := a.st.getMeta(keyDemo, &demoRecord{})
	return err == nil && found
}

// DemoThings lists the things of the demo home the app runs (RunDemo, or
// Start restarting it), in the demo's order; nil when it runs none.
func (a *App) DemoThings() []DemoThing {
	a.demoMu.Lock()
	d := a.demo
	a.demoMu.Unlock()
	if d == nil {
		return nil
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := make([]DemoThing, 0, len(d.Things))
	for _, t := range d.Things {
		fpr := t.Agent.Identity().Fingerprint().String()
		_, paired := a.things[fpr]
		out = append(out, DemoThing{Kind: t.Kind, Name: t.Name, Addr: t.Addr, Fingerprint: fpr,
			Invite: t.Invite, QR: t.QR, Paired: paired})
	}
	return out
}

// DemoOpenDoor simulates a person opening the demo home's front door: the
// lock sends a door-opened event to its subscribers. It fails while the
// door is locked, and with ErrNoDemo when the app runs no demo home.
func (a *App) DemoOpenDoor() error { return a.demoDoor((*demo.Demo).OpenDoor) }

// DemoCloseDoor simulates the front door closing (a door-closed event).
func (a *App) DemoCloseDoor() error { return a.demoDoor((*demo.Demo).CloseDoor) }

func (a *App) demoDoor(f func(*demo.Demo) error) error {
	a.demoMu.Lock()
	d := a.demo
	a.demoMu.Unlock()
	if d == nil {
		return ErrNoDemo
	}
	return f(d)
}

// demoProfile makes the profile on the demo domain when there is none, and
// returns what starts the demo home for it.
func (a *App) demoProfile(ctx context.Context, opts DemoOptions) (demoRecord, error) {
	p, found, err := a.Profile()
	if err != nil {
		return demoRecord{}, err
	}
	if !found {
		if p, err = a.CreateProfile(ctx, opts.Name, "me@"+demo.DefaultDomain, opts.Passphrase); err != nil {
			return demoRecord{}, fmt.Errorf("demo: %w", err)
		}
	} else if _, err := a.identity(); err != nil {
		return demoRecord{}, err
	}
	return demoRecord{Dir: opts.Dir, Addr: p.Addr, Rate: opts.Rate, Burst: opts.Burst, Tick: opts.Tick}, nil
}

func (a *App) startDemoHome(ctx context.Context, rec demoRecord) (*demo.Demo, error) {
	dir := rec.Dir
	if dir == "" {
		dir = filepath.Join(a.opts.Dir, "demo")
	}
	return demo.Start(ctx, demo.Options{Dir: dir, Person: rec.Addr, Logger: a.log.With("part", "demo"),
		Rate: rec.Rate, Burst: rec.Burst, Tick: rec.Tick})
}

// switchAccount makes the demo's account the app's, reconnecting a
// running app.
func (a *App) switchAccount(ctx context.Context, d *demo.Demo, rec demoRecord) error {
	wasRunning := a.Running()
	a.Stop()
	if err := a.setAccount(ctx, d.Person, false, &rec); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if wasRunning {
		if err := a.Start(ctx); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	return nil
}

// restartDemo starts the demo home again, owned by the app, when the
// account is the demo's and nothing listens on its IMAP port (the app ran
// it before a restart). A home that answers is left alone: another process
// (thingctl demo) or the caller of StartDemo runs it.
func (a *App) restartDemo(ctx context.Context) error {
	var rec demoRecord
	found, err := a.st.getMeta(keyDemo, &rec)
	if err != nil || !found {
		return err
	}
	a.demoMu.Lock()
	defer a.demoMu.Unlock()
	if a.demo != nil {
		return nil
	}
	acct, err := a.Account(ctx)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, demoCheckTimeout)
	conn, err := (&net.Dialer{}).DialContext(cctx, "tcp", acct.IMAP.HostPort)
	cancel()
	if err == nil {
		conn.Close()
		return nil
	}
	a.log.Info("the demo home does not answer; starting it", "reason", err)
	d, err := a.startDemoHome(ctx, rec)
	if err != nil {
		return fmt.Errorf("demo home: %w", err)
	}
	if err := a.setAccount(ctx, d.Person, false, &rec); err != nil {
		d.Close(context.Background())
		return fmt.Errorf("demo home: %w", err)
	}
	a.demo = d
	return nil
}

// closeDemo stops the demo home the app owns.
func (a *App) closeDemo() error {
	a.demoMu.Lock()
	d := a.demo
	a.demo = nil
	a.demoMu.Unlock()
	if d == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return d.Close(ctx)
}
