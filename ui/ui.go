package ui

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/thingpost/thingpost/app"
	"github.com/thingpost/thingpost/assets"
	"github.com/thingpost/thingpost/demo"
	"github.com/thingpost/thingpost/mobile"
)

// Options configure New.
type Options struct {
	// Dir is the data directory of package app.
	Dir string
	// Logger; nil means slog.Default().
	Logger *slog.Logger

	// coreOptions, when set, adjusts the options of package app (tests use
	// a light key derivation and short timeouts).
	coreOptions func(*app.Options)
}

// UI is the Thingpost window and what it shows. Its fields other than the
// immutable ones are touched only on the UI goroutine.
type UI struct {
	fa   fyne.App
	win  fyne.Window
	opts Options
	log  *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	work   sync.WaitGroup
	// runOnUI runs a function on the UI goroutine: fyne.Do, or the test
	// queue.
	runOnUI func(func())

	// core is set on the UI goroutine once the data directory is open,
	// with the Host of its demo home; owned keeps them (and the event
	// subscription) for Close, whichever goroutine gets there first.
	core  *app.App
	host  *demo.Host
	life  *mobile.Lifecycle
	owned struct {
		sync.Mutex
		closed bool
		core   *app.App
		host   *demo.Host
		stop   func()            // ends the event subscription
		life   *mobile.Lifecycle // starts and stops the connection
	}

	// On the UI goroutine only:
	stack    []*page
	header   *fyne.Container
	body     *fyne.Container
	toast    *toast
	conn     app.ConnStatus
	things   map[string]app.Thing
	cmds     map[string]app.Command // commands on their way, by ID
	finished map[string]bool        // IDs of commands finished lately
	last     map[string]app.Command // each thing's newest command of this session
	sent     map[string]sent        // commands sent from controls, by ID
	editing  map[string]bool        // thing+prop a control is changing, before it sends
	localSeq int
	demo     *demoHome
	home     *homeScreen
	open     *thingScreen // the thing screen shown, if any
	scan     *scanScreen  // the scan screen shown, if any
	prefs    prefs
	started  bool // the core was started
}

// New builds the interface in w and starts opening the data directory in
// the background. It does not show the window. Close it after the window's
// event loop ends.
func New(fa fyne.App, w fyne.Window, opts Options) *UI {
	return newUI(fa, w, opts, fyne.Do)
}

func newUI(fa fyne.App, w fyne.Window, opts Options, runOnUI func(func())) *UI {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	u := &UI{fa: fa, win: w, opts: opts, log: opts.Logger, ctx: ctx, cancel: cancel, runOnUI: runOnUI,
		things: map[string]app.Thing{}, cmds: map[string]app.Command{}, finished: map[string]bool{}, last: map[string]app.Command{}, sent: map[string]sent{}, editing: map[string]bool{}, prefs: prefs{p: fa.Preferences()}}
	fa.Settings().SetTheme(newTheme())
	icon := fyne.NewStaticResource("thingpost.png", assets.AppIconPNG())
	fa.SetIcon(icon)
	w.SetIcon(icon)
	w.SetTitle("Thingpost")
	u.header = container.NewStack()
	u.body = container.NewStack()
	u.toast = newToast()
	w.SetContent(container.NewStack(
		container.NewBorder(u.header, nil, nil, nil, u.body),
		container.NewVBox(layoutSpacer(), container.NewCenter(u.toast.box)),
	))
	if !isMobile() {
		w.Resize(fyne.NewSize(980, 700))
	}
	u.installShortcuts()
	w.SetOnDropped(u.dropped)
	u.tickAges()
	u.setRoot(&page{name: "opening", title: "Thingpost", content: container.NewCenter(container.NewVBox(
		widget.NewLabelWithStyle("Opening…", fyne.TextAlignCenter, fyne.TextStyle{}),
		widget.NewProgressBarInfinite()))})
	u.background(func(context.Context) error {
		o := app.Options{Dir: opts.Dir, Logger: opts.Logger}
		if opts.coreOptions != nil {
			opts.coreOptions(&o)
		}
		core, err := app.Open(o)
		if err != nil {
			return err
		}
		events, stop := core.Events()
		u.owned.Lock()
		if u.owned.closed {
			u.owned.Unlock()
			stop()
			return core.Close()
		}
		host := demo.NewHost(core, u.log)
		life := mobile.NewLifecycle(host, mobile.StopInBackground(), func(running bool, err error) {
			// Start may have started the demo home again (after a
			// restart), or the account may no longer be the demo's.
			var things []*demo.Thing
			if running {
				things = host.Things()
			}
			u.post(func() { u.connectionChanged(running, things, err) })
		})
		u.owned.core, u.owned.host, u.owned.stop, u.owned.life = core, host, stop, life
		u.owned.Unlock()
		u.pumpEvents(events)
		u.post(func() {
			u.core, u.host, u.life = core, host, life
			lc := u.fa.Lifecycle()
			lc.SetOnEnteredForeground(life.EnteredForeground)
			lc.SetOnExitedForeground(life.ExitedForeground)
			u.things = map[string]app.Thing{}
			for _, t := range core.Things() {
				u.things[t.ID] = t
			}
			u.route()
		})
		return nil
	}, func(err error) {
		if err != nil {
			u.showFatal(err)
		}
	})
	return u
}

// Close stops the background work and the connection, closes the data
// directory and stops the demo home, if it runs here.
func (u *UI) Close() {
	u.cancel()
	u.owned.Lock()
	u.owned.closed = true
	core, host, stop, life := u.owned.core, u.owned.host, u.owned.stop, u.owned.life
	u.owned.Unlock()
	if stop != nil {
		stop()
	}
	done := make(chan struct{})
	go func() { u.work.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		u.log.Warn("background work still running at exit")
	}
	if life != nil {
		life.Close()
	}
	if core != nil {
		core.Stop()
		if err := core.Close(); err != nil {
			u.log.Error("close", "err", err)
		}
	}
	if host != nil {
		if err := host.Close(); err != nil {
			u.log.Error("close the demo home", "err", err)
		}
	}
}

// post runs f on the UI goroutine, unless the UI is closing.
func (u *UI) post(f func()) {
	u.runOnUI(func() {
		if u.ctx.Err() == nil {
			f()
		}
	})
}

// background runs work off the UI goroutine and then done (if not nil) on
// it with work's error. Work gets a context that ends when the UI closes.
func (u *UI) background(work func(ctx context.Context) error, done func(error)) {
	u.work.Add(1)
	go func() {
		defer u.work.Done()
		err := work(u.ctx)
		if done != nil {
			u.post(func() { done(err) })
		}
	}()
}

// route shows what comes next after opening: the first run, the unlock
// screen, the account setup or home.
func (u *UI) route() {
	p, found, err := u.core.Profile()
	switch {
	case err != nil:
		u.showFatal(err)
	case !found:
		u.showWelcome()
	case u.core.Locked():
		u.showUnlock(p)
	default:
		u.connect()
	}
}

// connect starts the core and shows home, or the account setup when there
// is no account yet. The Host starts the demo home again when the account
// is the demo's.
func (u *UI) connect() {
	_, _, err := u.core.AccountSettings()
	if errors.Is(err, app.ErrNoAccount) {
		u.showAccountSetup(true)
		return
	}
	if err != nil {
		u.showFatal(err)
		return
	}
	u.showHome()
	u.activate()
}

// activate asks for the connection: the lifecycle starts it (now, or when
// the app comes to the foreground) and reports through connectionChanged.
func (u *UI) activate() { u.life.Activate() }

// connectionChanged follows the lifecycle starting or stopping the core;
// once started, things are the demo home's (nil when it does not run here
// or the account is not the demo's).
func (u *UI) connectionChanged(running bool, things []*demo.Thing, err error) {
	if err != nil {
		u.notifyError("Cannot connect", err)
	}
	if running {
		u.setDemo(things)
	}
	u.started = running
	u.conn = u.core.Conn()
	u.refreshHeader()
}

func (u *UI) showFatal(err error) {
	msg := err.Error()
	if errors.Is(err, app.ErrInUse) {
		msg = "Thingpost is already running with this data directory. Close the other window first."
	}
	lbl := widget.NewLabel(msg)
	lbl.Wrapping = fyne.TextWrapWord
	lbl.Alignment = fyne.TextAlignCenter
	u.setRoot(&page{name: "error", title: "Thingpost", content: container.NewCenter(container.NewVBox(
		widget.NewIcon(theme.ErrorIcon()), fixedWidth(lbl, 420)))})
}
