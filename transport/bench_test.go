package transport

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

func benchMessage(i, size int) []byte {
	head := fmt.Sprintf("From: <lamp@home.test>\r\nTo: <lamp@home.test>\r\nSubject: bench %d\r\nMessage-ID: <b%d.%d@home.test>\r\n\r\n", i, i, time.Now().UnixNano())
	body := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/\r\n"), size/66+1)
	return append([]byte(head), body[:size-len(head)]...)
}

// benchHomes are the servers the benchmarks run against.
func forEachBenchHome(b *testing.B, f func(b *testing.B, h testHome)) {
	for _, k := range homes {
		for _, sec := range []Security{SecurityTLS, SecurityPlain} {
			b.Run(k.name+"/"+string(sec), func(b *testing.B) { f(b, k.new(b, sec)) })
		}
	}
}

// timeSends times b.N calls of send, each of a message of size bytes, and
// reports ms/op as well.
func timeSends(b *testing.B, size int, send func() error) {
	b.SetBytes(int64(size))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := send(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
}

// BenchmarkSend4KiB: one Send (connect, TLS, AUTH, MAIL, RCPT, DATA, QUIT)
// of a 4 KiB message over loopback.
func BenchmarkSend4KiB(b *testing.B) {
	forEachBenchHome(b, func(b *testing.B, h testHome) {
		a := h.account()
		msg := benchMessage(0, 4096)
		ctx := context.Background()
		timeSends(b, len(msg), func() error { return Send(ctx, a, a.Address, []string{a.Address}, msg) })
	})
}

// BenchmarkSenderReuse4KiB: the same over a Sender's kept connection
// (RSET, MAIL, RCPT, DATA): what thingd and the app pay per message.
func BenchmarkSenderReuse4KiB(b *testing.B) {
	forEachBenchHome(b, func(b *testing.B, h testHome) {
		a := h.account()
		s, err := NewSender(a)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		msg := benchMessage(0, 4096)
		ctx := context.Background()
		send := func() error { return s.Send(ctx, a.Address, []string{a.Address}, msg) }
		if err := send(); err != nil {
			b.Fatal(err)
		}
		timeSends(b, len(msg), send)
	})
}

// BenchmarkDeliveryLatency: Sender.Send is called -> the watcher's handler
// is called with the message (SMTP submission over a kept connection, the
// server's durable delivery, the IDLE push, UID FETCH, download).
// Reported as p50/p99 in ms; the disposition is Delete, as thingd's would
// be, and is applied before the next message is sent.
func BenchmarkDeliveryLatency(b *testing.B) {
	forEachBenchHome(b, func(b *testing.B, h testHome) {
		a := h.account()
		type arrival struct {
			at  time.Time
			uid uint32
		}
		got := make(chan arrival, 1)
		store := &MemoryState{}
		handler := func(_ context.Context, m Msg) (Disposition, error) {
			got <- arrival{time.Now(), m.UID}
			return Delete(), nil
		}
		o := WatchOptions{Logger: testLogger(b), CommandTimeout: 10 * time.Second, IdleRefresh: time.Minute}
		stop := startWatch(b, a, store, handler, o)
		defer stop()
		ctx := context.Background()
		s, err := NewSender(a)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			msg := benchMessage(i, 1024)
			sent := time.Now()
			if err := s.Send(ctx, a.Address, []string{a.Address}, msg); err != nil {
				b.Fatal(err)
			}
			select {
			case r := <-got:
				lat = append(lat, r.at.Sub(sent))
				b.StopTimer()
				waitSaved(b, store, r.uid)
				b.StartTimer()
			case <-time.After(30 * time.Second):
				b.Fatalf("message %d not delivered within 30 s", i)
			}
		}
		b.StopTimer()
		slices.Sort(lat)
		ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
		b.ReportMetric(ms(0.5), "p50-ms")
		b.ReportMetric(ms(0.99), "p99-ms")
		b.ReportMetric(0, "ns/op")
	})
}
