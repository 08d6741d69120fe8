package e2e

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// BenchmarkSubmitDurable measures the real node end to end: concurrent
// clients, each on its own authenticated plain-loopback submission
// connection, submit ~1 KiB messages to a local mailbox; every 250 means the
// message was fsynced. Reported as msgs/s (ns/op is wall time per message).
func BenchmarkSubmitDurable(b *testing.B) {
	for _, clients := range []int{1, 8} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			h := newHome(b, "bench.test", nil)
			users := make([]string, clients)
			for i := range users {
				users[i] = h.addUser(fmt.Sprintf("u%d", i))
			}
			h.start()
			addr := h.addr("plain_submission")
			conns := make([]*smtp.Client, clients)
			for i, u := range users {
				c, err := smtp.Dial(addr)
				if err != nil {
					b.Fatal(err)
				}
				if err := c.Auth(sasl.NewPlainClient("", u, h.Pass[u])); err != nil {
					b.Fatal(err)
				}
				conns[i] = c
				defer c.Close()
			}
			body := bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n"), 14)
			var next atomic.Int64
			var failed atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for i, c := range conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					from, to := users[i], users[(i+1)%len(users)]
					for {
						n := next.Add(1)
						if n > int64(b.N) {
							return
						}
						msg := append(message(from, to, fmt.Sprintf("b%d", n)), body...)
						if err := c.SendMail(from, []string{to}, bytes.NewReader(msg)); err != nil {
							failed.Add(1)
							return
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			if failed.Load() > 0 {
				b.Fatalf("%d submissions failed", failed.Load())
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
		})
	}
}

// BenchmarkSubmitToIdlePush measures what a mail client waiting in IDLE sees
// on the real node: from the start of an SMTP submission (one authenticated
// connection, plain loopback) to the "* N EXISTS" pushed to an IMAP
// connection idling on the recipient's INBOX. The 250 in between means the
// message was fsynced. Reports p50 and p99 in ms.
func BenchmarkSubmitToIdlePush(b *testing.B) {
	h := newHome(b, "push.test", nil)
	alice, bob := h.addUser("alice"), h.addUser("bob")
	h.start()

	exists := make(chan uint32, 16)
	ic, err := imapclient.DialInsecure(h.addr("plain_imap"), &imapclient.Options{
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					exists <- *d.NumMessages
				}
			},
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer ic.Close()
	if err := ic.Login(bob, h.Pass[bob]).Wait(); err != nil {
		b.Fatal(err)
	}
	if _, err := ic.Select("INBOX", nil).Wait(); err != nil {
		b.Fatal(err)
	}
	idle, err := ic.Idle()
	if err != nil {
		b.Fatal(err)
	}
	defer idle.Close()

	sc, err := smtp.Dial(h.addr("plain_submission"))
	if err != nil {
		b.Fatal(err)
	}
	defer sc.Close()
	if err := sc.Auth(sasl.NewPlainClient("", alice, h.Pass[alice])); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		msg := message(alice, bob, fmt.Sprintf("p%d", i))
		start := time.Now()
		if err := sc.SendMail(alice, []string{bob}, bytes.NewReader(msg)); err != nil {
			b.Fatal(err)
		}
		for n := uint32(0); n < uint32(i+1); {
			select {
			case n = <-exists:
			case <-time.After(10 * time.Second):
				b.Fatalf("message %d: no EXISTS pushed within 10 s", i+1)
			}
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
}
