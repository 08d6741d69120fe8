package e2e

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
