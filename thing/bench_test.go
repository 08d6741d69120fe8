package thing_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/thingpost/thingpost/envelope"
	"github.com/thingpost/thingpost/keystore"
	"github.com/thingpost/thingpost/thing"
	"github.com/thingpost/thingpost/transport"
	"github.com/thingpost/thingpost/wire"
)

// BenchmarkCommandToSealedReply measures what thingd does for one command
// inside: open (decrypt, verify), the trust checks, the replay record
// (fsynced), the device, the sealed reply and its durable queueing. The
// mail transport is outside the measurement.
func BenchmarkCommandToSealedReply(b *testing.B) {
	dir := b.TempDir()
	lampAddr := "lamp@home.test"
	if _, err := thing.Init(dir, lampAddr, "Lamp"); err != nil {
		b.Fatal(err)
	}
	a, err := thing.Open(thing.Config{DataDir: dir, Kind: "light", Logger: testLogger(b), Rate: 1 << 30, Burst: 1 << 30,
		Account: transport.Account{Address: lampAddr}})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	owner, err := keystore.New("alice@home.test", "")
	if err != nil {
		b.Fatal(err)
	}
	inv, err := a.FactoryInvite()
	if err != nil {
		b.Fatal(err)
	}
	if _, err := a.Store().Grant(inv.Auth, owner.Public(), time.Now(), true); err != nil {
		b.Fatal(err)
	}
	cmd := wire.Command{Name: "toggle"}
	v, err := wire.Encode(wire.Message{Version: wire.Version, Command: &cmd})
	if err != nil {
		b.Fatal(err)
	}
	msgs := make([][]byte, b.N)
	for i := range msgs {
		s, err := envelope.Seal(context.Background(), &envelope.Draft{From: owner, To: []*keystore.PublicKey{a.Identity().Public()},
			Text: "toggle", Headers: []envelope.Field{{Name: wire.HeaderName, Value: v}}})
		if err != nil {
			b.Fatal(err)
		}
		msgs[i] = s.Raw
	}
	ctx := context.Background()
	took := make([]time.Duration, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		d, err := a.Handle(ctx, transport.Msg{UIDValidity: 1, UID: uint32(i + 1), Size: int64(len(msgs[i])), Raw: msgs[i]})
		took[i] = time.Since(start)
		if err != nil || d.String() != transport.Delete().String() {
			b.Fatalf("command %d: %v, %v", i, d, err)
		}
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
}
