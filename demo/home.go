package demo

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/thingpost/thingpost/homenode"
	"github.com/thingpost/thingpost/transport"
)

// Home is a homenode serving one domain on loopback, with plain-text
// submission and IMAP (allowed on loopback only) on free ports.
type Home struct {
	Domain string
	node   *homenode.Node
	cfg    *homenode.Config
}

// StartHome initialises a node in dir (created) for domain and starts it.
// mx maps other demo domains to their SMTP listeners, so that two homes on
// one machine deliver to each other.
func StartHome(ctx context.Context, dir, domain string, mx map[string]string, log *slog.Logger) (*Home, error) {
	data := filepath.Join(dir, "homenode")
	if _, err := homenode.Init(homenode.InitOptions{Dir: data, Domain: domain, Plain: true,
		SMTP: "127.0.0.1:0", Submission: "127.0.0.1:0", IMAP: "127.0.0.1:0"}); err != nil {
		return nil, fmt.Errorf("demo home %s: %w", domain, err)
	}
	cfg, err := homenode.LoadConfig(data)
	if err != nil {
		return nil, fmt.Errorf("demo home %s: %w", domain, err)
	}
	for d, a := range mx {
		if cfg.MX == nil {
			cfg.MX = map[string]homenode.Addr{}
		}
		cfg.MX[d] = homenode.Addr(a)
	}
	n, err := homenode.Start(ctx, cfg, log)
	if err != nil {
		return nil, fmt.Errorf("demo home %s: %w", domain, err)
	}
	return &Home{Domain: domain, node: n, cfg: cfg}, nil
}

// SMTPAddr is the inbound (MX) listener, for other homes' mx maps.
func (h *Home) SMTPAddr() string { return h.node.Addr("smtp").String() }

// Node is the running homenode.
func (h *Home) Node() *homenode.Node { return h.node }

// AddAccount creates local@domain with a random password and returns the
// settings to reach it.
func (h *Home) AddAccount(ctx context.Context, local string) (transport.Account, error) {
	addr := local + "@" + h.Domain
	pw := make([]byte, 18)
	_, _ = rand.Read(pw)
	password := base64.RawURLEncoding.EncodeToString(pw)
	a, err := homenode.OpenAdmin(ctx, h.cfg)
	if err != nil {
		return transport.Account{}, fmt.Errorf("add account %s: %w", addr, err)
	}
	defer a.Close()
	if err := a.AddUser(ctx, addr, password); err != nil {
		return transport.Account{}, fmt.Errorf("add account %s: %w", addr, err)
	}
	return transport.Account{
		Address:  addr,
		Password: password,
		IMAP:     transport.Server{HostPort: h.node.Addr("plain_imap").String(), Security: transport.SecurityPlain},
		SMTP:     transport.Server{HostPort: h.node.Addr("plain_submission").String(), Security: transport.SecurityPlain},
	}, nil
}

// Close shuts the node down.
func (h *Home) Close(ctx context.Context) error { return h.node.Shutdown(ctx) }
