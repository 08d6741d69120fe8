package demo

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/thingpost/thingpost/homenode"
	"github.com/thingpost/thingpost/transport"
)

// Home is a homenode serving one domain on loopback, with plain-text
// submission and IMAP (allowed on loopback only) on free ports. Once
// started, its ports stay the same across Stop and Start (and across
// processes, as long as they are free), so the accounts it gave out keep
// working.
type Home struct {
	Domain string
	log    *slog.Logger

	mu   sync.Mutex
	node *homenode.Node // nil while stopped
	cfg  *homenode.Config
}

// StartHome initialises a node in dir (created) for domain and starts it.
// mx maps other demo domains to their SMTP listeners, so that two homes on
// one machine deliver to each other.
func StartHome(ctx context.Context, dir, domain string, mx map[string]string, log *slog.Logger) (*Home, error) {
	return startHome(ctx, dir, domain, nil, mx, log)
}

// startHome starts the node in dir/homenode, initialising it first when
// the directory is new. extra are further domains the node serves.
func startHome(ctx context.Context, dir, domain string, extra []string, mx map[string]string, log *slog.Logger) (*Home, error) {
	if log == nil {
		log = slog.Default()
	}
	data := filepath.Join(dir, "homenode")
	if _, err := os.Stat(filepath.Join(data, homenode.ConfigFile)); errors.Is(err, os.ErrNotExist) {
		if _, err := homenode.Init(homenode.InitOptions{Dir: data, Domain: domain, Plain: true,
			SMTP: "127.0.0.1:0", Submission: "127.0.0.1:0", IMAP: "127.0.0.1:0"}); err != nil {
			return nil, fmt.Errorf("demo home %s: %w", domain, err)
		}
	}
	cfg, err := homenode.LoadConfig(data)
	if err != nil {
		return nil, fmt.Errorf("demo home %s: %w", domain, err)
	}
	for _, d := range extra {
		if !slices.Contains(cfg.DomainNames(), d) {
			cfg.Domains = append(cfg.Domains, homenode.Domain(d))
		}
	}
	for d, a := range mx {
		if cfg.MX == nil {
			cfg.MX = map[string]homenode.Addr{}
		}
		cfg.MX[d] = homenode.Addr(a)
	}
	h := &Home{Domain: domain, cfg: cfg, log: log}
	if err := h.Start(ctx); err != nil {
		return nil, err
	}
	return h, nil
}

// Start starts a stopped node on the ports it had (on free ones if it
// never ran or they are taken) and records them in its config file.
func (h *Home) Start(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.node != nil {
		return nil
	}
	n, err := homenode.Start(ctx, h.cfg, h.log)
	if err != nil {
		h.log.Warn("demo home: the saved ports are taken; using free ones", "err", err)
		freePorts(h.cfg)
		if n, err = homenode.Start(ctx, h.cfg, h.log); err != nil {
			return fmt.Errorf("demo home %s: %w", h.Domain, err)
		}
	}
	h.node = n
	pinPorts(h.cfg, n)
	if err := os.WriteFile(filepath.Join(h.cfg.Dir, homenode.ConfigFile), homenode.RenderConfig(h.cfg), 0o600); err != nil {
		h.log.Warn("demo home: cannot record the ports", "err", err)
	}
	return nil
}

// Stop shuts the node down; Start brings it back on the same ports.
func (h *Home) Stop(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.node == nil {
		return nil
	}
	err := h.node.Shutdown(ctx)
	h.node = nil
	return err
}

// pinPorts writes the bound addresses into cfg.
func pinPorts(cfg *homenode.Config, n *homenode.Node) {
	addr := func(name string) string {
		if a := n.Addr(name); a != nil {
			return a.String()
		}
		return ""
	}
	l := &cfg.Listen
	for _, p := range []struct {
		name string
		set  func(string)
	}{
		{"smtp", func(s string) { l.SMTP = homenode.Addr(s) }},
		{"submission", func(s string) { l.Submission = homenode.Addr(s) }},
		{"submissions", func(s string) { l.Submissions = homenode.Addr(s) }},
		{"imap", func(s string) { l.IMAP = homenode.Addr(s) }},
		{"imaps", func(s string) { l.IMAPS = homenode.Addr(s) }},
		{"plain_submission", func(s string) { l.PlainSubmission = homenode.LoopbackAddr(s) }},
		{"plain_imap", func(s string) { l.PlainIMAP = homenode.LoopbackAddr(s) }},
	} {
		if a := addr(p.name); a != "" {
			p.set(a)
		}
	}
}

// freePorts sets every configured listener to port 0 on loopback.
func freePorts(cfg *homenode.Config) {
	l := &cfg.Listen
	for _, a := range []*homenode.Addr{&l.SMTP, &l.Submission, &l.Submissions, &l.IMAP, &l.IMAPS} {
		if *a != "" {
			*a = "127.0.0.1:0"
		}
	}
	for _, a := range []*homenode.LoopbackAddr{&l.PlainSubmission, &l.PlainIMAP} {
		if *a != "" {
			*a = "127.0.0.1:0"
		}
	}
}

// Hostname is the node's own name, the authserv-id of the
// Authentication-Results it writes (thing.Config.AuthservID).
func (h *Home) Hostname() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cfg.Hostname
}

// SMTPAddr is the inbound (MX) listener, for other homes' mx maps.
func (h *Home) SMTPAddr() string { return string(h.cfg.Listen.SMTP) }

// Node is the running homenode (nil while stopped).
func (h *Home) Node() *homenode.Node {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.node
}

// Link makes two homes deliver to each other: each learns the other's
// SMTP listener, and both restart on their ports.
func Link(ctx context.Context, a, b *Home) error {
	for _, p := range [][2]*Home{{a, b}, {b, a}} {
		h, other := p[0], p[1]
		if err := h.Stop(ctx); err != nil {
			return fmt.Errorf("link homes: %w", err)
		}
		h.mu.Lock()
		if h.cfg.MX == nil {
			h.cfg.MX = map[string]homenode.Addr{}
		}
		h.cfg.MX[other.Domain] = homenode.Addr(other.SMTPAddr())
		h.mu.Unlock()
		if err := h.Start(ctx); err != nil {
			return fmt.Errorf("link homes: %w", err)
		}
	}
	return nil
}

// AddAccount creates local@domain with a random password and returns the
// settings to reach it.
func (h *Home) AddAccount(ctx context.Context, local string) (transport.Account, error) {
	return h.account(ctx, local+"@"+h.Domain, false)
}

// account creates addr, or with reset gives an existing addr a new random
// password (the demo keeps no passwords on disk).
func (h *Home) account(ctx context.Context, addr string, reset bool) (transport.Account, error) {
	pw := make([]byte, 18)
	_, _ = rand.Read(pw)
	password := base64.RawURLEncoding.EncodeToString(pw)
	h.mu.Lock()
	cfg, n := h.cfg, h.node
	h.mu.Unlock()
	if n == nil {
		return transport.Account{}, fmt.Errorf("add account %s: the demo home is stopped", addr)
	}
	a, err := homenode.OpenAdmin(ctx, cfg)
	if err != nil {
		return transport.Account{}, fmt.Errorf("add account %s: %w", addr, err)
	}
	defer a.Close()
	users, err := a.Users(ctx)
	if err != nil {
		return transport.Account{}, fmt.Errorf("add account %s: %w", addr, err)
	}
	switch {
	case !slices.Contains(users, addr):
		err = a.AddUser(ctx, addr, password)
	case reset:
		err = a.SetPassword(ctx, addr, password)
	default:
		err = fmt.Errorf("it exists already")
	}
	if err != nil {
		return transport.Account{}, fmt.Errorf("add account %s: %w", addr, err)
	}
	return transport.Account{
		Address:  addr,
		Password: password,
		IMAP:     transport.Server{HostPort: n.Addr("plain_imap").String(), Security: transport.SecurityPlain},
		SMTP:     transport.Server{HostPort: n.Addr("plain_submission").String(), Security: transport.SecurityPlain},
	}, nil
}

// Close shuts the node down.
func (h *Home) Close(ctx context.Context) error { return h.Stop(ctx) }
