package thing_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/thingpost/thingpost/internal/testutil"
	"github.com/thingpost/thingpost/thing"
	"github.com/thingpost/thingpost/transport"
)

// startQuarantineHome runs a light on a fresh node with the quarantine
// bounded by keep, on clk, the watcher re-checking every 100 ms.
func startQuarantineHome(t *testing.T, keep thing.QuarantineLimits, clk *testutil.Clock) *home {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	dir := t.TempDir()
	node := startNodeOnly(t, ctx, dir)
	acct, err := node.AddAccount(ctx, "light")
	if err != nil {
		t.Fatal(err)
	}
	h := &home{t: t, ctx: ctx, node: node, acct: acct, dir: filepath.Join(dir, "light"), log: testLogger(t)}
	if _, err := thing.Init(h.dir, acct.Address, "Test light"); err != nil {
		t.Fatal(err)
	}
	runQuarantined(h, keep, clk)
	return h
}

// runQuarantined (re)starts h's light with keep and clk.
func runQuarantined(h *home, keep thing.QuarantineLimits, clk *testutil.Clock) {
	h.t.Helper()
	w := fastWatch()
	w.IdleRefresh = 100 * time.Millisecond
	a, err := thing.Open(thing.Config{DataDir: h.dir, Kind: "light", Account: h.acct, Processed: thing.DefaultProcessed,
		QuarantineKeep: keep, Watch: w, Logger: h.log, Now: clk.Now})
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, stop := context.WithCancel(h.ctx)
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	h.agent = a
	h.stop = func() { stop(); <-done; a.Close() }
	h.t.Cleanup(h.stop)
}

// waitFor polls ok for up to 20 seconds.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 20s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func storeSize(t *testing.T, h *home) int64 {
	t.Helper()
	fi, err := os.Stat(filepath.Join(h.dir, thing.StoreFile))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestQuarantineFlood is the disk fill of issue 15 at a small scale:
// anyone floods the thing's address with unsigned mail through the node's
// MX. The quarantine keeps only the newest few, the count says how many
// came, and the thing's own store does not grow with them.
func TestQuarantineFlood(t *testing.T) {
	t.Parallel()
	const flood, limit = 60, 5
	h := startQuarantineHome(t, thing.QuarantineLimits{Messages: limit}, &testutil.Clock{})
	lampAddr := h.acct.Address
	lampKey := h.agent.Identity().Entity()
	mail := func() []byte {
		return craft(t, "mallory@evil.test", innerCommand("mallory@evil.test", lampAddr, "off", time.Now()), nil, lampKey)
	}
	// The first few settle the store's size: the mailbox position is
	// written once the watcher is up.
	for range limit {
		inject(t, h, mail(), lampAddr)
	}
	waitFor(t, "first messages quarantined", func() bool { return quarantined(t, h) >= limit })
	before := storeSize(t, h)
	for range flood - limit {
		inject(t, h, mail(), lampAddr)
	}
	waitFor(t, "flood handled", func() bool { return len(testutil.Inbox(t, h.node.Node().Store(), h.acct.Address)) == 0 })
	if counts, err := h.agent.Store().Quarantined(); err != nil || counts["unsigned"] != flood || len(counts) != 1 {
		t.Errorf("counted %v, %v; want %d unsigned", counts, err, flood)
	}
	// The trim runs after the batch that went over the limit.
	deadline := time.Now().Add(10 * time.Second)
	for quarantined(t, h) > limit && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := quarantined(t, h); n > limit || n < limit-limit/8 {
		t.Errorf("quarantine holds %d messages, want the newest %d", n, limit)
	}
	after := storeSize(t, h)
	t.Logf("%s: %d bytes before, %d after %d refused messages", thing.StoreFile, before, after, flood-limit)
	if after > before {
		t.Errorf("%s grew from %d to %d bytes with %d refused messages", thing.StoreFile, before, after, flood-limit)
	}
	// The owner's status tells the count.
	owner := newPerson(t, h, "alice")
	inv, _ := h.agent.FactoryInvite()
	owner.pair(inv.URL())
	if m, _ := owner.do("status"); !strings.Contains(m.Text, fmt.Sprintf("Refused mail: %d (unsigned %d)", flood, flood)) {
		t.Errorf("the owner's status says %q", m.Text)
	}
}

// TestQuarantineExpiry: a sample older than the limit's age is removed,
// one found at the thing's start and one that ages while the thing runs,
// without any new mail; a newer one stays until its time.
func TestQuarantineExpiry(t *testing.T) {
	t.Parallel()
	clk := &testutil.Clock{}
	keep := thing.QuarantineLimits{Age: time.Hour}
	h := startQuarantineHome(t, keep, clk)
	lampAddr := h.acct.Address
	inject(t, h, craft(t, "mallory@evil.test", innerCommand("mallory@evil.test", lampAddr, "off", time.Now()), nil, h.agent.Identity().Entity()), lampAddr)
	waitQuarantined(t, h, 1)
	// A sample quarantined two hours ago, which the thing finds when it
	// starts again.
	h.stop()
	st := h.node.Node().Store()
	if _, _, err := st.Append(h.ctx, lampAddr, "Quarantine", []byte("Subject: old\r\n\r\nold\r\n"), nil, time.Now().Add(-2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	runQuarantined(h, keep, clk)
	waitFor(t, "the old sample removed", func() bool { return quarantined(t, h) == 1 })
	if dates := quarantineDates(t, h, h.acct.Address); time.Since(dates[0]) > time.Minute {
		t.Fatalf("the quarantine keeps the sample of %v", dates[0])
	}
	// An hour later the other one expires too, with no mail coming.
	clk.Advance(time.Hour + time.Minute)
	waitFor(t, "the aged sample removed", func() bool { return quarantined(t, h) == 0 })
}

// quarantineDates are the arrival times of the messages in h's quarantine.
func quarantineDates(t testing.TB, h *home, addr string) []time.Time {
	t.Helper()
	st := h.node.Node().Store()
	boxes, err := st.Mailboxes(h.ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	var out []time.Time
	for _, b := range boxes {
		if b.Name == "Quarantine" {
			msgs, err := st.Messages(h.ctx, addr, b.ID, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				out = append(out, m.InternalDate)
			}
		}
	}
	return out
}

// TestQuarantineConfig: the written thing.toml carries the defaults, and
// LoadConfig refuses limits and folders that cannot be trimmed safely.
func TestQuarantineConfig(t *testing.T) {
	dir := t.TempDir()
	f := &thing.File{Name: "Lamp", Kind: "light", Addr: "lamp@home.test", Processed: thing.DefaultProcessed, Quarantine: thing.DefaultQuarantine}
	f.Mail.IMAP, f.Mail.SMTP, f.Mail.Security, f.Mail.Password = "127.0.0.1:143", "127.0.0.1:587", "plain", "secret"
	if err := thing.WriteConfig(dir, f); err != nil {
		t.Fatal(err)
	}
	cfg, err := thing.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := thing.QuarantineLimits{Messages: thing.DefaultQuarantineMessages, Bytes: thing.DefaultQuarantineBytes, Age: thing.DefaultQuarantineAge}
	if cfg.QuarantineKeep != want {
		t.Errorf("written limits %+v, want the defaults %+v", cfg.QuarantineKeep, want)
	}
	path := filepath.Join(dir, thing.ConfigFile)
	written, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ from, to, want string }{
		{"quarantine_max_messages = 100", "quarantine_max_messages = -1", "must not be negative"},
		{"quarantine_max_bytes = 8388608", "quarantine_max_bytes = -1", "must not be negative"},
		{`quarantine_max_age = "720h"`, `quarantine_max_age = "-1h"`, "must not be negative"},
		{`quarantine_folder = "Quarantine"`, `quarantine_folder = "inbox"`, "neither INBOX nor the processed folder"},
		{`quarantine_folder = "Quarantine"`, `quarantine_folder = "Processed"`, "neither INBOX nor the processed folder"},
	} {
		changed := strings.Replace(string(written), tc.from, tc.to, 1)
		if changed == string(written) {
			t.Fatalf("%q is not in the written file", tc.from)
		}
		if err := os.WriteFile(path, []byte(changed), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := thing.LoadConfig(dir); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.to, err, tc.want)
		}
	}
}

// BenchmarkUnsignedFlood is what one message of an unsigned flood costs
// the thing inside: parse and decrypt, the refusal, the count, and the
// watcher's record of the mailbox position (one fsynced write, with the
// count). The IMAP move and the trim are outside the measurement.
func BenchmarkUnsignedFlood(b *testing.B) {
	dir := b.TempDir()
	lampAddr := "lamp@home.test"
	if _, err := thing.Init(dir, lampAddr, "Lamp"); err != nil {
		b.Fatal(err)
	}
	a, err := thing.Open(thing.Config{DataDir: dir, Kind: "light", Logger: testLogger(b), Account: transport.Account{Address: lampAddr}})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	raw := craft(b, "mallory@evil.test", innerCommand("mallory@evil.test", lampAddr, "off", time.Now()), nil, a.Identity().Entity())
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		uid := uint32(i + 1)
		d, err := a.Handle(ctx, transport.Msg{UIDValidity: 1, UID: uid, Size: int64(len(raw)), Raw: raw})
		if err != nil || d.String() != transport.Move(thing.DefaultQuarantine).String() {
			b.Fatalf("message %d: %v, %v", i, d, err)
		}
		if err := a.Store().SaveState(ctx, transport.State{UIDValidity: 1, LastUID: uid}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if counts, err := a.Store().Quarantined(); err != nil || counts["unsigned"] != uint64(b.N) {
		b.Fatalf("counted %v, %v; want %d", counts, err, b.N)
	}
	fi, err := os.Stat(filepath.Join(dir, thing.StoreFile))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(fi.Size()), "store-bytes")
	b.ReportMetric(float64(len(raw)), "msg-bytes")
}
