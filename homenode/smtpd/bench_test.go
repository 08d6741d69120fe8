package smtpd

import (
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
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
