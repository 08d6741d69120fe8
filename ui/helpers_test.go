package ui

import (
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/thingpost/thingpost/app"
	"github.com/thingpost/thingpost/keystore"
)

// testLoop stands in for Fyne's event loop: post queues functions and the
// test goroutine runs them, so that widgets are only ever touched by the
// test goroutine, as the real driver touches them only on its own.
type testLoop struct {
	mu sync.Mutex
	q  []func()
}

func (l *testLoop) post(f func()) {
	l.mu.Lock()
	l.q = append(l.q, f)
	l.mu.Unlock()
}

// drain runs what is queued, including what those functions queue.
func (l *testLoop) drain() {
	for {
		l.mu.Lock()
		q := l.q
		l.q = nil
		l.mu.Unlock()
		if len(q) == 0 {
			return
		}
		for _, f := range q {
			f()
		}
	}
}

// harness is a UI in a test window on a real data directory.
type harness struct {
	t      *testing.T
	u      *UI
	w      fyne.Window
	loop   *testLoop
	app    fyne.App
	closed bool
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessIn(t, test.NewTempApp(t), t.TempDir())
}

// newHarnessIn starts a UI with the given Fyne app (its preferences) on
// the given data directory: a second start of the same app. more adjusts
// the app's options further.
func newHarnessIn(t *testing.T, a fyne.App, dir string, more ...func(*app.Options)) *harness {
	t.Helper()
	w := test.NewTempWindow(t, nil)
	loop := &testLoop{}
	logOut := io.Discard
	if testing.Verbose() {
		logOut = os.Stderr
	}
	opts := Options{
		Dir:    dir,
		Logger: slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelWarn})),
		coreOptions: func(o *app.Options) {
			o.Secrets = app.NoKeyring{} // no D-Bus session in tests
			// Light argon2id costs: the real ones are keystore's business,
			// measured there.
			o.KDF = &keystore.KDFParams{Time: 1, MemoryKiB: 8 << 10, Threads: 1}
			o.CommandTimeout = 30 * time.Second
			for _, f := range more {
				f(o)
			}
		},
	}
	u := newUI(a, w, opts, loop.post)
	w.Resize(fyne.NewSize(980, 700))
	h := &harness{t: t, u: u, w: w, loop: loop, app: a}
	t.Cleanup(h.close)
	return h
}

// close closes the UI as the app does when its window closes.
func (h *harness) close() {
	if h.closed {
		return
	}
	h.closed = true
	h.u.Close()
	h.loop.drain()
}

// waitFor runs the UI loop until cond holds, failing the test after
// timeout.
func (h *harness) waitFor(what string, timeout time.Duration, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		h.loop.drain()
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out after %s waiting for %s; screen %q shows: %s", timeout, what, h.title(), h.texts())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// title is the title of the page shown.
func (h *harness) title() string {
	if p := h.u.top(); p != nil {
		return p.title
	}
	return ""
}

// visit calls f for every visible object of the page shown, widgets'
// renderer objects included.
// scrollTo scrolls the scroll container that holds o so that o is at its
// top, for a snapshot of a section below the fold.
func (h *harness) scrollTo(o fyne.CanvasObject) {
	h.t.Helper()
	found := false
	visit(h.content(), func(x fyne.CanvasObject) {
		sc, ok := x.(*container.Scroll)
		if !ok || found {
			return
		}
		visit(sc.Content, func(y fyne.CanvasObject) {
			if y == o {
				found = true
			}
		})
		if found {
			sc.Offset = fyne.NewPos(0, o.Position().Y)
			sc.Refresh()
		}
	})
	if !found {
		h.t.Fatal("no scroll container holds the object")
	}
	h.loop.drain()
}

func visit(o fyne.CanvasObject, f func(fyne.CanvasObject)) {
	if o == nil || !o.Visible() {
		return
	}
	f(o)
	switch x := o.(type) {
	case *fyne.Container:
		for _, c := range x.Objects {
			visit(c, f)
		}
	case fyne.Widget:
		for _, c := range test.WidgetRenderer(x).Objects() {
			visit(c, f)
		}
	}
}

func (h *harness) content() fyne.CanvasObject {
	if p := h.u.top(); p != nil {
		return p.content
	}
	return nil
}

// buttons finds the visible buttons of the page whose text starts with
// prefix.
func (h *harness) buttons(prefix string) []*widget.Button {
	var out []*widget.Button
	visit(h.content(), func(o fyne.CanvasObject) {
		if b, ok := o.(*widget.Button); ok && strings.HasPrefix(b.Text, prefix) {
			out = append(out, b)
		}
	})
	return out
}

func (h *harness) button(prefix string) *widget.Button {
	h.t.Helper()
	bs := h.buttons(prefix)
	if len(bs) == 0 {
		h.t.Fatalf("no button %q on %q: %s", prefix, h.title(), h.texts())
	}
	return bs[0]
}

// entries are the page's visible entries, in order.
func (h *harness) entries() []*widget.Entry {
	var out []*widget.Entry
	visit(h.content(), func(o fyne.CanvasObject) {
		if e, ok := o.(*widget.Entry); ok {
			out = append(out, e)
		}
	})
	return out
}

// texts is all visible label text of the page, for messages and checks.
func (h *harness) texts() string {
	var b strings.Builder
	visit(h.content(), func(o fyne.CanvasObject) {
		if l, ok := o.(*widget.Label); ok && l.Text != "" {
			b.WriteString(l.Text)
			b.WriteString(" | ")
		}
	})
	return b.String()
}

func (h *harness) tap(b *widget.Button) {
	h.t.Helper()
	if b.Disabled() {
		h.t.Fatalf("button %q is disabled", b.Text)
	}
	test.Tap(b)
	h.loop.drain()
}

// createIdentity goes from the welcome screen to the new identity form,
// fills it in for Ada at addr and taps Create; it returns the form's
// entries.
func (h *harness) createIdentity(addr string) []*widget.Entry {
	h.t.Helper()
	h.waitFor("the welcome screen", 10*time.Second, func() bool { return len(h.buttons("Create my identity")) == 1 })
	h.tap(h.button("Create my identity"))
	es := h.entries()
	test.Type(es[0], "Ada")
	test.Type(es[1], addr)
	es[2].SetText("correct horse battery")
	es[3].SetText("correct horse battery")
	h.tap(h.button("Create"))
	return es
}

// scanSays waits for the scan screen's message and checks that it says
// want.
func (h *harness) scanSays(want string) {
	h.t.Helper()
	u := h.u
	h.waitFor("the message", 10*time.Second, func() bool { return u.scan != nil && !u.scan.busy && u.scan.msgBox.Visible() })
	if got := u.scan.msg.Text; !strings.Contains(got, want) {
		h.t.Errorf("message %q, want it to say %q", got, want)
	}
}

// commandInHistory waits until the history of the thing shown holds a
// command in status.
func (h *harness) commandInHistory(status app.CommandStatus) {
	h.t.Helper()
	h.waitFor("the "+string(status)+" command in the history", 10*time.Second, func() bool {
		for _, e := range h.u.open.history.entries {
			if e.Kind == app.EntryCommand && e.Status == status {
				return true
			}
		}
		return false
	})
}

// startDemo goes through the first run into the demo home.
func (h *harness) startDemo(name, passphrase string) {
	h.t.Helper()
	h.waitFor("the welcome screen", 10*time.Second, func() bool { return len(h.buttons("Try the demo home")) == 1 })
	h.tap(h.button("Try the demo home"))
	es := h.entries()
	test.Type(es[0], name)
	es[1].SetText(passphrase)
	es[2].SetText(passphrase)
	h.tap(h.button("Start the demo"))
	h.waitFor("the demo things", time.Minute, func() bool { return len(h.buttons("Scan this code")) >= 1 && h.title() == "Demo home" })
}

// demoAtHome is a UI on a data directory of its own, through the first run
// into a demo home of its own, back at home.
func demoAtHome(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t)
	h.startDemo("Ada", "correct horse battery")
	h.u.backToRoot()
	h.loop.drain()
	return h
}

// pairDemo scans the demo thing's code from the demo screen and waits for
// the pairing; it returns the thing's ID.
func (h *harness) pairDemo(name string) string {
	h.t.Helper()
	h.u.backToRoot()
	h.u.showDemo()
	h.loop.drain()
	for i, t := range h.u.demo.things {
		if t.Name != name {
			continue
		}
		var scan *widget.Button
		visit(h.u.demo.tiles.Objects[i], func(o fyne.CanvasObject) {
			if b, ok := o.(*widget.Button); ok && b.Text == "Scan this code" {
				scan = b
			}
		})
		if scan == nil {
			h.t.Fatalf("%s has no scan button: already paired?", name)
		}
		h.tap(scan)
		h.waitFor(name+" paired", time.Minute, func() bool { return h.u.scan != nil && h.u.scan.prog.thing != "" })
		id := h.u.scan.prog.thing
		h.u.backToRoot()
		h.loop.drain()
		return id
	}
	h.t.Fatalf("no demo thing %q", name)
	return ""
}

// tab shows the tab of that name when the page is in tabs (the phone
// layout); on a desktop every section is on one page.
func (h *harness) tab(name string) {
	if tabs, ok := h.content().(*container.AppTabs); ok {
		for i, it := range tabs.Items {
			if it.Text == name {
				tabs.SelectIndex(i)
			}
		}
		h.loop.drain()
	}
}
