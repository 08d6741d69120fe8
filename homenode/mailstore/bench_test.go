package mailstore

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"
)

// A typical Delta Chat message: about 4 KiB of armored PGP/MIME.
var benchMessage = append([]byte("From: a@example.net\r\nTo: b@example.org\r\nSubject: [...]\r\n\r\n"),
	bytes.Repeat([]byte("wcFMA1234567890abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/=\r\n"), 56)...)

// BenchmarkDeliver: one fsynced delivery at a time.
func BenchmarkDeliver(b *testing.B) {
	s, _ := openTemp(b)
	mustAddUser(b, s, "b@example.org")
	ctx := context.Background()
	b.SetBytes(int64(len(benchMessage)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Deliver(ctx, []string{"b@example.org"}, benchMessage); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkDeliverParallel: 8 concurrent deliverers (like 8 SMTP clients);
// group commit lets them share fsyncs.
func BenchmarkDeliverParallel(b *testing.B) {
	s, _ := openTemp(b)
	users := []string{"a@example.org", "b@example.org", "c@example.org", "d@example.org"}
	for _, u := range users {
		mustAddUser(b, s, u)
	}
	ctx := context.Background()
	b.SetBytes(int64(len(benchMessage)))
	b.SetParallelism(8) // 8 x GOMAXPROCS goroutines; at least 8 clients
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if err := s.Deliver(ctx, []string{users[i%len(users)]}, benchMessage); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkDeliverLatency: time from Deliver until a watcher has the change,
// which is what an idling IMAP session waits for.
func BenchmarkDeliverLatency(b *testing.B) {
	s, _ := openTemp(b)
	mustAddUser(b, s, "b@example.org")
	ctx := context.Background()
	heard := make(chan struct{}, 1)
	w, _, err := s.Watch(ctx, "b@example.org", Inbox, func([]Change) { heard <- struct{}{} })
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := s.Deliver(ctx, []string{"b@example.org"}, benchMessage); err != nil {
			b.Fatal(err)
		}
		<-heard
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

func FuzzDecodeMeta(f *testing.F) {
	m := msgMeta{flags: flagSet{sys: 5, keywords: []string{"$Work", "x"}}, date: time.Now().UnixNano(), size: 1234}
	f.Add(m.encode())
	f.Add([]byte{1, 0, 0, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err != nil {
			return
		}
		// What decodes re-encodes to the same bytes, bar unknown flag bits.
		again, err := decodeMeta(m.encode())
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !again.flags.equal(&m.flags) || again.date != m.date || again.size != m.size {
			t.Fatalf("round trip changed %+v to %+v", m, again)
		}
	})
}
