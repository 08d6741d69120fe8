package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.etcd.io/bbolt"

	"github.com/thingpost/thingpost/keystore"
	"github.com/thingpost/thingpost/transport"
)

// Defaults.
const (
	DefaultCommandTimeout = 2 * time.Minute
	defaultPairTimeout    = 2 * time.Minute
	// maxCommandTimeout keeps every command inside the things' replay
	// window (wire.DefaultWindow): a command sealed longer ago would be
	// refused unanswered anyway.
	maxCommandTimeout = 9 * time.Minute
)

// Options configure an App.
type Options struct {
	// Dir is the data directory (created 0700).
	Dir string
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Secrets keeps the mail password; nil means the OS keyring. NoKeyring
	// forces the encrypted fallback.
	Secrets SecretStore
	// KDF sets the argon2id costs that lock a new identity (nil:
	// keystore.DefaultKDF). Tests use lighter ones.
	KDF *keystore.KDFParams
	// CommandTimeout is how long a command waits for its answer
	// (0: DefaultCommandTimeout; at most maxCommandTimeout).
	CommandTimeout time.Duration
	// PairTimeout bounds a pairing (0: defaultPairTimeout).
	PairTimeout time.Duration
	// Watch tunes the inbox watcher (reconnect backoff, IDLE refresh).
	Watch transport.WatchOptions
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// App is the person's Thingpost core on one data directory.
type App struct {
	opts   Options
	log    *slog.Logger
	st     *store
	events broker
	now    func() time.Time

	outKick chan struct{}
	expKick chan struct{}

	mu       sync.RWMutex
	id       *keystore.Identity
	things   map[string]*thingRecord // by ID, the keys checked at load
	pairings map[string]*pairing
	waiters  map[string][]chan struct{}
	// sentDeadlines are the deadlines of the commands sent and not yet
	// answered, for the expiry loop.
	sentDeadlines map[string]time.Time
	conn          ConnStatus

	runMu sync.Mutex
	run   *running
}

// running is what Start starts and Stop stops.
type running struct {
	cancel context.CancelFunc
	done   sync.WaitGroup
	acct   transport.Account
	sender *transport.Sender
	// stopped is closed by Stop.
	stopped chan struct{}
}

// Open opens (or creates) the data directory. The identity stays locked
// until CreateProfile, ImportProfile or Unlock. Only one process may have a
// data directory open (ErrInUse).
func Open(opts Options) (*App, error) {
	if opts.Dir == "" {
		return nil, errors.New("open app: no data directory")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Secrets == nil {
		opts.Secrets = osKeyring{}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CommandTimeout <= 0 {
		opts.CommandTimeout = DefaultCommandTimeout
	}
	opts.CommandTimeout = min(opts.CommandTimeout, maxCommandTimeout)
	if opts.PairTimeout <= 0 {
		opts.PairTimeout = defaultPairTimeout
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("open app: %w", err)
	}
	st, err := openStore(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("open app: %w", err)
	}
	a := &App{
		opts:          opts,
		log:           opts.Logger,
		st:            st,
		now:           opts.Now,
		outKick:       make(chan struct{}, 1),
		expKick:       make(chan struct{}, 1),
		things:        map[string]*thingRecord{},
		pairings:      map[string]*pairing{},
		waiters:       map[string][]chan struct{}{},
		sentDeadlines: map[string]time.Time{},
		conn:          ConnStatus{State: ConnStopped},
	}
	if err := a.loadThings(); err != nil {
		st.close()
		return nil, fmt.Errorf("open app: %w", err)
	}
	return a, nil
}

// Close stops the app (see Stop) and closes the data directory.
func (a *App) Close() error {
	a.Stop()
	return a.st.close()
}

// Dir is the data directory.
func (a *App) Dir() string { return a.opts.Dir }

// Profile returns the person's profile; false when there is none yet. It
// needs no passphrase.
func (a *App) Profile() (Profile, bool, error) {
	var p Profile
	found, err := a.st.getMeta(keyProfile, &p)
	if err != nil {
		return Profile{}, false, fmt.Errorf("profile: %w", err)
	}
	return p, found, nil
}

// Locked reports whether the identity still needs its passphrase.
func (a *App) Locked() bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.id == nil
}

func (a *App) identity() (*keystore.Identity, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.id == nil {
		if _, found, _ := a.Profile(); !found {
			return nil, ErrNoProfile
		}
		return nil, ErrLocked
	}
	return a.id, nil
}

func (a *App) kdf() keystore.KDFParams {
	if a.opts.KDF != nil {
		return *a.opts.KDF
	}
	return keystore.DefaultKDF()
}

// CreateProfile makes a new identity for addr with a display name, locks it
// with passphrase and keeps it unlocked in this App.
func (a *App) CreateProfile(_ context.Context, name, addr string, passphrase []byte) (Profile, error) {
	addr, err := keystore.NormalizeAddr(addr)
	if err != nil {
		return Profile{}, fmt.Errorf("create profile: %w", err)
	}
	id, err := keystore.New(addr, name)
	if err != nil {
		return Profile{}, fmt.Errorf("create profile: %w", err)
	}
	return a.adopt(id, name, passphrase)
}

// ImportProfile takes a secret key exported by GnuPG (armored or binary,
// locked with keyPassphrase or not) or by ExportKey, and stores it locked
// with passphrase. The display name is the key's.
func (a *App) ImportProfile(_ context.Context, key, keyPassphrase, passphrase []byte) (Profile, error) {
	id, err := keystore.ImportPrivate(key, keyPassphrase)
	if err != nil {
		return Profile{}, fmt.Errorf("import key: %w", err)
	}
	return a.adopt(id, id.Name(), passphrase)
}

func (a *App) adopt(id *keystore.Identity, name string, passphrase []byte) (Profile, error) {
	if len(passphrase) == 0 {
		return Profile{}, fmt.Errorf("profile: %w", keystore.ErrEmptyPassphrase)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, found, err := a.Profile(); err != nil || found {
		return Profile{}, errors.Join(errProfileExists, err)
	}
	if _, err := os.Stat(filepath.Join(a.opts.Dir, keystore.FileName)); !errors.Is(err, fs.ErrNotExist) {
		return Profile{}, fmt.Errorf("profile: %w (%s)", errProfileExists, keystore.FileName)
	}
	if err := keystore.SaveWithKDF(a.opts.Dir, id, passphrase, a.kdf()); err != nil {
		return Profile{}, fmt.Errorf("profile: %w", err)
	}
	p := Profile{Name: name, Addr: id.Addr(), Fingerprint: id.Fingerprint().String()}
	if err := a.st.putMeta(keyProfile, p); err != nil {
		return Profile{}, fmt.Errorf("profile: %w", err)
	}
	a.id = id
	return p, nil
}

// Unlock opens the identity with its passphrase (about a quarter of a
// second of argon2id by design). keystore.ErrWrongPassphrase when it does
// not fit.
func (a *App) Unlock(_ context.Context, passphrase []byte) error {
	p, found, err := a.Profile()
	if err != nil {
		return err
	}
	if !found {
		return ErrNoProfile
	}
	id, err := keystore.Load(a.opts.Dir, passphrase)
	if err != nil {
		return fmt.Errorf("unlock: %w", err)
	}
	if id.Fingerprint().String() != p.Fingerprint {
		return fmt.Errorf("unlock: %s holds key %s, the profile says %s", keystore.FileName, id.Fingerprint(), p.Fingerprint)
	}
	a.mu.Lock()
	a.id = id
	a.mu.Unlock()
	return nil
}

// ChangePassphrase re-locks the identity with a new passphrase.
func (a *App) ChangePassphrase(_ context.Context, oldPassphrase, newPassphrase []byte) error {
	if len(newPassphrase) == 0 {
		return fmt.Errorf("change passphrase: %w", keystore.ErrEmptyPassphrase)
	}
	if err := keystore.ChangePassphrase(a.opts.Dir, oldPassphrase, newPassphrase); err != nil {
		return fmt.Errorf("change passphrase: %w", err)
	}
	return nil
}

// ExportKey returns the secret key armored and locked with passphrase, in
// the form GnuPG 2.2 and ImportProfile read (a backup).
func (a *App) ExportKey(passphrase []byte) (string, error) {
	id, err := a.identity()
	if err != nil {
		return "", err
	}
	if len(passphrase) == 0 {
		return "", fmt.Errorf("export key: %w", keystore.ErrEmptyPassphrase)
	}
	return id.ExportPrivate(passphrase)
}

// PublicKey returns the person's public key, armored.
func (a *App) PublicKey() (string, error) {
	id, err := a.identity()
	if err != nil {
		return "", err
	}
	return id.Public().Armor(), nil
}

// secretPasswords are the passwords of an account, kept as one secret.
type secretPasswords struct {
	Password string `json:"p"`
	IMAP     string `json:"i,omitempty"`
	SMTP     string `json:"s,omitempty"`
}

// SetAccount stores the mail account: the settings in the data directory,
// the passwords in the keyring or encrypted to the identity. With check it
// first logs in to both servers (transport.Check) and stores nothing when
// that fails. The account's address must be the identity's.
func (a *App) SetAccount(ctx context.Context, acct Account, check bool) error {
	id, err := a.identity()
	if err != nil {
		return err
	}
	if err := acct.Validate(); err != nil {
		return fmt.Errorf("account: %w", err)
	}
	addr, err := keystore.NormalizeAddr(acct.Address)
	if err != nil {
		return fmt.Errorf("account: %w", err)
	}
	if addr != id.Addr() {
		return fmt.Errorf("account: the address %s is not the identity's address %s", addr, id.Addr())
	}
	acct.Address = addr
	if check {
		if err := transport.Check(ctx, acct); err != nil {
			return fmt.Errorf("account check: %w", err)
		}
	}
	pw, err := json.Marshal(secretPasswords{Password: acct.Password, IMAP: acct.IMAP.Password, SMTP: acct.SMTP.Password})
	if err != nil {
		return err
	}
	sec := secretRecord{Where: PasswordInKeyring}
	_, kerr := bounded(ctx, func() (struct{}, error) {
		return struct{}{}, a.opts.Secrets.Set(keyringService, addr, string(pw))
	})
	if kerr != nil {
		a.log.Info("no usable keyring; the mail password is stored encrypted to the identity", "reason", kerr)
		sealed, err := sealSecret(id, string(pw))
		if err != nil {
			return err
		}
		sec = secretRecord{Where: PasswordEncrypted, Sealed: sealed}
	}
	rec := accountRecord{Account: acct}
	rec.Account.Password, rec.Account.IMAP.Password, rec.Account.SMTP.Password = "", "", ""
	err = a.st.db.Update(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if err := putJSON(meta, keyAccount, rec); err != nil {
			return err
		}
		return putJSON(meta, keySecret, sec)
	})
	if err != nil {
		return fmt.Errorf("account: %w", err)
	}
	if kerr != nil {
		_, _ = bounded(ctx, func() (struct{}, error) { return struct{}{}, a.opts.Secrets.Delete(keyringService, addr) })
	}
	return nil
}

// SetAccountDCLOGIN reads the account from a Delta Chat DCLOGIN: code (see
// transport.ParseDCLOGIN) and stores it as SetAccount does.
func (a *App) SetAccountDCLOGIN(ctx context.Context, code string, check bool) error {
	acct, err := transport.ParseDCLOGIN(code)
	if err != nil {
		return fmt.Errorf("account: %w", err)
	}
	return a.SetAccount(ctx, acct, check)
}

// AccountSettings returns the stored account without its passwords, and
// where the password is kept.
func (a *App) AccountSettings() (acct Account, passwordIn PasswordPlace, err error) {
	var rec accountRecord
	found, err := a.st.getMeta(keyAccount, &rec)
	if err != nil {
		return transport.Account{}, "", fmt.Errorf("account: %w", err)
	}
	if !found {
		return transport.Account{}, "", ErrNoAccount
	}
	var sec secretRecord
	if _, err := a.st.getMeta(keySecret, &sec); err != nil {
		return transport.Account{}, "", fmt.Errorf("account: %w", err)
	}
	return rec.Account, sec.Where, nil
}

// account returns the stored account with its passwords.
func (a *App) account(ctx context.Context) (Account, error) {
	acct, where, err := a.AccountSettings()
	if err != nil {
		return acct, err
	}
	var sec secretRecord
	if _, err := a.st.getMeta(keySecret, &sec); err != nil {
		return acct, fmt.Errorf("account: %w", err)
	}
	var raw string
	switch where {
	case PasswordInKeyring:
		raw, err = bounded(ctx, func() (string, error) { return a.opts.Secrets.Get(keyringService, acct.Address) })
		if err != nil {
			return acct, fmt.Errorf("account: the mail password is not in the keyring (%w); set the account again", err)
		}
	case PasswordEncrypted:
		id, err := a.identity()
		if err != nil {
			return acct, err
		}
		if raw, err = openSecret(id, sec.Sealed); err != nil {
			return acct, fmt.Errorf("account: %w", err)
		}
	default:
		return acct, fmt.Errorf("account: the password record is missing; set the account again")
	}
	var pw secretPasswords
	if err := json.Unmarshal([]byte(raw), &pw); err != nil {
		return acct, fmt.Errorf("account: stored password is damaged: %w", err)
	}
	acct.Password, acct.IMAP.Password, acct.SMTP.Password = pw.Password, pw.IMAP, pw.SMTP
	return acct, nil
}
