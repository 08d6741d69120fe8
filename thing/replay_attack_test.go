package thing_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/thingpost/thingpost/envelope"
	"github.com/thingpost/thingpost/internal/testutil"
	"github.com/thingpost/thingpost/keystore"
	"github.com/thingpost/thingpost/thing"
	"github.com/thingpost/thingpost/wire"
)

// clock is a thing's clock that a test moves forward.
type clock struct{ ahead atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.ahead.Load())) }
func (c *clock) advance(d time.Duration) { c.ahead.Add(int64(d)) }
func (c *clock) reset()                  { c.ahead.Store(0) }
func (c *clock) tune(cfg *thing.Config)  { cfg.Now = c.Now }

// legacyText is what a legacy client signs: a plain text part without
// protected headers.
func legacyText(text string) string {
	return "Content-Type: text/plain; charset=utf-8\n\n" + text + "\n"
}

// armoredPart is the OpenPGP payload of a PGP/MIME message.
func armoredPart(t testing.TB, raw []byte) []byte {
	t.Helper()
	i := bytes.Index(raw, []byte("-----BEGIN PGP MESSAGE-----"))
	j := bytes.Index(raw, []byte("-----END PGP MESSAGE-----"))
	if i < 0 || j < i {
		t.Fatalf("no armored payload in %.200s", raw)
	}
	return raw[i : j+len("-----END PGP MESSAGE-----")]
}

// outerMail wraps an armored payload in fresh, unsigned outer headers, as
// an attacker who captured it writes them: any To, any Date, a new
// Message-ID.
func outerMail(from, to string, date time.Time, armored []byte) []byte {
	return []byte(fmt.Sprintf("From: <%s>\r\nTo: <%s>\r\nSubject: cmd\r\nDate: %s\r\nMessage-ID: <%d@outer.test>\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"B\"\r\n\r\n"+
		"--B\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n--B\r\nContent-Type: application/octet-stream\r\n\r\n%s\r\n--B--\r\n",
		from, to, date.UTC().Format(time.RFC1123Z), time.Now().UnixNano(), armored))
}

// gpgFor is a GnuPG home holding p's secret key and the public keys of
// things, as a person using GnuPG (Mutt, Emacs, a script) has.
func gpgFor(t testing.TB, p *person, things ...*keystore.PublicKey) *testutil.GPG {
	t.Helper()
	g := testutil.NewGPG(t, "--trust-model", "always")
	exp, err := p.id.ExportPrivate([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	g.Must([]byte(exp), "--passphrase", "pw", "--import")
	for _, k := range things {
		g.Must([]byte(k.Armor()), "--import")
	}
	return g
}

// gpgSignEncrypt is `gpg --sign --encrypt` of inner by p to the things.
func gpgSignEncrypt(t testing.TB, g *testutil.GPG, p *person, inner string, things ...*keystore.PublicKey) []byte {
	t.Helper()
	args := []string{"--passphrase", "pw", "--sign", "--encrypt", "--armor", "-u", "<" + p.id.Addr() + ">", "-r", "<" + p.id.Addr() + ">"}
	for _, k := range things {
		args = append(args, "-r", "<"+k.Addr()+">")
	}
	return g.Must([]byte(strings.ReplaceAll(inner, "\n", "\r\n")), args...)
}

// commandAt seals text from p to his thing with the protected Date and
// the signature time at date.
func (p *person) commandAt(text string, date time.Time) *envelope.Sealed {
	p.t.Helper()
	s, err := envelope.Seal(context.Background(), &envelope.Draft{From: p.id, To: []*keystore.PublicKey{p.thing}, Text: text, Date: date})
	if err != nil {
		p.t.Fatal(err)
	}
	return s
}

// doAt sends text dated date and returns the verified reply, read with the
// clock at date.
func (p *person) doAt(text string, date time.Time) wire.Reply {
	p.t.Helper()
	s := p.commandAt(text, date)
	p.send(s.Raw, p.thing.Addr())
	m := p.openAt(p.next("reply to "+text), date)
	if m.InReplyTo != s.MessageID {
		p.t.Fatalf("reply to %s is In-Reply-To %s", s.MessageID, m.InReplyTo)
	}
	wm, err := wire.Decode(m.Header.Get(wire.HeaderName))
	if err != nil || wm.Reply == nil {
		p.t.Fatalf("reply machine form: %v %+v", err, wm)
	}
	return *wm.Reply
}

// switchOff turns the lamp a off through its driver, so that every case
// starts from the same state.
func switchOff(t *testing.T, a *thing.Agent) {
	t.Helper()
	call, err := a.Device().Capabilities().Resolve(wire.Command{Name: "off"})
	if err == nil {
		_, err = a.Device().Do(context.Background(), call)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// refused switches the lamp a off, injects raw to it through the MX and
// checks that it is quarantined, with a new log line containing all of
// reason when rec is set, that the lamp stays off, and that none of quiet
// is answered.
func refused(t *testing.T, h *home, rec *recorder, a *thing.Agent, raw []byte, reason []string, quiet ...*person) {
	t.Helper()
	switchOff(t, a)
	addr := a.Identity().Addr()
	before, logs := quarantinedAt(t, h, addr), 0
	if rec != nil {
		logs = rec.count(reason...)
	}
	inject(t, h, raw, addr)
	deadline := time.Now().Add(20 * time.Second)
	for quarantinedAt(t, h, addr) == before && !power(t, a) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	for _, p := range quiet {
		for answered := true; answered; {
			select {
			case raw := <-p.inbox:
				t.Errorf("%s was answered: %.200q", p.id.Addr(), raw)
			case <-time.After(500 * time.Millisecond):
				answered = false
			}
		}
	}
	if power(t, a) {
		t.Fatal("executed: the lamp was switched on")
	}
	if n := quarantinedAt(t, h, addr); n != before+1 {
		t.Fatalf("quarantine of %s holds %d messages, want %d", addr, n, before+1)
	}
	for rec != nil && rec.count(reason...) == logs {
		if time.Now().After(deadline) {
			t.Fatalf("no new log line with %q", reason)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// count is the number of log lines containing all of want.
func (r *recorder) count(want ...string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, l := range *r.recs {
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(l, w)
		}
		if ok {
			n++
		}
	}
	return n
}

// clockedHome runs a light whose clock the test moves, with its log
// recorded, and pairs its owner alice with the factory code.
func clockedHome(t *testing.T) (*home, *clock, *recorder, *person) {
	t.Helper()
	h := startHome(t, "light")
	clk := &clock{}
	h.stop()
	h.tune = clk.tune
	rec := h.recordLogs("light")
	alice := newPerson(t, h, "alice")
	inv, _ := h.agent.FactoryInvite()
	alice.pair(inv.URL())
	return h, clk, rec, alice
}

// TestLegacyReplayAttacks: a legacy command (signed and encrypted, no
// protected headers) gets its replay identity, time and recipient from
// signed data only; the outer From, To, Date and Message-ID an attacker
// rewrites change nothing.
func TestLegacyReplayAttacks(t *testing.T) {
	t.Parallel()
	h, clk, rec, alice := clockedHome(t)
	lampA := alice.thing
	lampB := startSecondThing(t, h, "lampb")
	alice.thing = lampB.Identity().Public()
	invB, _ := lampB.FactoryInvite()
	alice.pair(invB.URL())
	alice.thing = lampA

	// A legacy command whose signature names its intended recipients (as
	// go-crypto, Sequoia and OpenPGP.js write it): accepted once.
	legacy := armoredPart(t, craft(t, alice.id.Addr(), legacyText("on"), alice.id.Entity(), lampA.Entity(), alice.id.Entity()))
	alice.send(outerMail(alice.id.Addr(), lampA.Addr(), time.Now(), legacy), lampA.Addr())
	m := alice.open(alice.next("reply to the legacy on"))
	if wm, err := wire.Decode(m.Header.Get(wire.HeaderName)); err != nil || wm.Reply == nil || !wm.Reply.OK || !power(t, h.agent) {
		t.Fatalf("legacy command with intended recipients not run: %+v %v", wm.Reply, err)
	}

	t.Run("replayed with a fresh Message-ID and Date", func(t *testing.T) {
		refused(t, h, rec, h.agent, outerMail(alice.id.Addr(), lampA.Addr(), clk.Now(), legacy), []string{"quarantined", "replayed"}, alice)
	})
	t.Run("replayed after the window", func(t *testing.T) {
		clk.advance(wire.DefaultWindow + time.Minute)
		refused(t, h, rec, h.agent, outerMail(alice.id.Addr(), lampA.Addr(), clk.Now(), legacy), []string{"quarantined", "replay guard", "outside the replay window"}, alice)
	})
	t.Run("protected Date fresh, signature outside the window", func(t *testing.T) {
		// Only the signer can write this, but the thing holds both times
		// to the window.
		raw := craft(t, alice.id.Addr(), innerCommand(alice.id.Addr(), lampA.Addr(), "on", clk.Now()), alice.id.Entity(), lampA.Entity(), alice.id.Entity())
		refused(t, h, rec, h.agent, raw, []string{"quarantined", "replay guard", "outside the replay window"}, alice)
	})
	clk.reset()

	// What GnuPG 2.2 writes: no intended recipient subpacket, so the
	// signature does not say which thing the command is for.
	g := gpgFor(t, alice, lampA, lampB.Identity().Public())
	gpgLegacy := gpgSignEncrypt(t, g, alice, legacyText("on"), lampA, lampB.Identity().Public())
	t.Run("re-addressed to a second thing", func(t *testing.T) {
		refused(t, h, nil, lampB, outerMail(alice.id.Addr(), lampB.Identity().Addr(), time.Now(), gpgLegacy), nil, alice)
	})
	t.Run("no intended recipient", func(t *testing.T) {
		refused(t, h, rec, h.agent, outerMail(alice.id.Addr(), lampA.Addr(), time.Now(), gpgLegacy), []string{"quarantined", "intended recipient"}, alice)
	})

	// GnuPG with the headers inside the signed part (protected headers)
	// keeps working.
	switchOff(t, h.agent)
	inner := fmt.Sprintf("Content-Type: text/plain; charset=utf-8; protected-headers=\"v1\"\nFrom: <%s>\nTo: <%s>\nSubject: cmd\nDate: %s\nMessage-ID: <%d@gpg.test>\n\non\n",
		alice.id.Addr(), lampA.Addr(), time.Now().UTC().Format(time.RFC1123Z), time.Now().UnixNano())
	alice.send(outerMail(alice.id.Addr(), lampA.Addr(), time.Now(), gpgSignEncrypt(t, g, alice, inner, lampA)), lampA.Addr())
	m = alice.open(alice.next("reply to gpg's on"))
	if wm, err := wire.Decode(m.Header.Get(wire.HeaderName)); err != nil || wm.Reply == nil || !wm.Reply.OK || !power(t, h.agent) {
		t.Fatalf("gpg command with protected headers not run: %+v %v", wm.Reply, err)
	}
}

// TestReplayDoesNotLockOutSender: copies of a captured command sent as
// fast as the MX takes them are refused without using up the rate limit of
// the person they imitate: his next fresh command runs.
func TestReplayDoesNotLockOutSender(t *testing.T) {
	t.Parallel()
	h := startHome(t, "light")
	h.stop()
	// One message a minute, three at once: the refill cannot hide a charge.
	h.tune = func(c *thing.Config) { c.Rate, c.Burst = 1, 3 }
	rec := h.recordLogs("light")
	alice := newPerson(t, h, "alice")
	inv, _ := h.agent.FactoryInvite()
	alice.pair(inv.URL())

	captured := alice.command("on", false)
	alice.send(captured.Raw, alice.thing.Addr())
	alice.next("reply to on")
	stale := craft(t, alice.id.Addr(), innerCommand(alice.id.Addr(), alice.thing.Addr(), "on", time.Now().Add(-time.Hour)), alice.id.Entity(), alice.thing.Entity(), alice.id.Entity())
	before := quarantined(t, h)
	for range 4 {
		inject(t, h, captured.Raw, alice.thing.Addr())
	}
	inject(t, h, stale, alice.thing.Addr())
	waitQuarantined(t, h, before+5)
	rec.waitLog(t, "quarantined", "replayed")
	alice.expectNothing(0)
	if _, r := alice.do("off"); !r.OK || power(t, h.agent) {
		t.Fatalf("the real sender's next command: %+v", r)
	}
}

// TestExpiredGuestLeaves: a guest whose access ended may still give it up
// with "leave"; every other command of his stays refused, unanswered.
func TestExpiredGuestLeaves(t *testing.T) {
	t.Parallel()
	h, clk, rec, owner := clockedHome(t)
	_, r := owner.do("invite guest 1h")
	guest := newPerson(t, h, "carol")
	guest.pair(r.Invite.URL)

	clk.advance(2 * time.Hour)
	before := quarantined(t, h)
	s := guest.commandAt("on", clk.Now())
	guest.send(s.Raw, guest.thing.Addr())
	waitQuarantined(t, h, before+1)
	rec.waitLog(t, "quarantined", "access expired")
	guest.expectNothing(500 * time.Millisecond)
	if power(t, h.agent) {
		t.Fatal("an expired guest switched the lamp on")
	}
	if r := guest.doAt("leave", clk.Now()); !r.OK {
		t.Fatalf("leave: %+v", r)
	}
	people, err := h.agent.Store().People()
	if err != nil || len(people) != 1 || people[0].Addr != owner.id.Addr() {
		t.Fatalf("people after the guest left: %+v %v", people, err)
	}
}
