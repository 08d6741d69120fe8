package thing_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
	"github.com/emersion/go-smtp"

	"github.com/thingpost/thingpost/envelope"
	"github.com/thingpost/thingpost/keystore"
	"github.com/thingpost/thingpost/thing"
	"github.com/thingpost/thingpost/thing/driver"
	"github.com/thingpost/thingpost/wire"
)

// recorder is a slog handler that keeps the records, so a test can check
// the reason a message was quarantined.
type recorder struct {
	mu   *sync.Mutex
	recs *[]string
	next slog.Handler
}

func newRecorder(next slog.Handler) *recorder {
	return &recorder{mu: &sync.Mutex{}, recs: new([]string), next: next}
}

// recordLogs restarts h's thing of kind with its log also going to the
// returned recorder.
func (h *home) recordLogs(kind string) *recorder {
	h.t.Helper()
	rec := newRecorder(h.log.Handler())
	h.stop()
	h.log = slog.New(rec)
	h.run(kind)
	return rec
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(ctx context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Message)
	rec.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
	r.mu.Lock()
	*r.recs = append(*r.recs, b.String())
	r.mu.Unlock()
	if r.next.Enabled(ctx, rec.Level) {
		return r.next.Handle(ctx, rec)
	}
	return nil
}
func (r *recorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &recorder{mu: r.mu, recs: r.recs, next: r.next.WithAttrs(as)}
}
func (r *recorder) WithGroup(g string) slog.Handler {
	return &recorder{mu: r.mu, recs: r.recs, next: r.next.WithGroup(g)}
}

// waitLog waits for a log line containing all of want.
func (r *recorder) waitLog(t testing.TB, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		for _, l := range *r.recs {
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(l, w)
			}
			if ok {
				r.mu.Unlock()
				return l
			}
		}
		r.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no log line with %q", want)
	return ""
}

// quarantined counts the messages in the thing's quarantine folder.
func quarantined(t testing.TB, h *home) int {
	t.Helper()
	return quarantinedAt(t, h, h.acct.Address)
}

// quarantinedAt counts the messages in the quarantine folder of the thing
// with address addr on h's node.
func quarantinedAt(t testing.TB, h *home, addr string) int {
	t.Helper()
	return len(quarantineDates(t, h, addr))
}

// waitQuarantined waits until the quarantine holds want messages.
func waitQuarantined(t testing.TB, h *home, want int) {
	t.Helper()
	waitQuarantinedAt(t, h, h.acct.Address, want)
}

// waitQuarantinedAt waits until the quarantine of the thing with address
// addr holds want messages.
func waitQuarantinedAt(t testing.TB, h *home, addr string, want int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for quarantinedAt(t, h, addr) < want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := quarantinedAt(t, h, addr); n != want {
		t.Fatalf("quarantine of %s holds %d messages, want %d", addr, n, want)
	}
}

// craft builds a PGP/MIME message by hand: inner is the MIME entity to
// encrypt; signer may be nil (unsigned).
func craft(t testing.TB, from string, inner string, signer *openpgp.Entity, to ...*openpgp.Entity) []byte {
	t.Helper()
	var bin bytes.Buffer
	var signers []*openpgp.Entity
	if signer != nil {
		signers = []*openpgp.Entity{signer}
	}
	w, err := openpgp.EncryptWithParams(&bin, to, nil, &openpgp.EncryptParams{Signers: signers, Config: keystore.Config(nil)})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(strings.ReplaceAll(inner, "\n", "\r\n")))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var arm bytes.Buffer
	aw, _ := armor.Encode(&arm, "PGP MESSAGE", nil)
	aw.Write(bin.Bytes())
	aw.Close()
	return []byte(fmt.Sprintf("From: <%s>\r\nTo: \"hidden-recipients\": ;\r\nSubject: [...]\r\nDate: %s\r\nMessage-ID: <%d@x>\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"B\"\r\n\r\n"+
		"--B\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n--B\r\nContent-Type: application/octet-stream\r\n\r\n%s\r\n--B--\r\n",
		from, time.Now().UTC().Format(time.RFC1123Z), time.Now().UnixNano(), arm.String()))
}

func innerCommand(from, to, text string, date time.Time) string {
	return fmt.Sprintf("Content-Type: text/plain; charset=utf-8; protected-headers=\"v1\"\nFrom: <%s>\nTo: <%s>\nSubject: cmd\nDate: %s\nMessage-ID: <%d@attack>\n\n%s\n",
		from, to, date.UTC().Format(time.RFC1123Z), time.Now().UnixNano(), text)
}

// TestAttacks submits hostile mail over SMTP. For each: nothing executed,
// the lamp's state unchanged, no answer, the mail in quarantine, the reason
// logged.
func TestAttacks(t *testing.T) {
	t.Parallel()
	h := startHome(t, "light")
	rec := h.recordLogs("light")

	alice := newPerson(t, h, "alice")
	inv, _ := h.agent.FactoryInvite()
	alice.pair(inv.URL())
	bob := newPerson(t, h, "bob")
	_, r := alice.do("invite")
	bob.pair(r.Invite.URL)
	mallory := newPerson(t, h, "mallory")
	mallory.thing = alice.thing
	lampAddr := alice.thing.Addr()
	lampKey := alice.thing.Entity()

	// A captured valid command, already executed once.
	captured := alice.command("on", false)
	alice.send(captured.Raw, lampAddr)
	alice.open(alice.next("reply to on"))
	if !power(t, h.agent) {
		t.Fatal("setup: lamp not on")
	}
	// A second lamp on the same node, which alice owns too.
	lampB := startSecondThing(t, h, "lampb")
	alice.thing = lampB.Identity().Public()
	invB, _ := lampB.FactoryInvite()
	alice.pair(invB.URL())
	forB := alice.command("off", false)
	alice.thing = h.agent.Identity().Public()

	old := alice.command("off", false)
	// Signed now, but its protected Date is an hour old.
	stale := craft(t, alice.id.Addr(), innerCommand(alice.id.Addr(), lampAddr, "off", time.Now().Add(-time.Hour)), alice.id.Entity(), lampKey, alice.id.Entity())
	tampered := append([]byte(nil), old.Raw...)
	i := bytes.Index(tampered, []byte("-----BEGIN PGP MESSAGE-----")) + 200
	tampered[i] ^= 0x01

	cases := []struct {
		name   string
		raw    []byte
		reason string
	}{
		{"unsigned", craft(t, alice.id.Addr(), innerCommand(alice.id.Addr(), lampAddr, "off", time.Now()), nil, lampKey), "unsigned"},
		{"unknown signer", func() []byte { s := mallory.command("off", false); return s.Raw }(), "unknown"},
		{"forged From with a trusted key", craft(t, alice.id.Addr(), innerCommand(alice.id.Addr(), lampAddr, "off", time.Now()), bob.id.Entity(), lampKey), "authenticated"},
		{"replay of a captured command", captured.Raw, "replayed"},
		{"command for lamp B sent to lamp A", forB.Raw, "cannot decrypt"},
		{"outside the window", stale, "replay guard"},
		{"tampered", tampered, "reason="},
		{"malformed MIME", []byte("From: <mallory@home.test>\r\nContent-Type: multipart/encrypted; boundary=\"x\r\n\r\n--x\r\ngarbage"), "authenticated"},
		{"oversized", append([]byte("From: <mallory@home.test>\r\nSubject: big\r\n\r\n"), bytes.Repeat([]byte(strings.Repeat("A", 76)+"\r\n"), 1<<20/78+10)...), "too large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := quarantined(t, h)
			inject(t, h, tc.raw, lampAddr)
			waitQuarantined(t, h, before+1)
			rec.waitLog(t, "quarantined", tc.reason)
			if !power(t, h.agent) {
				t.Fatal("the lamp was switched off")
			}
		})
	}
	alice.expectNothing(time.Second)
	bob.expectNothing(0)
	mallory.expectNothing(0)
}

// startSecondThing runs another light on h's node.
func startSecondThing(t testing.TB, h *home, local string) *thing.Agent {
	t.Helper()
	acct, err := h.node.AddAccount(h.ctx, local)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), local)
	if _, err := thing.Init(dir, acct.Address, local); err != nil {
		t.Fatal(err)
	}
	a, err := thing.Open(thing.Config{DataDir: dir, Name: local, Kind: "light", Account: acct, AuthservID: h.authservID, Watch: fastWatch(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; a.Close() })
	return a
}

// inject puts raw into to's INBOX on the node, as a mail server that takes
// any sender from anywhere would deliver it. The node's own MX refuses mail
// from outside that claims one of its addresses (see homenode/smtpd); a
// thing must hold on servers that do not, so the forgeries go in here.
func inject(t testing.TB, h *home, raw []byte, to string) {
	t.Helper()
	if err := h.node.Node().Store().Deliver(h.ctx, []string{to}, raw); err != nil {
		t.Fatalf("inject: %v", err)
	}
}

// injectMX hands raw to the node's MX from outside, over SMTP.
func injectMX(t testing.TB, h *home, raw []byte, to string) {
	t.Helper()
	c, err := smtp.Dial(h.node.SMTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendMail("mallory@evil.test", []string{to}, bytes.NewReader(raw)); err != nil {
		t.Fatalf("inject: %v", err)
	}
}

// TestExecArgumentAttack: the owner's own exec thing gets arguments full of
// shell metacharacters, in the text and in the machine form. Nothing runs,
// no file appears, the mail is quarantined with the reason, and the owner
// is told why.
func TestExecArgumentAttack(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	ledger := filepath.Join(tmp, "ledger")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dev := driver.Config{Exec: driver.ExecConfig{Commands: []driver.ExecCommand{{
		Name: "say", Program: self, Dir: tmp,
		Args: []driver.ExecArg{{Name: "word", Type: "string", Pattern: "^[a-z]{1,16}$"}},
		Argv: []string{"{word}"}, Env: []string{appendEnv + "=" + ledger},
	}}}}
	h := startHomeWith(t, "exec", dev)
	rec := h.recordLogs("exec")
	owner := newPerson(t, h, "alice")
	inv, _ := h.agent.FactoryInvite()
	owner.pair(inv.URL())

	if _, r := owner.do("say hello"); !r.OK {
		t.Fatalf("a clean argument was refused: %+v", r)
	}
	waitLedger(t, ledger, "hello")
	payloads := []string{
		"; touch " + filepath.Join(tmp, "pwned1"),
		"$(touch " + filepath.Join(tmp, "pwned2") + ")",
		"`touch " + filepath.Join(tmp, "pwned3") + "`",
		"a|b&c>d<e",
		"x' \"$HOME\" && id",
	}
	for _, p := range payloads {
		t.Run(p, func(t *testing.T) {
			before, sent := quarantined(t, h), 0
			for _, machine := range []bool{false, true} {
				var s *envelope.Sealed
				if machine {
					// The machine form carries the argument as one string.
					cmd := wire.Command{Name: "say", Args: []string{p}}
					v, err := wire.Encode(wire.Message{Version: wire.Version, Command: &cmd})
					if err != nil {
						// The wire encoder itself refuses it: nothing to send.
						continue
					}
					s, err = envelope.Seal(context.Background(), &envelope.Draft{From: owner.id, To: []*keystore.PublicKey{owner.thing},
						Text: "say " + p, Headers: []envelope.Field{{Name: wire.HeaderName, Value: v}}})
					if err != nil {
						t.Fatal(err)
					}
				} else {
					s = owner.command("say "+p, false)
				}
				owner.send(s.Raw, owner.thing.Addr())
				sent++
				m := owner.open(owner.next("refusal"))
				wm, err := wire.Decode(m.Header.Get(wire.HeaderName))
				if err != nil || wm.Reply == nil || wm.Reply.OK {
					t.Fatalf("metacharacters accepted: %+v %v", wm.Reply, err)
				}
			}
			// The reply is sent before the watcher moves the mail aside.
			waitQuarantined(t, h, before+sent)
			rec.waitLog(t, "quarantined", "command refused")
		})
	}
	b, _ := os.ReadFile(ledger)
	if string(b) != "hello\n" {
		t.Fatalf("the program ran with %q", b)
	}
	for _, f := range []string{"pwned1", "pwned2", "pwned3"} {
		if _, err := os.Stat(filepath.Join(tmp, f)); err == nil {
			t.Fatalf("%s exists: a shell ran", f)
		}
	}
}
