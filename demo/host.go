package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/thingpost/thingpost/app"
)

// ErrNotRunning means the Host runs no demo home.
var ErrNotRunning = errors.New("no demo home runs here")

// recordFile, in the app's data directory, says that the app's account is
// the demo home's and how to start that home again.
const recordFile = "demo.json"

// checkTimeout bounds the connection Start tries before it starts the
// demo home again: the home is on loopback, so a live one answers at once.
const checkTimeout = 5 * time.Second

// closeTimeout bounds stopping the home in Close.
const closeTimeout = 10 * time.Second

// Host runs the demo home for an app (package app knows nothing of it):
// Run starts the home and makes its person account the app's; Start
// starts the app, and first the home again when the app's account is the
// demo's and nothing answers on its port (after a restart of the program,
// as the demo's password is fresh on each start); Close stops the home.
// A GUI holds one Host beside its app and starts the app through it.
type Host struct {
	app *app.App
	log *slog.Logger

	mu sync.Mutex
	d  *Demo // the home this Host runs; nil when none
}

// RunOptions configure Host.Run.
type RunOptions struct {
	// Dir holds the demo home (default: "demo" in the app's data
	// directory, so that the demo things keep their owners across runs).
	Dir string
	// Name and Passphrase make the profile when there is none yet (its
	// address is then on DefaultDomain).
	Name       string
	Passphrase []byte
	// Rate, Burst and Tick are those of Options.
	Rate, Burst int
	Tick        time.Duration
}

// record is recordFile: the demo account as Run or Start last set it, and
// how to start its home.
type record struct {
	Dir   string        `json:"dir,omitempty"` // "": the default, "demo" in the data directory
	Addr  string        `json:"addr"`
	IMAP  string        `json:"imap"`
	SMTP  string        `json:"smtp"`
	Rate  int           `json:"rate,omitempty"`
	Burst int           `json:"burst,omitempty"`
	Tick  time.Duration `json:"tick,omitempty"`
}

// NewHost makes the Host of a's demo home; it starts nothing. log nil
// means slog.Default().
func NewHost(a *app.App, log *slog.Logger) *Host {
	if log == nil {
		log = slog.Default()
	}
	return &Host{app: a, log: log}
}

// Run starts the demo home and makes its person account the app's. Without
// a profile it first creates one on DefaultDomain; an existing profile must
// be unlocked, and its address is served by the home too. A running app is
// restarted on the demo account. When the Host runs its home already, Run
// returns it. The home runs until Close, also after the app is closed.
func (h *Host) Run(ctx context.Context, opts RunOptions) (*Demo, error) {
	h.mu.Lock()
	if h.d != nil {
		d := h.d
		h.mu.Unlock()
		return d, nil
	}
	p, found, err := h.app.Profile()
	if err == nil && !found {
		p, err = h.app.CreateProfile(ctx, opts.Name, "me@"+DefaultDomain, opts.Passphrase)
	} else if err == nil && h.app.Locked() {
		err = app.ErrLocked
	}
	if err != nil {
		h.mu.Unlock()
		return nil, fmt.Errorf("demo: %w", err)
	}
	d, err := h.startHome(ctx, record{Dir: opts.Dir, Addr: p.Addr, Rate: opts.Rate, Burst: opts.Burst, Tick: opts.Tick})
	if err != nil {
		h.mu.Unlock()
		return nil, err
	}
	h.d = d
	h.mu.Unlock()
	if h.app.Running() {
		// Reconnect with the demo account's fresh password.
		h.app.Stop()
		if err := h.app.Start(ctx); err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
	}
	return d, nil
}

// Start starts the app (app.App.Start). When the app's account is the demo
// home's and nothing answers on the home's IMAP port, it first starts the
// home again, owned by this Host. A home that answers is left alone:
// another Host runs it (thingctl demo in another process, say).
func (h *Host) Start(ctx context.Context) error {
	if err := h.resume(ctx); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	return h.app.Start(ctx)
}

// Stop stops the app (app.App.Stop); the home keeps running.
func (h *Host) Stop() { h.app.Stop() }

func (h *Host) resume(ctx context.Context) error {
	if h.app.Running() || h.app.Locked() {
		return nil // nothing to reconnect, or Start says what is missing
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.d != nil {
		return nil
	}
	rec, ok := h.demoAccount()
	if !ok {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, checkTimeout)
	conn, err := (&net.Dialer{}).DialContext(cctx, "tcp", rec.IMAP)
	cancel()
	if err == nil {
		conn.Close()
		return nil
	}
	h.log.Info("the demo home does not answer; starting it", "reason", err)
	d, err := h.startHome(ctx, rec)
	if err != nil {
		return err
	}
	h.d = d
	return nil
}

// startHome starts the home of rec, records it and makes its account the
// app's.
func (h *Host) startHome(ctx context.Context, rec record) (*Demo, error) {
	dir := rec.Dir
	if dir == "" {
		dir = filepath.Join(h.app.Dir(), "demo")
	}
	d, err := Start(ctx, Options{Dir: dir, Person: rec.Addr, Logger: h.log.With("part", "demo"),
		Rate: rec.Rate, Burst: rec.Burst, Tick: rec.Tick})
	if err != nil {
		return nil, err
	}
	rec.IMAP, rec.SMTP = d.Person.IMAP.HostPort, d.Person.SMTP.HostPort
	err = h.writeRecord(rec)
	if err == nil {
		err = h.app.SetAccount(ctx, d.Person, false)
	}
	if err != nil {
		d.Close(context.Background())
		return nil, fmt.Errorf("demo: %w", err)
	}
	return d, nil
}

// demoAccount returns the record when the app's account is the one it
// names: not replaced by another account since.
func (h *Host) demoAccount() (record, bool) {
	var rec record
	b, err := os.ReadFile(filepath.Join(h.app.Dir(), recordFile))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			h.log.Warn("demo: cannot read the record", "err", err)
		}
		return rec, false
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		h.log.Warn("demo: the record is damaged", "err", err)
		return rec, false
	}
	acct, _, err := h.app.AccountSettings()
	if err != nil || acct.Address != rec.Addr || acct.IMAP.HostPort != rec.IMAP || acct.SMTP.HostPort != rec.SMTP {
		return rec, false
	}
	return rec, true
}

func (h *Host) writeRecord(rec record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	path := filepath.Join(h.app.Dir(), recordFile)
	if err := os.WriteFile(path+".new", b, 0o600); err != nil {
		return err
	}
	return os.Rename(path+".new", path)
}

// Things lists the things of the home this Host runs, in the demo's order,
// while the app's account is the demo's; nil otherwise.
func (h *Host) Things() []*Thing {
	h.mu.Lock()
	d := h.d
	h.mu.Unlock()
	if d == nil {
		return nil
	}
	if _, ok := h.demoAccount(); !ok {
		return nil
	}
	return d.Things
}

// OpenDoor is Demo.OpenDoor on the home this Host runs (ErrNotRunning when
// none).
func (h *Host) OpenDoor() error { return h.door((*Demo).OpenDoor) }

// CloseDoor is Demo.CloseDoor on the home this Host runs.
func (h *Host) CloseDoor() error { return h.door((*Demo).CloseDoor) }

func (h *Host) door(f func(*Demo) error) error {
	h.mu.Lock()
	d := h.d
	h.mu.Unlock()
	if d == nil {
		return ErrNotRunning
	}
	return f(d)
}

// Close stops the home this Host runs, if any; the app stays open.
func (h *Host) Close() error {
	h.mu.Lock()
	d := h.d
	h.d = nil
	h.mu.Unlock()
	if d == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	return d.Close(ctx)
}
