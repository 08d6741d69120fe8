package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/thingpost/thingpost/app"
	"github.com/thingpost/thingpost/demo"
	"github.com/thingpost/thingpost/keystore"
	"github.com/thingpost/thingpost/transport"
)

// lightKDF keeps identity locking cheap in tests; the real costs are
// keystore's business and measured there.
var lightKDF = &keystore.KDFParams{Time: 1, MemoryKiB: 8 << 10, Threads: 1}

var passphrase = []byte("correct horse battery staple")

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() && os.Getenv("APP_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func fastWatch() transport.WatchOptions {
	return transport.WatchOptions{MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second}
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// openApp opens an app in a fresh directory with the encrypted password
// fallback (no OS keyring in tests).
func openApp(t testing.TB, opts app.Options) *app.App {
	t.Helper()
	inTemp(t, &opts.Dir, &opts.Logger)
	if opts.Secrets == nil {
		opts.Secrets = app.NoKeyring{}
	}
	if opts.KDF == nil {
		opts.KDF = lightKDF
	}
	if opts.Watch.MinBackoff == 0 {
		opts.Watch = fastWatch()
	}
	a, err := app.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// inTemp fills in what a test leaves open: a temporary directory and the
// test's logger.
func inTemp(t testing.TB, dir *string, log **slog.Logger) {
	if *dir == "" {
		*dir = t.TempDir()
	}
	if *log == nil {
		*log = testLogger(t)
	}
}

// startDemo runs a demo home in a temporary directory.
func startDemo(t testing.TB, opts demo.Options) *demo.Demo {
	t.Helper()
	inTemp(t, &opts.Dir, &opts.Logger)
	d, err := demo.Start(testCtx(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	return d
}

// person is an app with a profile and an account on a home, started.
func person(t testing.TB, name string, acct transport.Account, opts app.Options) *app.App {
	t.Helper()
	ctx := testCtx(t)
	a := openApp(t, opts)
	if _, err := a.CreateProfile(ctx, name, acct.Address, passphrase); err != nil {
		t.Fatal(err)
	}
	if err := a.SetAccount(ctx, acct, true); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return a
}

// ownerOfLight starts a demo home and Alice's app on it (opts adjust the
// app), paired with the demo's light as its owner.
func ownerOfLight(t testing.TB, opts app.Options) (*demo.Demo, *app.App, app.Thing) {
	t.Helper()
	d := startDemo(t, demo.Options{})
	alice := person(t, "Alice", d.Person, opts)
	light, err := alice.Pair(testCtx(t), d.Thing("light").Invite)
	if err != nil {
		t.Fatal(err)
	}
	return d, alice, light
}

// events collects an app's events for assertions.
type events struct {
	t  testing.TB
	ch <-chan app.Event
}

func watchEvents(t testing.TB, a *app.App) *events {
	ch, stop := a.Events()
	t.Cleanup(stop)
	return &events{t: t, ch: ch}
}

// wait returns the first event for which ok holds, within d.
func (e *events) wait(d time.Duration, what string, ok func(app.Event) bool) app.Event {
	e.t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case ev := <-e.ch:
			if ok(ev) {
				return ev
			}
		case <-timer.C:
			e.t.Fatalf("no %s within %s", what, d)
		}
	}
}

// do sends text to the thing and waits for the outcome.
func do(ctx context.Context, a *app.App, thingID, text string) (app.Command, error) {
	c, err := a.Send(ctx, thingID, text, 0)
	if err != nil {
		return c, err
	}
	return a.Wait(ctx, c.ID)
}

// history returns the newest page of a thing's history and the kinds of
// its entries.
func history(t testing.TB, a *app.App, thingID string) ([]app.Entry, []app.EntryKind) {
	t.Helper()
	page, err := a.History(testCtx(t), thingID, app.HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	kinds := make([]app.EntryKind, len(page.Entries))
	for i, e := range page.Entries {
		kinds[i] = e.Kind
	}
	return page.Entries, kinds
}

// repliesTo counts the replies to a command in the thing's history.
func repliesTo(t testing.TB, a *app.App, thingID, cmdID string) int {
	t.Helper()
	page, err := a.History(testCtx(t), thingID, app.HistoryQuery{Kinds: []app.EntryKind{app.EntryReply}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range page.Entries {
		if e.CommandID == cmdID {
			n++
		}
	}
	return n
}

// waitLogged waits until what a logger wrote to logs holds line at least n
// times: the app has handled what the test gave it.
func waitLogged(t testing.TB, logs fmt.Stringer, line string, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for strings.Count(logs.String(), line) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%q not logged %d times:\n%s", line, n, logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
