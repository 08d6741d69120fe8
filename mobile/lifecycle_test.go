package mobile

import (
	"context"
	"testing"
	"time"

	"github.com/thingpost/thingpost/app"
	"github.com/thingpost/thingpost/demo"
	"github.com/thingpost/thingpost/keystore"
)

// waitRunning waits for the lifecycle to report a start or stop.
func waitRunning(t *testing.T, changes <-chan bool, want bool) {
	t.Helper()
	select {
	case got := <-changes:
		if got != want {
			t.Fatalf("lifecycle reported running=%v, want %v", got, want)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("lifecycle did not report running=%v", want)
	}
}

// TestLifecycleOnDemoHome backgrounds and foregrounds a real app on the
// demo home: in the background the connection is down, a command waits in
// the outbox and an event from a thing is not received; back in the
// foreground the outbox flushes (the command is answered) and the inbox
// catches up (the event arrives). It is the package's end-to-end test that
// -short runs.
func TestLifecycleOnDemoHome(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, err := app.Open(app.Options{Dir: t.TempDir(), Secrets: app.NoKeyring{}, CommandTimeout: time.Minute,
		KDF: &keystore.KDFParams{Time: 1, MemoryKiB: 8 << 10, Threads: 1}}) // light: the real costs are keystore's
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	host := demo.NewHost(a, nil)
	defer host.Close()
	d, err := host.Run(ctx, demo.RunOptions{Name: "Ada", Passphrase: []byte("correct horse")})
	if err != nil {
		t.Fatal(err)
	}
	var lockCode string
	for _, th := range d.Things {
		if th.Kind == "lock" {
			lockCode = th.Invite
		}
	}

	changes := make(chan bool, 16)
	l := NewLifecycle(host, true, func(running bool, err error) {
		if err != nil {
			t.Errorf("start: %v", err)
		}
		changes <- running
	})
	defer l.Close()
	l.Activate()
	waitRunning(t, changes, true)

	lock, err := a.Pair(ctx, lockCode)
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := a.Send(ctx, lock.ID, "unlock", 0)
	if err == nil {
		_, err = a.Wait(ctx, unlock.ID)
	}
	if err != nil {
		t.Fatal(err)
	}
	events, stop := a.Events()
	defer stop()

	l.ExitedForeground()
	waitRunning(t, changes, false)
	if a.Running() || l.Running() {
		t.Fatal("the connection is up in the background")
	}
	c, err := a.Send(ctx, lock.ID, "lock", 0)
	if err != nil {
		t.Fatal(err)
	}
	// The lock command waits in our outbox, so the door is still unlocked:
	// someone opens and closes it, and the events go to our mailbox while
	// we are away.
	if err := host.OpenDoor(); err != nil {
		t.Fatalf("open the door (the lock command must not have gone out): %v", err)
	}
	if err := host.CloseDoor(); err != nil {
		t.Fatal(err)
	}
	sawWhileAway := drainFor(events, 700*time.Millisecond)
	if pend, err := a.Pending(); err != nil || len(pend) != 1 || pend[0].ID != c.ID || pend[0].Status != app.StatusQueued {
		t.Fatalf("in the background the pending commands are %+v (%v), want the lock command still queued", pend, err)
	}
	for _, e := range sawWhileAway {
		if e.Kind == app.EventThingEvent {
			t.Fatalf("an event arrived in the background: %+v", e.Entry)
		}
	}

	l.EnteredForeground()
	waitRunning(t, changes, true)
	got, err := a.Wait(ctx, c.ID)
	if err != nil || got.Status != app.StatusAnswered {
		t.Fatalf("after returning the command is %s (%v), want answered", got.Status, err)
	}
	deadline := time.After(30 * time.Second)
	for {
		select {
		case e := <-events:
			if e.Kind == app.EventThingEvent && e.Entry != nil && e.Entry.Event != nil && e.Entry.Event.Kind == "door-opened" {
				return
			}
		case <-deadline:
			t.Fatal("the door-opened event sent while away never arrived")
		}
	}
}

// drainFor collects events for d.
func drainFor(events <-chan app.Event, d time.Duration) []app.Event {
	var out []app.Event
	timeout := time.After(d)
	for {
		select {
		case e := <-events:
			out = append(out, e)
		case <-timeout:
			return out
		}
	}
}

// fakeCore records starts and stops, for the ordering tests.
type fakeCore struct{ calls chan string }

func (f *fakeCore) Start(context.Context) error { f.calls <- "start"; return nil }
func (f *fakeCore) Stop()                       { f.calls <- "stop" }

func TestLifecyclePolicy(t *testing.T) {
	tests := []struct {
		name       string
		background bool
		steps      []func(*Lifecycle)
		want       []string
	}{
		{"phone stops in the background and starts on return", true,
			[]func(*Lifecycle){(*Lifecycle).Activate, (*Lifecycle).ExitedForeground, (*Lifecycle).EnteredForeground},
			[]string{"start", "stop", "start"}},
		{"desktop stays connected", false,
			[]func(*Lifecycle){(*Lifecycle).Activate, (*Lifecycle).ExitedForeground, (*Lifecycle).EnteredForeground},
			[]string{"start"}},
		{"not started before Activate", true,
			[]func(*Lifecycle){(*Lifecycle).ExitedForeground, (*Lifecycle).EnteredForeground},
			nil},
		{"activated in the background starts on return", true,
			[]func(*Lifecycle){(*Lifecycle).ExitedForeground, (*Lifecycle).Activate, (*Lifecycle).EnteredForeground},
			[]string{"start"}},
		{"restart reconnects", false,
			[]func(*Lifecycle){(*Lifecycle).Activate, (*Lifecycle).Restart},
			[]string{"start", "stop", "start"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeCore{calls: make(chan string, 16)}
			done := make(chan struct{}, 16)
			l := NewLifecycle(f, tt.background, func(bool, error) { done <- struct{}{} })
			for _, s := range tt.steps {
				s(l)
				// Let each transition settle, as a person switching apps
				// would; coalesced transitions are tested below.
				select {
				case <-done:
				case <-time.After(200 * time.Millisecond):
				}
			}
			l.Close()
			close(f.calls)
			var got []string
			for c := range f.calls {
				got = append(got, c)
			}
			want := tt.want
			if len(want) > 0 && want[len(want)-1] == "start" {
				want = append(want, "stop") // Close stops a running core
			}
			if len(got) != len(want) {
				t.Fatalf("calls %v, want %v", got, want)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("calls %v, want %v", got, want)
				}
			}
		})
	}
}

// A quick background-foreground switch must never leave the connection
// down.
func TestLifecycleQuickSwitch(t *testing.T) {
	f := &fakeCore{calls: make(chan string, 1000)}
	l := NewLifecycle(f, true, nil)
	l.Activate()
	for range 200 {
		l.ExitedForeground()
		l.EnteredForeground()
	}
	deadline := time.Now().Add(5 * time.Second)
	for !l.Running() {
		if time.Now().After(deadline) {
			t.Fatal("not running after the switches settled")
		}
		time.Sleep(5 * time.Millisecond)
	}
	l.Close()
}
