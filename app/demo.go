package app

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/thingpost/thingpost/demo"
)

// DemoOptions configure StartDemo.
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

// StartDemo starts the demo home inside this process (package demo) and
// makes its account for the person this app's mail account. Without a
// profile it first creates one on the demo domain; an existing profile
// must be unlocked, and its address is served by the demo home. A running
// app is restarted on the demo account. The caller closes the returned
// demo when done; its Things carry the invite links and QR images to pair
// with.
func (a *App) StartDemo(ctx context.Context, opts DemoOptions) (*demo.Demo, error) {
	p, found, err := a.Profile()
	if err != nil {
		return nil, err
	}
	if !found {
		if p, err = a.CreateProfile(ctx, opts.Name, "me@"+demo.DefaultDomain, opts.Passphrase); err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
	} else if _, err := a.identity(); err != nil {
		return nil, err
	}
	if opts.Dir == "" {
		opts.Dir = filepath.Join(a.opts.Dir, "demo")
	}
	d, err := demo.Start(ctx, demo.Options{Dir: opts.Dir, Person: p.Addr, Logger: a.log.With("part", "demo"),
		Rate: opts.Rate, Burst: opts.Burst, Tick: opts.Tick})
	if err != nil {
		return nil, err
	}
	wasRunning := a.Running()
	a.Stop()
	if err := a.SetAccount(ctx, d.Person, false); err != nil {
		d.Close(context.Background())
		return nil, fmt.Errorf("demo: %w", err)
	}
	if wasRunning {
		if err := a.Start(ctx); err != nil {
			d.Close(context.Background())
			return nil, fmt.Errorf("demo: %w", err)
		}
	}
	return d, nil
}
