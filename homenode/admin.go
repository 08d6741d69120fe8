package homenode

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/thingpost/thingpost/homenode/accounts"
	"github.com/thingpost/thingpost/homenode/mailstore"
)

// Admin manages a node's accounts and reports its status. OpenAdmin returns
// one that talks to the running node over its control socket, or, when no
// node runs, one that opens the store directly (bbolt allows one process per
// file, so the CLI cannot open the store while the node has it).
type Admin interface {
	Status(ctx context.Context) (*Status, error)
	Users(ctx context.Context) ([]string, error)
	// AddUser and SetPassword take the password itself; it is hashed
	// (argon2id) in the calling process and only the hash travels.
	AddUser(ctx context.Context, addr, password string) error
	SetPassword(ctx context.Context, addr, password string) error
	DeleteUser(ctx context.Context, addr string) error
	Close() error
}

// ErrBadAddress means an account address is malformed or not in one of the
// node's domains.
var ErrBadAddress = errors.New("bad account address")

// ErrNodeUnreachable means the store is locked by a node whose control socket
// does not answer.
var ErrNodeUnreachable = errors.New("node holds the store but its control socket does not answer")

// OpenAdmin connects to the node running on cfg's data directory, or opens
// its store when none runs.
func OpenAdmin(ctx context.Context, cfg *Config) (Admin, error) {
	if ra, err := dialControl(ctx, cfg); err == nil {
		return ra, nil
	}
	st, err := mailstore.Open(cfg.StoreFile())
	if err != nil {
		if errors.Is(err, mailstore.ErrLocked) {
			return nil, fmt.Errorf("%w: %s", ErrNodeUnreachable, controlPath(cfg))
		}
		return nil, err
	}
	return &localAdmin{ops: adminOps{cfg: cfg, store: st}, store: st}, nil
}

// adminOps is the account and status logic shared by the node (serving its
// control socket) and the CLI (on a stopped node).
type adminOps struct {
	cfg   *Config
	store *mailstore.Store
	node  *Node // nil when the node is not running
}

// CheckAddress normalises an account address and checks that it is a plain
// addr-spec in one of the node's domains.
func (c *Config) CheckAddress(addr string) (string, error) {
	a := strings.ToLower(strings.TrimSpace(addr))
	parsed, err := mail.ParseAddress(a)
	if err != nil || parsed.Address != a || parsed.Name != "" {
		return "", fmt.Errorf("%w: %q is not a plain address like alice@%s", ErrBadAddress, addr, c.Domains[0])
	}
	_, dom, _ := strings.Cut(a, "@")
	if !slices.Contains(c.DomainNames(), dom) {
		return "", fmt.Errorf("%w: %q is not in this node's domains (%s)", ErrBadAddress, addr, strings.Join(c.DomainNames(), ", "))
	}
	return a, nil
}

func (o adminOps) addUserHash(ctx context.Context, addr, hash string) error {
	a, err := o.cfg.CheckAddress(addr)
	if err != nil {
		return err
	}
	return o.store.AddUser(ctx, a, hash)
}

func (o adminOps) setHash(ctx context.Context, addr, hash string) error {
	return o.store.SetPasswordHash(ctx, strings.ToLower(strings.TrimSpace(addr)), hash)
}

func (o adminOps) deleteUser(ctx context.Context, addr string) error {
	return o.store.DeleteUser(ctx, strings.ToLower(strings.TrimSpace(addr)))
}

func (o adminOps) status(ctx context.Context) (*Status, error) {
	users, err := o.store.Users(ctx)
	if err != nil {
		return nil, err
	}
	qlen, err := o.store.QueueLen(ctx)
	if err != nil {
		return nil, err
	}
	st := &Status{Domains: o.cfg.DomainNames(), Hostname: o.cfg.Hostname, Accounts: users, QueueLength: qlen}
	if o.node != nil {
		st.Running, st.PID, st.Started = true, os.Getpid(), o.node.started
	}
	for _, l := range o.cfg.Listeners() {
		if l.Addr == "" {
			continue
		}
		ls := ListenerStatus{Name: l.Name, Addr: l.Addr, Protocol: l.Protocol, Security: l.security()}
		if o.node != nil {
			ls.Bound = o.node.boundAddr(l.Name)
		}
		st.Listeners = append(st.Listeners, ls)
	}
	if fp, err := CertFingerprint(o.cfg.Path(o.cfg.TLS.Cert)); err == nil {
		st.CertFingerprint = fp
	} else {
		st.Problems = append(st.Problems, err.Error())
	}
	if key, err := LoadDKIMKey(o.cfg.Path(o.cfg.DKIM.Key)); err == nil {
		st.DKIM, _ = DKIMRecords(key, o.cfg.DKIM.Selector, o.cfg.DomainNames())
	} else {
		st.Problems = append(st.Problems, err.Error())
	}
	return st, nil
}

// hashPassword refuses empty passwords (an account nobody can log in to is
// made by not adding it) and weak ones (accounts.CheckPassword: an error
// wrapping accounts.ErrWeakPassword), which an attacker guesses in minutes
// despite the login limit.
func hashPassword(pw string) (string, error) {
	if pw == "" {
		return "", errors.New("empty password")
	}
	if err := accounts.CheckPassword(pw); err != nil {
		return "", err
	}
	return accounts.HashPassword(pw)
}

// localAdmin works on the store of a stopped node.
type localAdmin struct {
	ops   adminOps
	store *mailstore.Store
}

func (l *localAdmin) Status(ctx context.Context) (*Status, error) { return l.ops.status(ctx) }
func (l *localAdmin) Users(ctx context.Context) ([]string, error) { return l.store.Users(ctx) }
func (l *localAdmin) DeleteUser(ctx context.Context, addr string) error {
	return l.ops.deleteUser(ctx, addr)
}
func (l *localAdmin) Close() error { return l.store.Close() }

func (l *localAdmin) AddUser(ctx context.Context, addr, password string) error {
	if _, err := l.ops.cfg.CheckAddress(addr); err != nil {
		return err // before the costly hash
	}
	h, err := hashPassword(password)
	if err != nil {
		return err
	}
	return l.ops.addUserHash(ctx, addr, h)
}

func (l *localAdmin) SetPassword(ctx context.Context, addr, password string) error {
	h, err := hashPassword(password)
	if err != nil {
		return err
	}
	return l.ops.setHash(ctx, addr, h)
}

// Status is what "homenode status" shows.
type Status struct {
	Running         bool             `json:"running"`
	PID             int              `json:"pid,omitempty"`
	Started         time.Time        `json:"started,omitzero"`
	Hostname        string           `json:"hostname"`
	Domains         []string         `json:"domains"`
	Accounts        []string         `json:"accounts"`
	QueueLength     int              `json:"queue_length"`
	Listeners       []ListenerStatus `json:"listeners"`
	CertFingerprint string           `json:"cert_sha256"`
	DKIM            []DKIMRecord     `json:"dkim"`
	Problems        []string         `json:"problems,omitempty"`
}

// ListenerStatus is one configured listener and, on a running node, the
// address it is bound to.
type ListenerStatus struct {
	Name     string `json:"name"`
	Addr     string `json:"addr"`
	Bound    string `json:"bound,omitempty"`
	Protocol string `json:"protocol"`
	Security string `json:"security"`
}

func (l ListenerSpec) security() string {
	switch {
	case l.ImplicitTLS:
		return "implicit TLS"
	case l.Plain:
		return "plain text allowed (loopback; STARTTLS offered)"
	case l.Protocol == "smtp":
		return "STARTTLS offered, no login"
	default:
		return "STARTTLS before login"
	}
}

// Text renders the status for people.
func (s *Status) Text() string {
	var b strings.Builder
	if s.Running {
		fmt.Fprintf(&b, "node:        running (pid %d, since %s)\n", s.PID, s.Started.Format(time.RFC3339))
	} else {
		b.WriteString("node:        not running\n")
	}
	fmt.Fprintf(&b, "hostname:    %s\n", s.Hostname)
	fmt.Fprintf(&b, "domains:     %s\n", strings.Join(s.Domains, ", "))
	fmt.Fprintf(&b, "accounts:    %d\n", len(s.Accounts))
	for _, a := range s.Accounts {
		fmt.Fprintf(&b, "  %s\n", a)
	}
	fmt.Fprintf(&b, "queue:       %d message(s) waiting for delivery\n", s.QueueLength)
	b.WriteString("listeners:\n")
	for _, l := range s.Listeners {
		fmt.Fprintf(&b, "  %-17s %-22s %-10s %s", l.Name, l.Addr, l.Protocol, l.Security)
		if l.Bound != "" && l.Bound != l.Addr {
			fmt.Fprintf(&b, " (bound %s)", l.Bound)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "TLS certificate SHA-256: %s\n", s.CertFingerprint)
	for _, r := range s.DKIM {
		fmt.Fprintf(&b, "DKIM DNS record: %s\n", r)
	}
	for _, p := range s.Problems {
		fmt.Fprintf(&b, "problem: %s\n", p)
	}
	return b.String()
}
