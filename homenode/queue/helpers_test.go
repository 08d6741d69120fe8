package queue

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/thingpost/thingpost/internal/testutil"

	"github.com/thingpost/thingpost/homenode/accounts"
	"github.com/thingpost/thingpost/homenode/mailstore"
	"github.com/thingpost/thingpost/homenode/smtpd"
)

func newStore(t testing.TB, users ...string) *mailstore.Store {
	t.Helper()
	st := testutil.OpenStore(t)
	for _, u := range users {
		h, err := accounts.HashPassword("pw-" + u)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.AddUser(context.Background(), u, h); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// remoteMX is a second node: its own store and a real MX server.
func remoteMX(t testing.TB, domain string, tlsCfg *tls.Config, users ...string) (*mailstore.Store, string) {
	t.Helper()
	st := newStore(t, users...)
	srv := smtpd.NewMX(st, smtpd.MXOptions{Hostname: "mx." + domain, Domains: []string{domain}, TLSConfig: tlsCfg, Logger: slog.New(slog.DiscardHandler)})
	return st, testutil.Serve(t, srv, nil)
}

// clock is a settable clock for Options.Now.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock { c := &clock{}; c.ns.Store(t.UnixNano()); return c }
func (c *clock) Now() time.Time   { return time.Unix(0, c.ns.Load()) }
func (c *clock) Add(d time.Duration) {
	c.ns.Add(int64(d))
}

// firstAttempt runs a queue over home that sends mail for remote.test to
// mx, on a clock of its own, enqueues a message (token) from alice@home.test
// to dave@remote.test and waits for its first attempt.
func firstAttempt(t testing.TB, home *mailstore.Store, mx, token string) (*Queue, *clock) {
	t.Helper()
	clk := newClock(time.Now().Add(time.Second)) // ahead of the store clock that stamps Enqueue
	q := New(home, Options{Hostname: "mail.home.test", StaticMX: map[string]string{"remote.test": mx}, Now: clk.Now, Logger: slog.New(slog.DiscardHandler)})
	run(t, q)
	if _, err := q.Enqueue(context.Background(), "alice@home.test", []string{"dave@remote.test"}, msgText("alice@home.test", "dave@remote.test", token)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first attempt", func() bool { return queued(t, home).Attempts == 1 })
	return q, clk
}

// run starts q.Run and stops it at the end of the test.
func run(t testing.TB, q *Queue) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func queueLen(t testing.TB, st *mailstore.Store) int {
	t.Helper()
	n, err := st.QueueLen(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// queued returns the single queued item (due or not).
func queued(t testing.TB, st *mailstore.Store) mailstore.QueueItem {
	t.Helper()
	items, err := st.QueueDue(context.Background(), time.Now().Add(365*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 {
		t.Fatalf("%d queued items, want 1", len(items))
	}
	return items[0]
}

func msgText(from, to, subject string) []byte {
	return []byte("From: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject +
		"\r\nDate: Mon, 02 Jan 2026 15:04:05 +0000\r\nMessage-ID: <" + subject + "@home.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nHello from the queue.\r\n")
}

// flakyMX answers its first connection with 451 to every RCPT and passes
// every later connection through to the real server at next.
func flakyMX(t testing.TB, next string) (addr string, conns *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	conns = &atomic.Int32{}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if conns.Add(1) == 1 {
				go fakeSMTP(c, "451 4.3.0 Try again later", nil)
				continue
			}
			go proxy(c, next)
		}
	}()
	return l.Addr().String(), conns
}

// fakeSMTP speaks just enough SMTP to answer every recipient with
// rcptReply and, when data is not nil, to take DATA and send there its
// bytes as they came over the wire (dot-stuffed, without the final
// ".\r\n").
func fakeSMTP(c net.Conn, rcptReply string, data chan<- []byte) {
	defer c.Close()
	tp := textproto.NewConn(c)
	tp.PrintfLine("220 fake ESMTP")
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		switch cmd := strings.ToUpper(strings.Fields(line + " x")[0]); {
		case cmd == "EHLO" || cmd == "HELO":
			tp.PrintfLine("250 fake")
		case cmd == "RCPT":
			tp.PrintfLine("%s", rcptReply)
		case cmd == "DATA" && data != nil:
			tp.PrintfLine("354 go on")
			var raw []byte
			for !bytes.HasSuffix(raw, []byte("\r\n.\r\n")) {
				b, err := tp.R.ReadByte()
				if err != nil {
					return
				}
				raw = append(raw, b)
			}
			data <- raw[:len(raw)-3]
			tp.PrintfLine("250 2.0.0 ok")
		case cmd == "QUIT":
			tp.PrintfLine("221 bye")
			return
		default:
			tp.PrintfLine("250 2.0.0 ok")
		}
	}
}

func proxy(c net.Conn, next string) {
	defer c.Close()
	up, err := net.Dial("tcp", next)
	if err != nil {
		return
	}
	defer up.Close()
	go io.Copy(up, c)
	io.Copy(c, up)
}

// header returns the first value of a header field of raw.
func header(raw []byte, name string) string {
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw)))
	h, _ := tp.ReadMIMEHeader()
	return h.Get(name)
}

func mailstoreItem(created time.Time, attempts int) mailstore.QueueItem {
	return mailstore.QueueItem{ID: 1, Created: created, Attempts: attempts}
}
