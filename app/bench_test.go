package app_test

import (
	"slices"
	"testing"
	"time"

	"github.com/thingpost/thingpost/app"
	"github.com/thingpost/thingpost/demo"
)

// reportLatency adds p50 and p99 of the samples as metrics.
func reportLatency(b *testing.B, samples []time.Duration) {
	if len(samples) == 0 {
		return
	}
	slices.Sort(samples)
	q := func(p float64) float64 {
		return float64(samples[min(len(samples)-1, int(p*float64(len(samples))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(samples[len(samples)-1].Microseconds())/1000, "max-ms")
}

// BenchmarkCommandRoundTrip: app -> homenode -> thing -> homenode -> app,
// with sealing, opening and every fsync on the way (the app's outbox and
// history, the node's store, the thing's journal), on loopback.
func BenchmarkCommandRoundTrip(b *testing.B) { benchRoundTrip(b, 0) }

// BenchmarkCommandRoundTripIdle is the round trip of a command sent while
// the app is idle, as when a person taps a switch: between commands,
// outside the timer, the app rests a moment. Back to back
// (BenchmarkCommandRoundTrip), a command's durable outbox write may queue
// behind the previous round's writes: bbolt has one writer.
func BenchmarkCommandRoundTripIdle(b *testing.B) { benchRoundTrip(b, 2*time.Millisecond) }

// benchRoundTrip toggles the demo's light, resting between commands
// outside the timer.
func benchRoundTrip(b *testing.B, rest time.Duration) {
	ctx := testCtx(b)
	d := startDemo(b, demo.Options{Rate: 1 << 20, Burst: 1 << 20})
	a := person(b, "Alice", d.Person, app.Options{})
	th, err := a.PairImage(ctx, d.Thing("light").QR)
	if err != nil {
		b.Fatal(err)
	}
	samples := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		if _, err := do(ctx, a, th.ID, "toggle"); err != nil {
			b.Fatal(err)
		}
		samples = append(samples, time.Since(start))
		if rest > 0 {
			b.StopTimer()
			time.Sleep(rest)
			b.StartTimer()
		}
	}
	b.StopTimer()
	reportLatency(b, samples)
}

// BenchmarkScanToFirstReply: from the bytes of a QR image to the thing's
// first verified reply (decode, Securejoin v3, describe) on the demo home.
// Between rounds the owner removes the thing, which returns it to its
// factory state, outside the timer.
func BenchmarkScanToFirstReply(b *testing.B) {
	ctx := testCtx(b)
	d := startDemo(b, demo.Options{Rate: 1 << 20, Burst: 1 << 20})
	a := person(b, "Alice", d.Person, app.Options{})
	qr := d.Thing("light").QR
	samples := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		th, err := a.PairImage(ctx, qr)
		if err != nil {
			b.Fatal(err)
		}
		samples = append(samples, time.Since(start))
		b.StopTimer()
		if err := a.Remove(ctx, th.ID, false); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	reportLatency(b, samples)
}
