package ui

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/thingpost/thingpost/app"
	"github.com/thingpost/thingpost/demo"
	"github.com/thingpost/thingpost/thing"
)

const (
	benchThings  = 20
	benchEntries = 5000
	benchPass    = "correct horse battery"
)

// coldStartFixture makes a data directory as a person would after a while:
// 20 things really paired over a demo home (its three plus 17 more lights
// on the same home node) and at least 5,000 history entries from real
// commands and replies. The things and the node are stopped afterwards,
// so the cold start also shows how the app copes with an unreachable
// server.
func coldStartFixture(b *testing.B) string {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := filepath.Join(b.TempDir(), "data")
	a, err := app.Open(app.Options{Dir: dir, Logger: log, Secrets: app.NoKeyring{}, CommandTimeout: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	host := demo.NewHost(a, log)
	defer host.Close()
	d, err := host.Run(ctx, demo.RunOptions{Dir: b.TempDir(), Name: "Ada", Passphrase: []byte(benchPass), Rate: 1 << 20, Burst: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		b.Fatal(err)
	}
	invites := []string{}
	for _, t := range d.Things {
		invites = append(invites, t.Invite)
	}
	runCtx, stopThings := context.WithCancel(context.Background())
	var agents sync.WaitGroup
	defer func() { stopThings(); agents.Wait() }()
	for i := len(invites); i < benchThings; i++ {
		local := fmt.Sprintf("light%02d", i)
		acct, err := d.Home.AddAccount(ctx, local)
		if err != nil {
			b.Fatal(err)
		}
		tdir := filepath.Join(b.TempDir(), local)
		name := fmt.Sprintf("Light %d", i)
		if _, err := thing.Init(tdir, acct.Address, name); err != nil {
			b.Fatal(err)
		}
		ag, err := thing.Open(thing.Config{DataDir: tdir, Name: name, Kind: "light", Account: acct, Rate: 1 << 20, Burst: 1 << 20, Logger: log})
		if err != nil {
			b.Fatal(err)
		}
		inv, err := ag.FactoryInvite()
		if err != nil {
			b.Fatal(err)
		}
		invites = append(invites, inv.URL())
		agents.Add(1)
		go func() { defer agents.Done(); defer ag.Close(); _ = ag.Run(runCtx) }()
	}
	var ids []string
	for _, inv := range invites {
		t, err := a.Pair(ctx, inv)
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, t.ID)
	}
	entries := func() int {
		n := 0
		for _, id := range ids {
			for q := (app.HistoryQuery{Limit: app.MaxPageSize}); ; {
				p, err := a.History(ctx, id, q)
				if err != nil {
					b.Fatal(err)
				}
				n += len(p.Entries)
				if p.Next == 0 {
					break
				}
				q.Before = p.Next
			}
		}
		return n
	}
	// Each command adds two entries (the command and the reply).
	perThing := (benchEntries - entries() + 2*len(ids) - 1) / (2 * len(ids))
	var wg sync.WaitGroup
	errs := make(chan error, len(ids))
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perThing {
				c, err := a.Send(ctx, id, "status", 0)
				if err == nil {
					_, err = a.Wait(ctx, c.ID)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	if n := entries(); n < benchEntries {
		b.Fatalf("fixture has %d history entries, want %d", n, benchEntries)
	}
	return dir
}

// BenchmarkColdStart starts the interface on a data directory with 20
// paired things and 5,000 history entries, as the app starts: open the
// data directory and show the unlock screen (ms/unlock-screen); the
// passphrase given, unlock the key (argon2id, a quarter of a second by
// design) and show home with its 20 cards (ms/home); then open a thing,
// whose history loads its first page (ms/thing). Fyne's test driver stands
// in for the GL window, whose start-up this does not count.
func BenchmarkColdStart(b *testing.B) {
	dir := coldStartFixture(b)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var toUnlock, toHome, toThing time.Duration
	n := 0
	for b.Loop() {
		a := test.NewApp()
		w := test.NewWindow(nil)
		loop := &testLoop{}
		start := time.Now()
		u := newUI(a, w, Options{Dir: dir, Logger: log, coreOptions: func(o *app.Options) { o.Secrets = app.NoKeyring{} }}, loop.post)
		var pass *widget.Entry
		until(b, loop, func() bool {
			pass = nil
			if p := u.top(); p != nil {
				visit(p.content, func(o fyne.CanvasObject) {
					if e, ok := o.(*widget.Entry); ok && e.Password {
						pass = e
					}
				})
			}
			return pass != nil
		})
		toUnlock += time.Since(start)
		pass.SetText(benchPass)
		start = time.Now()
		pass.OnSubmitted(pass.Text)
		until(b, loop, func() bool { return u.home != nil && len(u.home.cards) == benchThings })
		toHome += time.Since(start)
		start = time.Now()
		u.showThing(u.home.order[0])
		until(b, loop, func() bool { return u.open != nil && len(u.open.history.entries) == app.DefaultPageSize })
		toThing += time.Since(start)
		n++
		u.Close()
		loop.drain()
		w.Close()
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(n) }
	b.ReportMetric(ms(toUnlock), "ms/unlock-screen")
	b.ReportMetric(ms(toHome), "ms/home")
	b.ReportMetric(ms(toThing), "ms/thing")
}

// until runs the UI loop until cond holds (a minute at most).
func until(b *testing.B, loop *testLoop, cond func() bool) {
	deadline := time.Now().Add(time.Minute)
	for {
		loop.drain()
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			b.Fatal("timed out")
		}
		time.Sleep(200 * time.Microsecond)
	}
}
