package thing_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/thingpost/thingpost/demo"
	"github.com/thingpost/thingpost/envelope"
	"github.com/thingpost/thingpost/keystore"
	"github.com/thingpost/thingpost/securejoin"
	"github.com/thingpost/thingpost/thing"
	"github.com/thingpost/thingpost/thing/driver"
	"github.com/thingpost/thingpost/transport"
	"github.com/thingpost/thingpost/wire"
)

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("test", t.Name())
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// home is a real homenode on loopback with one thing running on it.
type home struct {
	t     testing.TB
	ctx   context.Context
	node  *demo.Home
	agent *thing.Agent
	acct  transport.Account
	dir   string
	log   *slog.Logger
	dev   driver.Config
	// guestCommands is the thing's guest_commands setting.
	guestCommands []string
	// tune, when set, changes the thing's configuration before it opens
	// (its clock, its rate limit).
	tune func(*thing.Config)
	// authservID is the thing's authserv_id: the node's hostname.
	authservID string
	stop       func()
}

func fastWatch() transport.WatchOptions {
	return transport.WatchOptions{MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second}
}

func startHome(t testing.TB, kind string) *home {
	t.Helper()
	return startHomeWith(t, kind, driver.Config{})
}

// startHomeWith runs a thing of kind with the device configuration dev.
func startHomeWith(t testing.TB, kind string, dev driver.Config) *home {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	dir := t.TempDir()
	node := startNodeOnly(t, ctx, dir)
	acct, err := node.AddAccount(ctx, kind)
	if err != nil {
		t.Fatal(err)
	}
	h := &home{t: t, ctx: ctx, node: node, acct: acct, dir: filepath.Join(dir, kind), log: testLogger(t), dev: dev, authservID: node.Hostname()}
	if _, err := thing.Init(h.dir, acct.Address, "Test "+kind); err != nil {
		t.Fatal(err)
	}
	h.run(kind)
	return h
}

func (h *home) run(kind string) {
	h.t.Helper()
	cfg := thing.Config{DataDir: h.dir, Name: "Test " + kind, Kind: kind, Account: h.acct, Driver: h.dev, GuestCommands: h.guestCommands,
		AuthservID: h.authservID,
		Processed:  thing.DefaultProcessed, Watch: fastWatch(), Logger: h.log}
	if h.tune != nil {
		h.tune(&cfg)
	}
	a, err := thing.Open(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	h.agent = a
	h.stop = func() { cancel(); <-done; a.Close() }
	h.t.Cleanup(h.stop)
}

// person is a minimal Thingpost user for the tests: an identity, a mailbox
// watched for verified mail, and the paired thing's key.
type person struct {
	t     testing.TB
	id    *keystore.Identity
	acct  transport.Account
	inbox chan []byte
	thing *keystore.PublicKey
	role  wire.Role // as the thing's welcome says
}

func newPerson(t testing.TB, h *home, local string) *person {
	t.Helper()
	return newPersonOn(t, h.ctx, h.node, local)
}

func newPersonOn(t testing.TB, ctx context.Context, node *demo.Home, local string) *person {
	t.Helper()
	acct, err := node.AddAccount(ctx, local)
	if err != nil {
		t.Fatal(err)
	}
	return newPersonAt(t, ctx, acct, local)
}

// newPersonAt is a person with a new key on an existing mail account,
// watching its INBOX.
func newPersonAt(t testing.TB, ctx context.Context, acct transport.Account, name string) *person {
	t.Helper()
	id, err := keystore.New(acct.Address, name)
	if err != nil {
		t.Fatal(err)
	}
	p := &person{t: t, id: id, acct: acct, inbox: make(chan []byte, 100)}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		transport.Watch(ctx, acct, &transport.MemoryState{}, func(_ context.Context, m transport.Msg) (transport.Disposition, error) {
			p.inbox <- m.Raw
			return transport.Delete(), nil
		}, fastWatch())
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return p
}

func (p *person) send(raw []byte, to string) {
	p.t.Helper()
	if err := transport.Send(context.Background(), p.acct, p.id.Addr(), []string{to}, raw); err != nil {
		p.t.Fatalf("send: %v", err)
	}
}

func (p *person) next(what string) []byte {
	p.t.Helper()
	select {
	case raw := <-p.inbox:
		return raw
	case <-time.After(20 * time.Second):
		p.t.Fatalf("no %s within 20s", what)
	}
	return nil
}

// pair runs Securejoin as joiner with the code and checks the welcome. A
// standard MTA may deliver the welcome before the last handshake step
// (Postfix hands two mails sent a moment apart to parallel LMTP
// deliveries): a message that is not the next step is kept and must be the
// welcome.
func (p *person) pair(code string) {
	p.t.Helper()
	ctx := context.Background()
	inv, err := securejoin.ParseInvite(code)
	if err != nil {
		p.t.Fatal(err)
	}
	j := securejoin.NewJoiner(p.id, inv, nil)
	out, err := j.Start(ctx)
	if err != nil {
		p.t.Fatal(err)
	}
	p.send(out.Raw, out.To)
	var early []byte
	for !j.Done() {
		raw := p.next("handshake step")
		out, err := j.Handle(ctx, raw)
		if errors.Is(err, securejoin.ErrNotHandshake) && early == nil {
			p.t.Logf("a message came before the last handshake step (%v); it must be the welcome", err)
			early = raw
			continue
		}
		if err != nil {
			p.t.Fatalf("joiner: %v", err)
		}
		if out != nil {
			p.send(out.Raw, out.To)
		}
	}
	p.thing = j.Peer()
	if early == nil {
		early = p.next("welcome")
	}
	w := p.open(early)
	wm, err := wire.Decode(w.Header.Get(wire.HeaderName))
	if !strings.Contains(w.Text, "Hello") || err != nil || wm.Reply == nil || len(wm.Reply.Users) != 1 ||
		wm.Reply.Users[0].Fingerprint != p.id.Fingerprint().String() {
		p.t.Fatalf("welcome %q, machine form %+v, %v", w.Text, wm.Reply, err)
	}
	p.role = wm.Reply.Users[0].Role
}

func (p *person) open(raw []byte) *envelope.Message {
	p.t.Helper()
	return p.openAt(raw, time.Time{})
}

// openAt opens a reply as a person whose clock says now (zero: the wall
// clock).
func (p *person) openAt(raw []byte, now time.Time) *envelope.Message {
	p.t.Helper()
	m, err := envelope.Open(context.Background(), raw, envelope.OpenOptions{Self: p.id, Now: now,
		Trusted: func(addr string) []*keystore.PublicKey {
			if p.thing != nil && addr == p.thing.Addr() {
				return []*keystore.PublicKey{p.thing}
			}
			return nil
		}})
	if err != nil {
		p.t.Fatalf("open reply: %v", err)
	}
	return m
}

// command seals text (and the machine form when machine is set) to the thing.
func (p *person) command(text string, machine bool) (sealed *envelope.Sealed) {
	p.t.Helper()
	d := &envelope.Draft{From: p.id, To: []*keystore.PublicKey{p.thing}, Text: text}
	if machine {
		cmd, err := wire.ParseCommand(text)
		if err != nil {
			// A command the thing declares: the app takes its form from
			// the capabilities; the words will do here.
			f := strings.Fields(text)
			cmd = wire.Command{Name: f[0], Args: f[1:]}
		}
		v, err := wire.Encode(wire.Message{Version: wire.Version, Command: &cmd})
		if err != nil {
			p.t.Fatal(err)
		}
		d.Headers = []envelope.Field{{Name: wire.HeaderName, Value: v}}
	}
	s, err := envelope.Seal(context.Background(), d)
	if err != nil {
		p.t.Fatal(err)
	}
	return s
}

// do sends a command and returns the verified reply to it.
func (p *person) do(text string) (*envelope.Message, wire.Reply) {
	p.t.Helper()
	s := p.command(text, true)
	p.send(s.Raw, p.thing.Addr())
	m := p.open(p.next("reply to " + text))
	if m.InReplyTo != s.MessageID {
		p.t.Fatalf("reply to %s is In-Reply-To %s", s.MessageID, m.InReplyTo)
	}
	if m.Header.Get("Auto-Submitted") != "auto-generated" {
		p.t.Errorf("reply without Auto-Submitted: auto-generated")
	}
	wm, err := wire.Decode(m.Header.Get(wire.HeaderName))
	if err != nil || wm.Reply == nil {
		p.t.Fatalf("reply machine form: %v %+v", err, wm)
	}
	return m, *wm.Reply
}

func (p *person) expectNothing(d time.Duration) {
	p.t.Helper()
	select {
	case raw := <-p.inbox:
		p.t.Fatalf("unexpected mail: %.300s", raw)
	case <-time.After(d):
	}
}

func power(t testing.TB, a *thing.Agent) bool {
	t.Helper()
	on, ok := a.Device().Status().State["power"].AsBool()
	if !ok {
		t.Fatalf("no power in %v", a.Device().Status().State)
	}
	return on
}

func TestPairCommandInviteRevoke(t *testing.T) {
	t.Parallel()
	h := startHome(t, "light")
	owner := newPerson(t, h, "alice")
	inv, err := h.agent.FactoryInvite()
	if err != nil {
		t.Fatal(err)
	}
	owner.pair(inv.URL())

	_, r := owner.do("on")
	if !r.OK || !power(t, h.agent) {
		t.Fatalf("on: %+v", r)
	}
	if on, _ := r.State["power"].AsBool(); !on {
		t.Errorf("reply state %v", r.State)
	}
	m, r := owner.do("set brightness 40%")
	if !r.OK || !strings.Contains(m.Text, "40") {
		t.Fatalf("set brightness: %+v, text %q", r, m.Text)
	}
	_, r = owner.do("set brightness 140")
	if r.OK || r.Code != wire.CodeBadValue {
		t.Fatalf("out of range accepted: %+v", r)
	}
	_, r = owner.do("describe")
	if !r.OK || r.Capabilities == nil || r.Capabilities.Kind != "light" {
		t.Fatalf("describe: %+v", r)
	}

	// The factory code is spent: a second person gets nothing from it.
	bob := newPerson(t, h, "bob")
	j := securejoin.NewJoiner(bob.id, inv, nil)
	out, _ := j.Start(context.Background())
	bob.send(out.Raw, out.To)
	bob.expectNothing(2 * time.Second)

	// The owner invites bob as a member.
	_, r = owner.do("invite")
	if !r.OK || r.Invite == nil || r.Invite.Role != wire.RoleMember {
		t.Fatalf("invite: %+v", r)
	}
	bob.pair(r.Invite.URL)
	// The invite worked once: carol cannot use it again.
	carol := newPerson(t, h, "carol")
	used, err := securejoin.ParseInvite(r.Invite.URL)
	if err != nil {
		t.Fatal(err)
	}
	out, _ = securejoin.NewJoiner(carol.id, used, nil).Start(context.Background())
	carol.send(out.Raw, out.To)

	_, r = bob.do("off")
	if !r.OK || power(t, h.agent) {
		t.Fatalf("member off: %+v", r)
	}
	_, r = bob.do("users")
	if r.OK || r.Code != wire.CodeNotAllowed {
		t.Fatalf("member ran users: %+v", r)
	}
	_, r = owner.do("users")
	if !r.OK || len(r.Users) != 2 {
		t.Fatalf("users: %+v", r)
	}
	carol.expectNothing(time.Second)

	_, r = owner.do("revoke " + bob.id.Addr())
	if !r.OK {
		t.Fatalf("revoke: %+v", r)
	}
	s := bob.command("on", false)
	bob.send(s.Raw, bob.thing.Addr())
	bob.expectNothing(2 * time.Second)
	if power(t, h.agent) {
		t.Fatal("revoked member switched the light on")
	}
}

// startNodeOnly runs a homenode for home.test in dir.
func startNodeOnly(t testing.TB, ctx context.Context, dir string) *demo.Home {
	t.Helper()
	node, err := demo.StartHome(ctx, dir, "home.test", nil, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close(context.Background()) })
	return node
}

// TestGuestAndEvents: a guest may send only the allowed device commands;
// events from the device reach the subscribers (the owner by default, a
// guest after "subscribe").
func TestGuestAndEvents(t *testing.T) {
	t.Parallel()
	h := startHome(t, "lock")
	h.stop()
	h.guestCommands = []string{"lock"}
	h.run("lock")
	owner := newPerson(t, h, "alice")
	inv, _ := h.agent.FactoryInvite()
	owner.pair(inv.URL())
	_, r := owner.do("invite guest 2h")
	if !r.OK || r.Invite == nil || r.Invite.Role != wire.RoleGuest || r.Invite.For != "2h" {
		t.Fatalf("guest invite: %+v", r.Invite)
	}
	guest := newPerson(t, h, "carol")
	guest.pair(r.Invite.URL)
	if guest.role != wire.RoleGuest {
		t.Fatalf("welcome says role %q", guest.role)
	}

	if _, r := guest.do("unlock"); r.OK || r.Code != wire.CodeNotAllowed {
		t.Fatalf("guest unlocked: %+v", r)
	}
	if _, r := owner.do("unlock"); !r.OK {
		t.Fatalf("owner unlock: %+v", r)
	}
	if _, r := guest.do("lock"); !r.OK {
		t.Fatalf("guest lock: %+v", r)
	}
	_, r = owner.do("users")
	var guestUser *wire.User
	for i, u := range r.Users {
		if u.Role == wire.RoleGuest {
			guestUser = &r.Users[i]
		}
	}
	if guestUser == nil || guestUser.Expires.IsZero() || time.Until(guestUser.Expires) > 2*time.Hour {
		t.Fatalf("guest entry %+v", guestUser)
	}

	door := h.agent.Device().(interface{ OpenDoor() error })
	if _, r := owner.do("unlock"); !r.OK {
		t.Fatalf("unlock: %+v", r)
	}
	if err := door.OpenDoor(); err != nil {
		t.Fatal(err)
	}
	ev := owner.event("door-opened")
	if ev.State == nil {
		t.Fatalf("event without state: %+v", ev)
	}
	guest.expectNothing(time.Second)
	if _, r := guest.do("subscribe"); !r.OK {
		t.Fatalf("subscribe: %+v", r)
	}
	door2 := h.agent.Device().(interface{ CloseDoor() error })
	if err := door2.CloseDoor(); err != nil {
		t.Fatal(err)
	}
	guest.event("door-closed")
	owner.event("door-closed")

	// The guest gives up his access; his next command does nothing.
	if _, r := guest.do("leave"); !r.OK {
		t.Fatalf("leave: %+v", r)
	}
	s := guest.command("status", false)
	guest.send(s.Raw, guest.thing.Addr())
	guest.expectNothing(2 * time.Second)
	if _, r := owner.do("users"); len(r.Users) != 1 {
		t.Fatalf("users after leave: %+v", r.Users)
	}
}

// event waits for an event of kind from the paired thing.
func (p *person) event(kind string) wire.Event {
	p.t.Helper()
	m := p.open(p.next("event " + kind))
	wm, err := wire.Decode(m.Header.Get(wire.HeaderName))
	if err != nil || wm.Event == nil || wm.Event.Kind != kind {
		p.t.Fatalf("want event %s, got %+v (%v), text %q", kind, wm, err, m.Text)
	}
	return *wm.Event
}
