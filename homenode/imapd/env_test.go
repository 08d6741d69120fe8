package imapd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/thingpost/thingpost/internal/testutil"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/thingpost/thingpost/homenode/mailstore"
	"github.com/thingpost/thingpost/homenode/spool"
)

// testAuth is a trivial Authenticator: fixed passwords, addresses
// normalised to lower case like the real one does.
type testAuth map[string]string

func (a testAuth) Authenticate(ctx context.Context, remote net.Addr, user, pass string) (string, error) {
	u := strings.ToLower(user)
	if p, ok := a[u]; ok && p == pass {
		return u, nil
	}
	return "", errors.New("bad credentials")
}

const (
	alice = "alice@home.example"
	bob   = "bob@home.example"
	pass  = "secret"
)

type env struct {
	t     testing.TB
	store *mailstore.Store
	srv   *Server
	addr  string
	logs  *testutil.SyncBuffer
	path  string
}

// newEnv starts a store with alice and bob and a server on 127.0.0.1:0.
func newEnv(t testing.TB, opts Options) *env {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mail.db")
	st, err := mailstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{alice, bob} {
		if err := st.AddUser(context.Background(), u, "unused"); err != nil {
			t.Fatal(err)
		}
	}
	e := &env{t: t, store: st, logs: &testutil.SyncBuffer{}, path: path}
	e.start(opts)
	t.Cleanup(func() {
		e.srv.Close()
		e.store.Close()
	})
	return e
}

func (e *env) start(opts Options) {
	e.t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(e.logs, nil))
	}
	if opts.Spool == nil {
		sp, err := spool.New(filepath.Join(e.t.TempDir(), "spool"), spool.Limits{Disk: 256 << 20, Memory: 64 << 20})
		if err != nil {
			e.t.Fatal(err)
		}
		opts.Spool = sp
	}
	e.srv = New(e.store, testAuth{alice: pass, bob: pass}, opts)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	e.addr = l.Addr().String()
	go e.srv.Serve(l)
}

// updates collects a client's unilateral data.
type updates struct {
	exists   chan uint32
	expunges chan uint32
	fetches  chan *imapclient.FetchMessageBuffer
}

func newUpdates() *updates {
	return &updates{
		exists:   make(chan uint32, 4096),
		expunges: make(chan uint32, 4096),
		fetches:  make(chan *imapclient.FetchMessageBuffer, 4096),
	}
}

// nextExists wants the next EXISTS pushed, within pushTimeout, to be want;
// what names the push in a failure.
func (u *updates) nextExists(t testing.TB, want uint32, what string) {
	t.Helper()
	select {
	case n := <-u.exists:
		if n != want {
			t.Fatalf("%s: * %d EXISTS, want %d", what, n, want)
		}
	case <-time.After(pushTimeout):
		t.Fatalf("%s: not pushed within %v", what, pushTimeout)
	}
}

// nextFetch wants the next FETCH, within pushTimeout, to give message seq
// the flag f; what names it in a failure.
func (u *updates) nextFetch(t testing.TB, seq uint32, f imap.Flag, what string) {
	t.Helper()
	select {
	case m := <-u.fetches:
		if m.SeqNum != seq || !slices.Contains(m.Flags, f) {
			t.Fatalf("%s: seq %d flags %v, want seq %d with %s", what, m.SeqNum, m.Flags, seq, f)
		}
	case <-time.After(pushTimeout):
		t.Fatalf("%s: nothing within %v", what, pushTimeout)
	}
}

func (u *updates) handler() *imapclient.UnilateralDataHandler {
	return &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				u.exists <- *d.NumMessages
			}
		},
		Expunge: func(seq uint32) { u.expunges <- seq },
		Fetch: func(m *imapclient.FetchMessageData) {
			// The handler runs on the reader: collect the data now.
			if buf, err := m.Collect(); err == nil {
				u.fetches <- buf
			}
		},
	}
}

// waitExists waits for an EXISTS with n messages.
func (u *updates) waitExists(t testing.TB, n uint32, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case got := <-u.exists:
			if got == n {
				return
			}
		case <-deadline:
			t.Fatalf("no * %d EXISTS within %v", n, timeout)
		}
	}
}

func (e *env) dial(u *updates) *imapclient.Client {
	e.t.Helper()
	opts := &imapclient.Options{}
	if u != nil {
		opts.UnilateralDataHandler = u.handler()
	}
	c, err := imapclient.DialInsecure(e.addr, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

// login dials and logs in as user.
func (e *env) login(user string, u *updates) *imapclient.Client {
	e.t.Helper()
	c := e.dial(u)
	if err := c.Login(user, pass).Wait(); err != nil {
		e.t.Fatalf("login %s: %v", user, err)
	}
	return c
}

// selectInbox logs in as user and selects INBOX.
func (e *env) selectInbox(user string, u *updates) (*imapclient.Client, *imap.SelectData) {
	e.t.Helper()
	c := e.login(user, u)
	data, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		e.t.Fatal(err)
	}
	return c, data
}

func (e *env) deliver(rcpt string, raw string) {
	e.t.Helper()
	if err := e.store.Deliver(context.Background(), []string{rcpt}, []byte(raw)); err != nil {
		e.t.Fatal(err)
	}
}

// rawConn speaks IMAP by hand, for what imapclient cannot send or match
// (SEARCH RETURN (SAVE), FETCH $).
type rawConn struct {
	t   testing.TB
	c   net.Conn
	r   *bufio.Reader
	tag int
}

func (e *env) raw(user string) *rawConn {
	e.t.Helper()
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	rc := &rawConn{t: e.t, c: c, r: bufio.NewReader(c)}
	if _, err := rc.r.ReadString('\n'); err != nil {
		e.t.Fatal(err)
	}
	if _, st := rc.cmd(`LOGIN %q %q`, user, pass); !strings.HasPrefix(st, "OK") {
		e.t.Fatalf("raw login: %s", st)
	}
	return rc
}

// cmd sends a command and returns the untagged lines (literals inlined)
// and the tagged status ("OK ...", "NO ...", "BAD ...").
func (rc *rawConn) cmd(format string, args ...any) (untagged []string, status string) {
	rc.t.Helper()
	rc.tag++
	tag := fmt.Sprintf("R%d", rc.tag)
	rc.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(rc.c, "%s %s\r\n", tag, fmt.Sprintf(format, args...)); err != nil {
		rc.t.Fatal(err)
	}
	for {
		line, err := rc.readLine()
		if err != nil {
			rc.t.Fatalf("raw read: %v", err)
		}
		if rest, ok := strings.CutPrefix(line, tag+" "); ok {
			return untagged, rest
		}
		untagged = append(untagged, line)
	}
}

func (rc *rawConn) readLine() (string, error) {
	line, err := rc.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	var n int
	if i := strings.LastIndexByte(line, '{'); i >= 0 && strings.HasSuffix(line, "}") {
		if _, err := fmt.Sscanf(line[i:], "{%d}", &n); err == nil {
			lit := make([]byte, n)
			if _, err := io.ReadFull(rc.r, lit); err != nil {
				return "", err
			}
			rest, err := rc.readLine()
			return line + string(lit) + rest, err
		}
	}
	return line, nil
}
