package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a Handler that remembers what it was given.
type recorder struct {
	mu   sync.Mutex
	msgs []Msg
	ids  map[string]int // Message-ID -> times handled
	ch   chan Msg
	disp func(Msg) (Disposition, error)
}

func newRecorder(disp func(Msg) (Disposition, error)) *recorder {
	if disp == nil {
		disp = func(Msg) (Disposition, error) { return Keep(), nil }
	}
	return &recorder{ids: map[string]int{}, ch: make(chan Msg, 1000), disp: disp}
}

func messageID(raw []byte) string {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return ""
	}
	return m.Header.Get("Message-ID")
}

func (r *recorder) handle(_ context.Context, m Msg) (Disposition, error) {
	d, err := r.disp(m)
	if err != nil {
		return d, err
	}
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.ids[messageID(m.Raw)]++
	r.mu.Unlock()
	r.ch <- m
	return d, nil
}

// await waits for n more handled messages.
func (r *recorder) await(t testing.TB, n int, d time.Duration) []Msg {
	t.Helper()
	var got []Msg
	timeout := time.After(d)
	for len(got) < n {
		select {
		case m := <-r.ch:
			got = append(got, m)
		case <-timeout:
			t.Fatalf("got %d of %d messages within %v", len(got), n, d)
		}
	}
	return got
}

// quiet checks that nothing more is handled for d.
func (r *recorder) quiet(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case m := <-r.ch:
		t.Fatalf("unexpected delivery of UID %d %s", m.UID, messageID(m.Raw))
	case <-time.After(d):
	}
}

// handledOnce fails the test if a message was handled more than once.
func (r *recorder) handledOnce(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, n := range r.ids {
		if n != 1 {
			t.Errorf("%s handled %d times", id, n)
		}
	}
}

// statusLog collects status reports.
type statusLog struct {
	mu sync.Mutex
	l  []Status
	ch chan Status
}

func newStatusLog() *statusLog { return &statusLog{ch: make(chan Status, 1000)} }

func (s *statusLog) record(st Status) {
	s.mu.Lock()
	s.l = append(s.l, st)
	s.mu.Unlock()
	s.ch <- st
}

// waitFor waits for a status with the given state (and, if want is not nil,
// an error wrapping it).
func (s *statusLog) waitFor(t testing.TB, state ConnState, want error, d time.Duration) Status {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case st := <-s.ch:
			if st.State == state && (want == nil || errors.Is(st.Err, want)) {
				return st
			}
		case <-timeout:
			s.mu.Lock()
			defer s.mu.Unlock()
			t.Fatalf("no status %v (%v) within %v; saw %v", state, want, d, s.l)
		}
	}
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// fastOpts are short timings so that tests exercise the watchdog and
// backoff in seconds, not minutes.
func fastOpts(t testing.TB, st *statusLog) WatchOptions {
	o := WatchOptions{
		IdleRefresh:    time.Minute, // long: delivery must come from the IDLE push
		CommandTimeout: 2 * time.Second,
		MinBackoff:     50 * time.Millisecond,
		MaxBackoff:     400 * time.Millisecond,
		Logger:         testLogger(t),
	}
	if st != nil {
		o.OnStatus = st.record
	}
	return o
}

// startWatch runs Watch until the returned stop is called (or the test
// ends) and checks that it returns nil promptly.
func startWatch(t testing.TB, a Account, store StateStore, h Handler, o WatchOptions) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Watch(ctx, a, store, h, o) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Watch returned %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("Watch did not return within 10 s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func TestWatchArguments(t *testing.T) {
	a := validAccount()
	a.IMAP = Server{HostPort: "192.168.1.2:143", Security: SecurityPlain}
	h := newRecorder(nil)
	if err := Watch(context.Background(), a, &MemoryState{}, h.handle, WatchOptions{}); !errors.Is(err, ErrPlainNotLoopback) {
		t.Errorf("plain to a LAN address: %v", err)
	}
	if err := Watch(context.Background(), validAccount(), nil, h.handle, WatchOptions{}); err == nil {
		t.Error("nil store accepted")
	}
	if err := Watch(context.Background(), validAccount(), &MemoryState{}, nil, WatchOptions{}); err == nil {
		t.Error("nil handler accepted")
	}
}

func TestBackoff(t *testing.T) {
	minD, maxD := time.Second, 5*time.Minute
	for attempt := 0; attempt < 100; attempt++ {
		want := maxD
		if attempt < 9 {
			want = minD << attempt
		}
		for i := 0; i < 20; i++ {
			d := backoff(minD, maxD, attempt)
			if d < want/2 || d > want {
				t.Fatalf("backoff(attempt %d) = %v, want within [%v, %v]", attempt, d, want/2, want)
			}
		}
	}
	// Jitter: not all the same.
	seen := map[time.Duration]bool{}
	for i := 0; i < 20; i++ {
		seen[backoff(minD, maxD, 3)] = true
	}
	if len(seen) < 5 {
		t.Errorf("backoff has no jitter: %v", seen)
	}
}

func TestMemoryState(t *testing.T) {
	var m MemoryState
	ctx := context.Background()
	if s, err := m.LoadState(ctx); err != nil || s != (State{}) {
		t.Fatalf("fresh state %+v %v", s, err)
	}
	if err := m.SaveState(ctx, State{UIDValidity: 7, LastUID: 3}); err != nil {
		t.Fatal(err)
	}
	if s, _ := m.LoadState(ctx); s != (State{UIDValidity: 7, LastUID: 3}) || m.Saves() != 1 {
		t.Fatalf("state %+v saves %d", s, m.Saves())
	}
}

// stalling is a TCP proxy in front of a server whose existing connections
// can be frozen: bytes stop flowing both ways but nothing is closed, as when
// a NAT forgets a connection or the far end loses power. Connections made
// after the freeze flow normally. It also records what clients sent.
type stalling struct {
	ln      net.Listener
	target  string
	mu      sync.Mutex
	links   []*link
	conns   []net.Conn
	sent    bytes.Buffer
	release chan struct{} // closed at cleanup: frozen links are let go
	// rewrite, if set, may change what the server sends, in place.
	rewrite func([]byte)
}

type link struct {
	mu    sync.Mutex
	block chan struct{} // non-nil while frozen
}

func (l *link) wait() {
	l.mu.Lock()
	b := l.block
	l.mu.Unlock()
	if b != nil {
		<-b
	}
}

func newStalling(t testing.TB, target string, rewrite func([]byte)) *stalling {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stalling{ln: ln, target: target, release: make(chan struct{}), rewrite: rewrite}
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		close(p.release)
	})
	go p.serve()
	return p
}

func (p *stalling) addr() string { return p.ln.Addr().String() }

func (p *stalling) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		l := &link{}
		p.mu.Lock()
		p.links = append(p.links, l)
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		go p.pipe(s, c, l, true)
		go p.pipe(c, s, l, false)
	}
}

func (p *stalling) pipe(dst, src net.Conn, l *link, fromClient bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			l.wait()
			if fromClient {
				p.mu.Lock()
				p.sent.Write(buf[:n])
				p.mu.Unlock()
			} else if p.rewrite != nil {
				p.rewrite(buf[:n])
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			dst.Close()
			return
		}
	}
}

// freeze stops every existing connection.
func (p *stalling) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.links {
		l.mu.Lock()
		l.block = p.release
		l.mu.Unlock()
	}
}

// drop closes every existing connection, as a server going away does.
func (p *stalling) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *stalling) clientSent() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent.String()
}
