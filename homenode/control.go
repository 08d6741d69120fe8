package homenode

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/thingpost/thingpost/homenode/mailstore"
)

// The control socket lets the CLI reach a running node: status and account
// changes. It is a Unix socket in the data directory (0700, so only the node's
// owner can connect), one JSON request and one JSON answer per connection.
const controlSocket = "homenode.sock"

// maxSocketPath is the longest Unix socket path Linux accepts (sun_path is
// 108 bytes with the terminating NUL).
const maxSocketPath = 107

// controlTimeout bounds one control exchange on both sides.
const controlTimeout = 30 * time.Second

func controlPath(cfg *Config) string { return filepath.Join(cfg.Dir, controlSocket) }

type ctlRequest struct {
	Op   string `json:"op"` // status, users, add_user, set_hash, delete_user
	Addr string `json:"addr,omitempty"`
	Hash string `json:"hash,omitempty"`
}

type ctlResponse struct {
	Error     string   `json:"error,omitempty"`
	ErrorKind string   `json:"error_kind,omitempty"` // names a sentinel the CLI decides on
	Status    *Status  `json:"status,omitempty"`
	Users     []string `json:"users,omitempty"`
}

// sentinels that cross the socket by name.
var ctlKinds = map[string]error{
	"no_such_user": mailstore.ErrNoSuchUser,
	"user_exists":  mailstore.ErrUserExists,
	"bad_address":  ErrBadAddress,
}

func errorKind(err error) string {
	for k, e := range ctlKinds {
		if errors.Is(err, e) {
			return k
		}
	}
	return ""
}

// controlServer serves the socket for a running node.
type controlServer struct {
	l   net.Listener
	ops adminOps
	log *slog.Logger
	wg  sync.WaitGroup
}

// listenControl binds the socket. The caller holds the store lock, so any
// socket file left there belongs to a dead node and is removed.
func listenControl(cfg *Config) (net.Listener, error) {
	p := controlPath(cfg)
	if len(p) > maxSocketPath {
		return nil, fmt.Errorf("control socket %s: path longer than %d bytes (a Unix socket limit): use a shorter data directory", p, maxSocketPath)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	l, err := net.Listen("unix", p)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return l, nil
}

func (s *controlServer) serve() {
	for {
		c, err := s.l.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(c)
		}()
	}
}

func (s *controlServer) close() {
	s.l.Close()
	s.wg.Wait()
}

func (s *controlServer) handle(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(controlTimeout))
	ctx, cancel := context.WithTimeout(context.Background(), controlTimeout)
	defer cancel()
	var req ctlRequest
	if err := json.NewDecoder(bufio.NewReader(c)).Decode(&req); err != nil {
		_ = json.NewEncoder(c).Encode(ctlResponse{Error: "bad request: " + err.Error()})
		return
	}
	var resp ctlResponse
	var err error
	switch req.Op {
	case "status":
		resp.Status, err = s.ops.status(ctx)
	case "users":
		resp.Users, err = s.ops.store.Users(ctx)
	case "add_user":
		err = s.ops.addUserHash(ctx, req.Addr, req.Hash)
	case "set_hash":
		err = s.ops.setHash(ctx, req.Addr, req.Hash)
	case "delete_user":
		err = s.ops.deleteUser(ctx, req.Addr)
	default:
		err = fmt.Errorf("unknown op %q", req.Op)
	}
	if err != nil {
		resp.Error, resp.ErrorKind = err.Error(), errorKind(err)
	} else if req.Op != "status" && req.Op != "users" {
		s.log.Info("account changed", "op", req.Op, "addr", req.Addr)
	}
	_ = json.NewEncoder(c).Encode(resp)
}

// remoteAdmin is the CLI side of the control socket.
type remoteAdmin struct {
	cfg  *Config
	path string
}

func dialControl(ctx context.Context, cfg *Config) (*remoteAdmin, error) {
	ra := &remoteAdmin{cfg: cfg, path: controlPath(cfg)}
	// A ping proves a node is there; a stale socket file refuses the dial.
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := d.DialContext(dctx, "unix", ra.path)
	if err != nil {
		return nil, err
	}
	c.Close()
	return ra, nil
}

func (r *remoteAdmin) call(ctx context.Context, req ctlRequest) (*ctlResponse, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", r.path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	defer c.Close()
	deadline := time.Now().Add(controlTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = c.SetDeadline(deadline)
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	var resp ctlResponse
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		return nil, fmt.Errorf("control socket: no answer from the node: %w", err)
	}
	if resp.Error != "" {
		if e, ok := ctlKinds[resp.ErrorKind]; ok {
			return nil, &remoteError{msg: resp.Error, kind: e}
		}
		return nil, errors.New(resp.Error)
	}
	return &resp, nil
}

// remoteError keeps the node's message and lets errors.Is see the sentinel.
type remoteError struct {
	msg  string
	kind error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.kind }

func (r *remoteAdmin) Status(ctx context.Context) (*Status, error) {
	resp, err := r.call(ctx, ctlRequest{Op: "status"})
	if err != nil {
		return nil, err
	}
	return resp.Status, nil
}

func (r *remoteAdmin) Users(ctx context.Context) ([]string, error) {
	resp, err := r.call(ctx, ctlRequest{Op: "users"})
	if err != nil {
		return nil, err
	}
	return resp.Users, nil
}

func (r *remoteAdmin) AddUser(ctx context.Context, addr, password string) error {
	if _, err := r.cfg.CheckAddress(addr); err != nil {
		return err
	}
	h, err := hashPassword(password)
	if err != nil {
		return err
	}
	_, err = r.call(ctx, ctlRequest{Op: "add_user", Addr: addr, Hash: h})
	return err
}

func (r *remoteAdmin) SetPassword(ctx context.Context, addr, password string) error {
	h, err := hashPassword(password)
	if err != nil {
		return err
	}
	_, err = r.call(ctx, ctlRequest{Op: "set_hash", Addr: addr, Hash: h})
	return err
}

func (r *remoteAdmin) DeleteUser(ctx context.Context, addr string) error {
	_, err := r.call(ctx, ctlRequest{Op: "delete_user", Addr: addr})
	return err
}

func (r *remoteAdmin) Close() error { return nil }
