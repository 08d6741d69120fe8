package thing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/thingpost/thingpost/envelope"
	"github.com/thingpost/thingpost/keystore"
	"github.com/thingpost/thingpost/securejoin"
	"github.com/thingpost/thingpost/thing/driver"
	"github.com/thingpost/thingpost/transport"
	"github.com/thingpost/thingpost/wire"
)

// Defaults.
const (
	DefaultQuarantine = "Quarantine"
	DefaultProcessed  = "Processed"
	DefaultInviteTTL  = 15 * time.Minute
	// DefaultRate is how many messages one sender may have handled per
	// minute, with DefaultBurst at once.
	DefaultRate  = 30
	DefaultBurst = 10
)

// Config is what an Agent needs; thingd reads it from a TOML file.
type Config struct {
	// DataDir holds identity.key (stored without a passphrase, 0600) and
	// thing.db.
	DataDir string
	Name    string
	Kind    string
	Account transport.Account
	Driver  driver.Config
	// Window is the replay window on the protected Date (0: wire.DefaultWindow).
	Window time.Duration
	// MaxSize bounds a message the thing will open (0: envelope.DefaultMaxSize).
	MaxSize int64
	// Processed is the folder handled mail is moved to; "" deletes it.
	Processed string
	// Quarantine is the folder refused mail is moved to ("" means
	// DefaultQuarantine).
	Quarantine string
	// QuarantineKeep bounds what the quarantine folder keeps.
	QuarantineKeep QuarantineLimits
	// InviteTTL is how long an owner's invite code works (0: DefaultInviteTTL).
	InviteTTL time.Duration
	// AuthservID names the mail server whose Authentication-Results
	// (RFC 8601) the thing trusts to say that a joiner sends from his
	// address (its hostname on homenode); "" trusts none, and joiners
	// through an owner's invite wait for the owner's confirmation. The
	// server must remove incoming results in its name, as homenode does.
	AuthservID string
	// GuestCommands are the device commands guests may send; nil means
	// all of them.
	GuestCommands []string
	// Rate and Burst limit messages per sender and minute (0: defaults).
	Rate, Burst int
	// Watch tunes the mailbox watcher (reconnect backoff, IDLE refresh).
	Watch  transport.WatchOptions
	Logger *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Agent is one thing: its identity, store, device and mailbox.
type Agent struct {
	cfg     Config
	self    *keystore.Identity
	store   *Store
	dev     driver.Driver
	guard   *wire.Guard
	inviter *securejoin.Inviter
	log     *slog.Logger
	limiter *limiter
	kick    chan struct{}
	events  chan wire.Event
	keys    keyCache
	// sender is the SMTP connection while Run runs; nil before.
	sender *transport.Sender
	// mu serialises message handling with owner changes and events, so a
	// revoke takes effect before the next message is looked at.
	mu sync.Mutex
}

// Init creates a thing's data directory: a new identity stored without a
// passphrase (a thing boots unattended) and the store with a fresh factory
// invite. It refuses a directory that already holds an identity.
func Init(dir, addr, name string) (*keystore.Identity, error) {
	if _, err := os.Stat(filepath.Join(dir, keystore.FileName)); err == nil {
		return nil, fmt.Errorf("init thing: %s already holds an identity", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("init thing: %w", err)
	}
	id, err := keystore.New(addr, name)
	if err != nil {
		return nil, fmt.Errorf("init thing: %w", err)
	}
	if err := keystore.SaveUnprotected(dir, id); err != nil {
		return nil, fmt.Errorf("init thing: %w", err)
	}
	st, err := OpenStore(filepath.Join(dir, StoreFile))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	tok := Token{InviteNumber: securejoin.NewToken(), Auth: securejoin.NewToken(), Factory: true, Role: wire.RoleOwner}
	if err := st.PutToken(tok); err != nil {
		return nil, fmt.Errorf("init thing: %w", err)
	}
	return id, nil
}

// Open loads a thing from cfg.DataDir (made by Init) and starts its device.
func Open(cfg Config) (*Agent, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Quarantine == "" {
		cfg.Quarantine = DefaultQuarantine
	}
	if cfg.InviteTTL <= 0 {
		cfg.InviteTTL = DefaultInviteTTL
	}
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = envelope.DefaultMaxSize
	}
	if cfg.Rate <= 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultBurst
	}
	if err := cfg.quarantineSetup(); err != nil {
		return nil, fmt.Errorf("open thing %s: %w", cfg.DataDir, err)
	}
	id, err := keystore.LoadUnprotected(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("open thing %s: %w", cfg.DataDir, err)
	}
	st, err := OpenStore(filepath.Join(cfg.DataDir, StoreFile))
	if err != nil {
		return nil, err
	}
	if name, err := st.Name(); err == nil && name != "" {
		cfg.Name = name
	}
	a := &Agent{
		cfg:     cfg,
		self:    id,
		store:   st,
		log:     cfg.Logger.With("thing", id.Addr()),
		limiter: newLimiter(cfg.Rate, cfg.Burst, cfg.Now),
		kick:    make(chan struct{}, 1),
		events:  make(chan wire.Event, 64),
	}
	a.guard = wire.NewGuard(st.seen)
	a.guard.Now = cfg.Now
	if cfg.Window > 0 {
		a.guard.Window = cfg.Window
	}
	a.inviter = &securejoin.Inviter{Self: id, Tokens: a.tokens, MaxSize: cfg.MaxSize, Now: cfg.Now}
	dcfg := cfg.Driver
	dcfg.Notify = a.notify
	if dcfg.Now == nil {
		dcfg.Now = cfg.Now
	}
	if dcfg.Logger == nil {
		dcfg.Logger = a.log
	}
	a.dev, err = driver.New(cfg.Kind, dcfg)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("open thing %s: %w", cfg.DataDir, err)
	}
	return a, nil
}

// Close stops the device and closes the store.
func (a *Agent) Close() error {
	return errors.Join(a.dev.Close(), a.store.Close())
}

// Identity is the thing's own key.
func (a *Agent) Identity() *keystore.Identity { return a.self }

// Device gives the thing's driver (the demo opens a door through it).
func (a *Agent) Device() driver.Driver { return a.dev }

// Store gives the thing's store (status displays, tests).
func (a *Agent) Store() *Store { return a.store }

// FactoryInvite is the code printed on the thing. It makes the first person
// to complete the join the owner and grants nothing after that.
func (a *Agent) FactoryInvite() (*securejoin.Invite, error) {
	t, err := a.store.FactoryToken()
	if err != nil {
		return nil, fmt.Errorf("factory invite: %w", err)
	}
	return a.invite(t), nil
}

func (a *Agent) invite(t *Token) *securejoin.Invite {
	return inviteFor(a.self, a.cfg.Name, t)
}

func inviteFor(id *keystore.Identity, name string, t *Token) *securejoin.Invite {
	return &securejoin.Invite{
		Fingerprint:  id.Fingerprint(),
		Addr:         id.Addr(),
		Name:         name,
		InviteNumber: t.InviteNumber,
		Auth:         t.Auth,
		V3:           true,
	}
}

// ReadFactoryInvite reads a stopped thing's factory code from its data
// directory, and its owner when it has one (then the code grants nothing).
func ReadFactoryInvite(dir, name string) (*securejoin.Invite, *Person, error) {
	id, err := keystore.LoadUnprotected(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("read invite: %w", err)
	}
	st, err := OpenStore(filepath.Join(dir, StoreFile))
	if err != nil {
		return nil, nil, err
	}
	defer st.Close()
	if n, err := st.Name(); err == nil && n != "" {
		name = n
	}
	t, err := st.FactoryToken()
	if err != nil {
		return nil, nil, fmt.Errorf("read invite: %w", err)
	}
	people, err := st.People()
	if err != nil {
		return nil, nil, fmt.Errorf("read invite: %w", err)
	}
	for _, p := range people {
		if p.Role == wire.RoleOwner {
			return inviteFor(id, name, t), &p, nil
		}
	}
	return inviteFor(id, name, t), nil, nil
}

func (a *Agent) tokens() ([]securejoin.Token, error) {
	ts, err := a.store.ValidTokens(a.cfg.Now())
	if err != nil {
		return nil, err
	}
	out := make([]securejoin.Token, len(ts))
	for i, t := range ts {
		out[i] = securejoin.Token{InviteNumber: t.InviteNumber, Auth: t.Auth}
	}
	return out, nil
}

// Run watches the mailbox and sends replies and events until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	wo := a.cfg.Watch
	if wo.Logger == nil {
		wo.Logger = a.log
	}
	wo.CreateFolders = append(slices.Clone(wo.CreateFolders), a.cfg.Quarantine)
	if a.cfg.Processed != "" {
		wo.CreateFolders = append(wo.CreateFolders, a.cfg.Processed)
	}
	// One logged-in SMTP connection for all sends: a login costs the server
	// a password hash, far more than a reply.
	sender, err := transport.NewSender(a.cfg.Account)
	if err != nil {
		return fmt.Errorf("run %s: %w", a.self.Addr(), err)
	}
	defer sender.Close()
	a.mu.Lock()
	a.sender = sender
	a.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a.runOutbox(ctx, sender) }()
	go func() { defer wg.Done(); a.runEvents(ctx) }()
	a.wake()
	err = transport.Watch(ctx, a.cfg.Account, a.store, a.Handle, wo)
	wg.Wait()
	return err
}

func (a *Agent) processed() transport.Disposition {
	if a.cfg.Processed == "" {
		return transport.Delete()
	}
	return transport.Move(a.cfg.Processed)
}

// quarantine moves a refused message aside with its reason in the log; it
// is never answered.
func (a *Agent) quarantine(m transport.Msg, reason string, err error) transport.Disposition {
	a.log.Warn("quarantined", "uid", m.UID, "reason", reason, "err", err)
	return a.aside(m, reason)
}

// Handle decides about one message from the mailbox. It is the agent's
// transport.Handler; an error means "try again later" (the store failed).
func (a *Agent) Handle(ctx context.Context, m transport.Msg) (transport.Disposition, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if m.Raw == nil || int64(len(m.Raw)) > a.cfg.MaxSize {
		return a.quarantine(m, "too large", fmt.Errorf("%d bytes, limit %d", m.Size, a.cfg.MaxSize)), nil
	}
	now := a.cfg.Now()
	if envelope.IsReport(m.Raw) {
		// An unencrypted read receipt or delivery report: nothing to do.
		a.log.Debug("ignored report", "uid", m.UID)
		return a.processed(), nil
	}
	if h, err := plainStep(m.Raw); err == nil && h == securejoin.StepRequest {
		return a.pairing(ctx, m, func() (*securejoin.Outgoing, error) { return a.inviter.HandleRequest(ctx, m.Raw) })
	}
	msg, err := envelope.Open(ctx, m.Raw, envelope.OpenOptions{
		Self:                  a.self,
		Trusted:               a.trusted,
		Known:                 a.known,
		AcceptAutocryptSigner: true,
		MaxSize:               a.cfg.MaxSize,
		Now:                   now,
	})
	switch {
	case errors.Is(err, envelope.ErrDecrypt):
		// Not encrypted to our key: maybe a Securejoin v3 request under
		// one of our AUTH tokens.
		out, serr := a.inviter.HandleRequestPubkey(ctx, m.Raw)
		if serr != nil {
			return a.quarantine(m, "cannot decrypt", errors.Join(err, serr)), nil
		}
		return a.pairing(ctx, m, func() (*securejoin.Outgoing, error) { return out, nil })
	case errors.Is(err, envelope.ErrUnsigned):
		// Delta Chat's key updates and encrypted read receipts are
		// unsigned; so is a forgery. Neither is acted on or answered.
		a.log.Info("quarantined", "uid", m.UID, "reason", "unsigned", "err", err)
		return a.aside(m, "unsigned"), nil
	case err != nil:
		return a.quarantine(m, "cannot be authenticated", err), nil
	}
	if msg.Header.Get(securejoin.HeaderStep) == securejoin.StepRequestWithAuth {
		return a.joined(ctx, m, msg)
	}
	if msg.SignerSource != envelope.SignerTrusted {
		return a.quarantine(m, "unknown signer", fmt.Errorf("key %s is not on the thing's list", msg.Signer.Fingerprint())), nil
	}
	if msg.Header.Get(securejoin.HeaderStep) != "" {
		// Other handshake steps (a joiner's duplicate, vc-contact-confirm
		// echoes) need nothing from the inviter.
		return a.processed(), nil
	}
	if !slices.Contains(msg.To, a.self.Addr()) {
		return a.quarantine(m, "not addressed to this thing", fmt.Errorf("protected To is %v", msg.To)), nil
	}
	person, err := a.store.Person(msg.Signer.Fingerprint())
	if err != nil {
		return a.quarantine(m, "unknown signer", err), nil
	}
	// An expired person may still give up his access, and nothing else.
	if !person.Active(now) && !a.leaving(msg) {
		return a.quarantine(m, "access expired", fmt.Errorf("%s's role ended %s", person.Addr, person.Expires.Format(time.RFC3339))), nil
	}
	id, date, reason, err := a.replayIdentity(msg)
	if err != nil {
		return a.quarantine(m, reason, err), nil
	}
	if !a.limiter.ready(person.Fingerprint) {
		return a.quarantine(m, "rate limit", fmt.Errorf("%s sends too fast", person.Addr)), nil
	}
	run, refusal := a.prepare(person, msg)
	guard := *a.guard
	guard.Store = seenJournal{st: a.store, entry: journalEntry{UIDValidity: m.UIDValidity, UID: m.UID, Date: date, Runs: refusal == nil}}
	if err := guard.Check(ctx, id, date); err != nil {
		if errors.Is(err, wire.ErrReplayed) {
			return a.redelivered(ctx, m, msg, id, refusal, err)
		}
		return a.quarantine(m, "replay guard", err), nil
	}
	// Charged only now that the message passed every check: refused copies
	// must not use up the limit of the person they imitate. It was ready
	// above, and a.mu is held, so this takes a token.
	a.limiter.allow(person.Fingerprint)
	reply := refusal
	if run != nil {
		r := run(ctx)
		reply = &r
	}
	return a.finish(ctx, m, msg, id, *reply)
}

// finish answers an accepted message and records it as done in the journal
// under its replay id.
func (a *Agent) finish(ctx context.Context, m transport.Msg, msg *envelope.Message, id string, reply wire.Reply) (transport.Disposition, error) {
	out, err := a.seal(ctx, msg.Signer, msg.MessageID, append(msg.References, msg.MessageID), reply)
	if err != nil {
		return transport.Disposition{}, err
	}
	// The reply goes out at once when the server takes it, before the
	// journal says done: a crash in between answers the command twice but
	// never runs it twice. Otherwise it waits in the outbox.
	sent := a.sendNow(ctx, out)
	if err := a.store.complete(id, out, !sent); err != nil {
		return transport.Disposition{}, fmt.Errorf("journal: %w", err)
	}
	if !sent {
		a.wake()
	}
	a.log.Info("reply", "to", msg.From, "ok", reply.OK, "code", reply.Code, "sent", sent)
	if !reply.OK {
		// Not executed: kept aside like every refused message, but the
		// authenticated sender has been told why.
		return a.quarantine(m, "command refused", fmt.Errorf("%s: %s", reply.Code, reply.Reason)), nil
	}
	return a.processed(), nil
}

// redelivered tells a message offered again after a crash (the same
// mailbox message) from a replay. A crash after the command was recorded
// but before its reply was queued leaves it without an answer: the device
// was called right after the record, so the answer says it was done and
// gives the state now. Nothing is run twice.
func (a *Agent) redelivered(ctx context.Context, m transport.Msg, msg *envelope.Message, id string, refusal *wire.Reply, err error) (transport.Disposition, error) {
	e, jerr := a.store.journaled(id)
	if jerr != nil {
		return transport.Disposition{}, fmt.Errorf("journal: %w", jerr)
	}
	if e == nil || e.UIDValidity != m.UIDValidity || e.UID != m.UID {
		return a.quarantine(m, "replayed", err), nil
	}
	a.log.Info("finishing a message interrupted by a restart", "uid", m.UID, "message_id", msg.MessageID, "done", e.Done)
	if e.Done {
		return a.processed(), nil
	}
	if !e.Runs && refusal != nil {
		return a.finish(ctx, m, msg, id, *refusal)
	}
	st := a.dev.Status()
	return a.finish(ctx, m, msg, id, wire.Reply{OK: true, Text: "Done (the thing restarted meanwhile). " + st.Text, State: st.State})
}

func (a *Agent) trusted(addr string) []*keystore.PublicKey {
	people, err := a.store.People()
	if err != nil {
		a.log.Error("read people", "err", err)
		return nil
	}
	var out []*keystore.PublicKey
	for _, p := range people {
		if p.Addr != addr {
			continue
		}
		if k, err := a.keys.get(p.Key); err == nil {
			out = append(out, k)
		}
	}
	return out
}

func (a *Agent) known(fpr keystore.Fingerprint) (*keystore.PublicKey, bool) {
	p, err := a.store.Person(fpr)
	if err != nil {
		return nil, false
	}
	k, err := a.keys.get(p.Key)
	return k, err == nil
}

// keyCache keeps parsed keys: parsing checks every self-signature, which
// costs more than the rest of a command.
type keyCache struct {
	mu   sync.Mutex
	keys map[string]*keystore.PublicKey
}

func (c *keyCache) get(raw []byte) (*keystore.PublicKey, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k, ok := c.keys[string(raw)]; ok {
		return k, nil
	}
	k, err := keystore.ImportPublic(raw)
	if err != nil {
		return nil, err
	}
	if c.keys == nil || len(c.keys) > 1024 {
		c.keys = map[string]*keystore.PublicKey{}
	}
	c.keys[string(raw)] = k
	return k, nil
}

// pairing runs a first handshake step and queues its answer.
func (a *Agent) pairing(ctx context.Context, m transport.Msg, step func() (*securejoin.Outgoing, error)) (transport.Disposition, error) {
	out, err := step()
	if err != nil {
		return a.quarantine(m, "securejoin refused", err), nil
	}
	if err := a.send(ctx, outboxEntry{To: []string{out.To}, Raw: out.Raw}); err != nil {
		return transport.Disposition{}, err
	}
	a.log.Info("securejoin step answered", "to", out.To)
	return a.processed(), nil
}

// joined completes a Securejoin: the joiner proved the AUTH token, so he
// gets the role the invite grants. The token proves he got a code, not
// that the address in his key is his: unless the mail server vouches for
// it (see vouched), a joiner through an owner's invite waits for the
// owner's confirmation without any rights.
func (a *Agent) joined(ctx context.Context, m transport.Msg, msg *envelope.Message) (transport.Disposition, error) {
	j, confirm, err := a.inviter.HandleRequestWithAuth(ctx, msg)
	if err != nil {
		return a.quarantine(m, "securejoin refused", err), nil
	}
	how := vouched(m.Raw, j.Key.Addr(), a.cfg.AuthservID)
	p, err := a.store.Grant(j.Token.Auth, j.Key, a.cfg.Now(), how != "")
	if errors.Is(err, ErrNotFound) {
		return a.quarantine(m, "securejoin refused", fmt.Errorf("invite used or expired meanwhile")), nil
	}
	if err != nil {
		return transport.Disposition{}, fmt.Errorf("grant: %w", err)
	}
	text := a.welcome(p)
	if p.Pending {
		a.log.Warn("pairing waits for the owner", "addr", p.Addr, "fpr", p.Fingerprint, "role", p.Role, "reason", "address not verified by a trusted mail server")
		if err := a.askOwner(ctx, p); err != nil {
			return transport.Disposition{}, fmt.Errorf("ask owner: %w", err)
		}
		text = fmt.Sprintf("Hello! I am %s. My owner must confirm you before you can use me: my mail server could not check that %s is your address.", a.name(), p.Addr)
	} else {
		a.log.Info("paired", "addr", p.Addr, "fpr", p.Fingerprint, "role", p.Role, "verified", how)
	}
	// The role also goes in machine form, for the app.
	welcome, err := a.seal(ctx, j.Key, "", nil, wire.Reply{OK: true, Text: text, Users: []wire.User{p.user()}})
	if err != nil {
		return transport.Disposition{}, err
	}
	if err := a.send(ctx, outboxEntry{To: []string{confirm.To}, Raw: confirm.Raw}, welcome); err != nil {
		return transport.Disposition{}, err
	}
	return a.processed(), nil
}

func (a *Agent) welcome(p *Person) string {
	s := fmt.Sprintf("Hello! I am %s. You are my %s", a.name(), p.Role)
	if !p.Expires.IsZero() {
		s += " until " + p.Expires.UTC().Format("2006-01-02 15:04 MST")
	}
	return s + `. Send "help" to see what I can do.`
}

func (a *Agent) name() string {
	if a.cfg.Name != "" {
		return a.cfg.Name
	}
	return a.self.Addr()
}
