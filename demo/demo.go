package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/thingpost/thingpost/internal/qr"
	"github.com/thingpost/thingpost/keystore"
	"github.com/thingpost/thingpost/thing"
	"github.com/thingpost/thingpost/thing/driver"
	"github.com/thingpost/thingpost/transport"
)

// DefaultDomain is the demo home's mail domain (RFC 8375 reserves
// home.arpa for homes).
const DefaultDomain = "demo.home.arpa"

// The demo's things, in the order Demo.Things lists them.
var demoThings = []struct{ kind, local, name string }{
	{"light", "lamp", "Desk lamp"},
	{"thermostat", "thermostat", "Thermostat"},
	{"lock", "door", "Front door"},
}

// Options configure Start.
type Options struct {
	// Dir holds the demo (created); "" means a temporary directory that
	// Close removes. A directory used before is reopened: the things keep
	// their keys and owners.
	Dir string
	// Domain is the home's mail domain (default DefaultDomain).
	Domain string
	// Person is the person's address (default me@Domain). Its domain is
	// served by the home too, so a profile made before the demo fits.
	Person string
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Rate and Burst limit the messages per sender and minute each thing
	// handles (0: the thing's defaults, 30 and 10). Benchmarks raise them.
	Rate, Burst int
	// Tick is the thermostat's simulation step (0: the driver's default).
	Tick time.Duration
}

// Demo is a running demo home: a homenode, three simulated things and an
// account for the person.
type Demo struct {
	Dir  string
	Home *Home
	// Person is the person's mail account on the home, with a fresh
	// password each time the demo starts (none is kept on disk).
	Person transport.Account
	Things []*Thing

	cancel  context.CancelFunc
	wg      sync.WaitGroup
	tempDir bool
	once    sync.Once
}

// Thing is one simulated thing of the demo.
type Thing struct {
	Kind, Name, Addr string
	// Fingerprint is the thing's key: the app.Thing ID it has once paired.
	Fingerprint string
	// Invite is the factory code (an i.delta.chat link): the first person
	// to pair with it becomes the owner.
	Invite string
	// QR is Invite as a QR code, PNG.
	QR    []byte
	Agent *thing.Agent
}

// Start starts the demo home on loopback with free ports: the homenode,
// the three things (light, thermostat, lock) watching their mailboxes, and
// the person's account. ctx bounds the start; the demo runs until Close.
func Start(ctx context.Context, opts Options) (_ *Demo, err error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Domain == "" {
		opts.Domain = DefaultDomain
	}
	if opts.Person == "" {
		opts.Person = "me@" + opts.Domain
	}
	person, err := keystore.NormalizeAddr(opts.Person)
	if err != nil {
		return nil, fmt.Errorf("demo: person: %w", err)
	}
	d := &Demo{Dir: opts.Dir}
	if d.Dir == "" {
		if d.Dir, err = os.MkdirTemp("", "thingpost-demo-"); err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		d.tempDir = true
	}
	defer func() {
		if err != nil {
			d.Close(context.Background())
		}
	}()
	var extra []string
	if dom := person[strings.LastIndexByte(person, '@')+1:]; dom != opts.Domain {
		extra = []string{dom}
	}
	if d.Home, err = startHome(ctx, d.Dir, opts.Domain, extra, nil, opts.Logger.With("part", "homenode")); err != nil {
		return nil, err
	}
	if d.Person, err = d.Home.account(ctx, person, true); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	for _, spec := range demoThings {
		t, err := d.startThing(ctx, runCtx, opts, spec.kind, spec.local, spec.name)
		if err != nil {
			return nil, fmt.Errorf("demo: %s: %w", spec.kind, err)
		}
		d.Things = append(d.Things, t)
	}
	return d, nil
}

func (d *Demo) startThing(ctx, runCtx context.Context, opts Options, kind, local, name string) (*Thing, error) {
	dir := filepath.Join(d.Dir, "things", kind)
	acct, err := d.Home.account(ctx, local+"@"+opts.Domain, true)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, keystore.FileName)); errors.Is(err, os.ErrNotExist) {
		if _, err := thing.Init(dir, acct.Address, name); err != nil {
			return nil, err
		}
	}
	a, err := thing.Open(thing.Config{
		DataDir: dir, Name: name, Kind: kind, Account: acct, AuthservID: d.Home.Hostname(),
		Driver: driver.Config{Tick: opts.Tick},
		Rate:   opts.Rate, Burst: opts.Burst,
		Watch:  transport.WatchOptions{MinBackoff: 100 * time.Millisecond, MaxBackoff: 2 * time.Second},
		Logger: opts.Logger.With("part", kind),
	})
	if err != nil {
		return nil, err
	}
	inv, err := a.FactoryInvite()
	if err != nil {
		a.Close()
		return nil, err
	}
	png, err := qr.Encode(inv.URL(), qr.Size)
	if err != nil {
		a.Close()
		return nil, err
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer a.Close()
		if err := a.Run(runCtx); err != nil {
			opts.Logger.Error("demo thing stopped", "kind", kind, "err", err)
		}
	}()
	return &Thing{Kind: kind, Name: name, Addr: acct.Address, Fingerprint: a.Identity().Fingerprint().String(),
		Invite: inv.URL(), QR: png, Agent: a}, nil
}

// Thing returns the demo thing of a kind ("light", "thermostat", "lock").
func (d *Demo) Thing(kind string) *Thing {
	for _, t := range d.Things {
		if t.Kind == kind {
			return t
		}
	}
	return nil
}

// OpenDoor simulates a person opening the front door: the lock sends a
// door-opened event to its subscribers. It fails while the door is locked
// (unlock it first).
func (d *Demo) OpenDoor() error { return d.door(true) }

// CloseDoor simulates the door closing (a door-closed event).
func (d *Demo) CloseDoor() error { return d.door(false) }

func (d *Demo) door(open bool) error {
	t := d.Thing("lock")
	if t == nil {
		return errors.New("the demo has no lock")
	}
	l, ok := t.Agent.Device().(*driver.Lock)
	if !ok {
		return errors.New("the demo lock is not a simulated lock")
	}
	if open {
		return l.OpenDoor()
	}
	return l.CloseDoor()
}

// Close stops the things and the home node, and removes a temporary
// directory.
func (d *Demo) Close(ctx context.Context) error {
	var err error
	d.once.Do(func() {
		if d.cancel != nil {
			d.cancel()
		}
		d.wg.Wait()
		if d.Home != nil {
			err = d.Home.Close(ctx)
		}
		if d.tempDir {
			err = errors.Join(err, os.RemoveAll(d.Dir))
		}
	})
	return err
}
