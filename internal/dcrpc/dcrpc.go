// Package dcrpc drives the real Delta Chat core (deltachat-rpc-server, npm
// @deltachat/stdio-rpc-server-linux-x64) over its JSON-RPC 2.0 interface: one
// JSON object per line on the child's stdin/stdout, positional params.
//
// It exists so that tests can use Delta Chat as an independent peer: Start a
// server with its own accounts folder, Call methods, and WaitEvent for the
// events the core emits (a background loop keeps calling get_next_event and
// records every event, so a failing wait can say what was seen).
package dcrpc

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// BinaryEnv names the environment variable that points at deltachat-rpc-server.
const BinaryEnv = "DELTACHAT_RPC_SERVER"

// ErrNotFound means no deltachat-rpc-server binary was found.
var ErrNotFound = errors.New("deltachat-rpc-server not found")

// ErrClosed means the server process has gone.
var ErrClosed = errors.New("deltachat-rpc-server closed")

// FindBinary looks at $DELTACHAT_RPC_SERVER, then at the place the repository's
// bootstrap installs it: <root>/.cache/deltachat/node_modules/@deltachat/
// stdio-rpc-server-linux-*/deltachat-rpc-server, for root = dir and its parents.
func FindBinary(dir string) (string, error) {
	if p := os.Getenv(BinaryEnv); p != "" {
		if fi, err := os.Stat(p); err != nil || fi.IsDir() {
			return "", fmt.Errorf("%w: %s=%s is not a file", ErrNotFound, BinaryEnv, p)
		}
		return p, nil
	}
	for d := dir; ; d = filepath.Dir(d) {
		matches, _ := filepath.Glob(filepath.Join(d, ".cache", "deltachat", "node_modules", "@deltachat", "stdio-rpc-server-linux-*", "deltachat-rpc-server"))
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && fi.Mode()&0o111 != 0 {
				return m, nil
			}
		}
		if parent := filepath.Dir(d); parent == d {
			break
		}
	}
	return "", fmt.Errorf("%w: set %s or install it with: npm install --prefix <repo>/.cache/deltachat @deltachat/stdio-rpc-server-linux-x64@2.62.0", ErrNotFound, BinaryEnv)
}

// BinaryForTest is FindBinary from the working directory for the test t.
// Where the core is not installed it skips t, except under CI, where it
// fails: scripts/bootstrap.sh installs it.
func BinaryForTest(t testing.TB) string {
	t.Helper()
	wd, _ := os.Getwd()
	bin, err := FindBinary(wd)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must install the Delta Chat core (scripts/bootstrap.sh): %v", err)
		}
		t.Skipf("Delta Chat core not installed (run scripts/bootstrap.sh): %v", err)
	}
	return bin
}

// Event is one event from get_next_event.
type Event struct {
	Seq       int    // position in the client's event log; pass Seq+1 to WaitEvent for what came after
	ContextID uint32 // the account ID
	Kind      string
	ChatID    uint32
	MsgID     uint32
	ContactID uint32
	Progress  int
	Msg       string // Info, Warning, Error text
	Raw       json.RawMessage
	At        time.Time
}

func (e Event) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "acc%d %s", e.ContextID, e.Kind)
	if e.ChatID != 0 {
		fmt.Fprintf(&b, " chat=%d", e.ChatID)
	}
	if e.MsgID != 0 {
		fmt.Fprintf(&b, " msg=%d", e.MsgID)
	}
	if e.ContactID != 0 {
		fmt.Fprintf(&b, " contact=%d", e.ContactID)
	}
	if strings.HasSuffix(e.Kind, "Progress") {
		fmt.Fprintf(&b, " progress=%d", e.Progress)
	}
	if e.Msg != "" {
		fmt.Fprintf(&b, " %q", e.Msg)
	}
	return b.String()
}

// Error is a JSON-RPC error answer.
type Error struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (e *Error) Error() string { return fmt.Sprintf("json-rpc error %d: %s", e.Code, e.Message) }

type response struct {
	ID     int64           `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *Error          `json:"error"`
}

// Client is one running deltachat-rpc-server process.
type Client struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser

	writeMu sync.Mutex

	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan response
	events  []Event
	changed chan struct{} // closed and replaced when events grows or the process ends
	done    bool
	doneErr error

	readerDone chan struct{}
	pumpDone   chan struct{}
	stopPump   context.CancelFunc
}

// Start runs the binary with DC_ACCOUNTS_PATH=accountsDir. The core's log
// (stderr) goes to logw when not nil.
func Start(binary, accountsDir string, logw io.Writer) (*Client, error) {
	cmd := exec.Command(binary)
	cmd.Env = append(os.Environ(), "DC_ACCOUNTS_PATH="+accountsDir)
	cmd.Stderr = logw
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start deltachat-rpc-server: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start deltachat-rpc-server: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start deltachat-rpc-server: %w", err)
	}
	pumpCtx, stop := context.WithCancel(context.Background())
	c := &Client{
		cmd: cmd, stdin: stdin,
		pending:    map[int64]chan response{},
		changed:    make(chan struct{}),
		readerDone: make(chan struct{}),
		pumpDone:   make(chan struct{}),
		stopPump:   stop,
	}
	go c.read(stdout)
	go c.pump(pumpCtx)
	return c, nil
}

func (c *Client) read(stdout io.Reader) {
	defer close(c.readerDone)
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	for sc.Scan() {
		var r response
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			continue // not a response (the core prints only responses; be lenient)
		}
		c.mu.Lock()
		ch := c.pending[r.ID]
		delete(c.pending, r.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- r
		}
	}
	err := sc.Err()
	if err == nil {
		err = ErrClosed
	}
	c.mu.Lock()
	c.done, c.doneErr = true, err
	for id, ch := range c.pending {
		close(ch)
		delete(c.pending, id)
	}
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

// pump keeps one get_next_event call outstanding and records every event.
func (c *Client) pump(ctx context.Context) {
	defer close(c.pumpDone)
	for {
		var raw struct {
			ContextID uint32          `json:"contextId"`
			Event     json.RawMessage `json:"event"`
		}
		if err := c.Call(ctx, &raw, "get_next_event"); err != nil {
			return
		}
		var f struct {
			Kind      string `json:"kind"`
			ChatID    uint32 `json:"chatId"`
			MsgID     uint32 `json:"msgId"`
			ContactID uint32 `json:"contactId"`
			Progress  int    `json:"progress"`
			Msg       string `json:"msg"`
		}
		_ = json.Unmarshal(raw.Event, &f) // unknown shapes keep their Raw
		ev := Event{ContextID: raw.ContextID, Kind: f.Kind, ChatID: f.ChatID, MsgID: f.MsgID,
			ContactID: f.ContactID, Progress: f.Progress, Msg: f.Msg, Raw: raw.Event, At: time.Now()}
		c.mu.Lock()
		ev.Seq = len(c.events)
		c.events = append(c.events, ev)
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
	}
}

// Call sends one request and decodes its result into out (which may be nil).
func (c *Client) Call(ctx context.Context, out any, method string, params ...any) error {
	if params == nil {
		params = []any{}
	}
	ch := make(chan response, 1)
	c.mu.Lock()
	if c.done {
		err := c.doneErr
		c.mu.Unlock()
		return fmt.Errorf("%s: %w", method, err)
	}
	c.nextID++
	id := c.nextID
	c.pending[id] = ch
	c.mu.Unlock()

	line, err := json.Marshal(struct {
		JSONRPC string `json:"jsonrpc"`
		ID      int64  `json:"id"`
		Method  string `json:"method"`
		Params  []any  `json:"params"`
	}{"2.0", id, method, params})
	if err != nil {
		c.forget(id)
		return fmt.Errorf("%s: encode params: %w", method, err)
	}
	c.writeMu.Lock()
	_, err = c.stdin.Write(append(line, '\n'))
	c.writeMu.Unlock()
	if err != nil {
		c.forget(id)
		return fmt.Errorf("%s: write: %w", method, err)
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return fmt.Errorf("%s: %w", method, ErrClosed)
		}
		if r.Error != nil {
			return fmt.Errorf("%s: %w", method, r.Error)
		}
		if out != nil {
			if err := json.Unmarshal(r.Result, out); err != nil {
				return fmt.Errorf("%s: decode result %s: %w", method, r.Result, err)
			}
		}
		return nil
	case <-ctx.Done():
		c.forget(id)
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

func (c *Client) forget(id int64) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// Mark is the position after the last recorded event; pass it to WaitEvent
// to see only events that come later.
func (c *Client) Mark() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.events)
}

// Events returns a copy of every event recorded so far.
func (c *Client) Events() []Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Event(nil), c.events...)
}

// WaitEvent returns the first event at position >= since for which match is
// true. On timeout the error lists the last events seen.
func (c *Client) WaitEvent(ctx context.Context, since int, match func(Event) bool) (Event, error) {
	for {
		c.mu.Lock()
		for i := since; i < len(c.events); i++ {
			if match(c.events[i]) {
				ev := c.events[i]
				c.mu.Unlock()
				return ev, nil
			}
		}
		since = max(since, len(c.events))
		changed, done, doneErr := c.changed, c.done, c.doneErr
		c.mu.Unlock()
		if done {
			return Event{}, fmt.Errorf("wait event: %w; last events:\n%s", doneErr, c.Recent(30))
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return Event{}, fmt.Errorf("wait event: %w; last events:\n%s", ctx.Err(), c.Recent(30))
		}
	}
}

// Recent formats the last n events, one per line, for failure messages.
func (c *Client) Recent(n int) string {
	evs := c.Events()
	if len(evs) > n {
		evs = evs[len(evs)-n:]
	}
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "  %s %s\n", e.At.Format("15:04:05.000"), e)
	}
	return b.String()
}

// Close stops all accounts' I/O, ends the process (killing it if it does not
// exit within a few seconds) and waits for it.
func (c *Client) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.Call(ctx, nil, "stop_io_for_all_accounts")
	c.stopPump()
	_ = c.stdin.Close()
	// The process closing stdout ends the reader; only then may Wait run.
	select {
	case <-c.readerDone:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.readerDone
	}
	err := c.cmd.Wait()
	<-c.pumpDone
	return err
}
