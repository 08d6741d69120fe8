package smtpd

import (
	"net"
	"net/textproto"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/thingpost/thingpost/internal/testutil"
)

// BenchmarkSubmitLocal4KiB: one SMTP transaction (MAIL, RCPT, DATA of a
// 4 KiB message, 250 after the fsynced store write) to a local mailbox, on
// an authenticated loopback connection.
func BenchmarkSubmitLocal4KiB(b *testing.B) {
	e := newSubmission(b, SubmissionOptions{AllowInsecureAuth: true}, false)
	c := e.login(b, "alice@home.test", "pw-alice")
	msg := message("alice@home.test", "bob@home.test", "bench", strings.Repeat(strings.Repeat("x", 62)+"\r\n", 4096/64))
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if err := send(c, "alice@home.test", []string{"bob@home.test"}, msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSubmitLocal4KiBParallel: the same with 8 concurrent clients, so
// the store's group commit shares fsyncs.
func BenchmarkSubmitLocal4KiBParallel(b *testing.B) {
	e := newSubmission(b, SubmissionOptions{AllowInsecureAuth: true}, false)
	msg := message("alice@home.test", "bob@home.test", "bench", strings.Repeat(strings.Repeat("x", 62)+"\r\n", 4096/64))
	const clients = 8
	conns := make(chan *smtp.Client, clients)
	for range clients {
		conns <- e.login(b, "alice@home.test", "pw-alice")
	}
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	var wg sync.WaitGroup
	work := make(chan struct{})
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := <-conns
			for range work {
				if err := send(c, "alice@home.test", []string{"bob@home.test"}, msg); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	for range b.N {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
}

// countingListener counts the bytes its connections have read.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	return countingConn{c, l.n}, err
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// BenchmarkMXStalledTransfers: 12 clients send 4 MiB of DATA each and
// stall before the end of data; reported is what the node holds meanwhile:
// heap-KiB (live heap after a GC, over the idle server's) and rss-KiB (the
// test process's resident memory growth, clients included).
func BenchmarkMXStalledTransfers(b *testing.B) {
	st := testutil.OpenStore(b)
	addUser(b, st, "alice@home.test", "pw")
	srv := NewMX(st, MXOptions{Domains: []string{"home.test"}, MaxSize: 32 << 20, Logger: testLogger(&testutil.SyncBuffer{})})
	var read atomic.Int64
	addr := testutil.Serve(b, srv, func(l net.Listener) net.Listener { return countingListener{l, &read} })
	const n, size = 12, 4 << 20
	line := strings.Repeat("0123456789", 7) + "\r\n"
	body := []byte("From: carol@sender.example\r\nSubject: stall\r\n\r\n" + strings.Repeat(line, size/len(line)))
	var heap, rss int64
	for b.Loop() {
		heap0, rss0 := memNow(b)
		start := read.Load()
		var conns []net.Conn
		for range n {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			conns = append(conns, c)
			tp := textproto.NewConn(c)
			for _, cmd := range []struct {
				line string
				code int
			}{{"", 220}, {"EHLO stall.example", 250}, {"MAIL FROM:<carol@sender.example>", 250}, {"RCPT TO:<alice@home.test>", 250}, {"DATA", 354}} {
				if cmd.line != "" {
					tp.PrintfLine("%s", cmd.line)
				}
				if _, _, err := tp.ReadResponse(cmd.code); err != nil {
					b.Fatalf("%s: %v", cmd.line, err)
				}
			}
			go c.Write(body)
		}
		for read.Load()-start < n*int64(len(body)) {
			time.Sleep(5 * time.Millisecond)
		}
		heap1, rss1 := memNow(b)
		heap, rss = max(heap, heap1-heap0), max(rss, rss1-rss0)
		for _, c := range conns {
			c.Close()
		}
	}
	b.ReportMetric(float64(heap>>10), "heap-KiB")
	b.ReportMetric(float64(rss>>10), "rss-KiB")
}

// memNow is the live heap after a GC and the resident set size.
func memNow(b *testing.B) (heap, rss int64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			rss = kb << 10
		}
	}
	return int64(ms.HeapAlloc), rss
}
