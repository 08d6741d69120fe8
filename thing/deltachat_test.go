package thing_test

import (
	"context"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/thingpost/thingpost/internal/testutil"

	"github.com/thingpost/thingpost/internal/dcrpc"
	"github.com/thingpost/thingpost/thing"
	"github.com/thingpost/thingpost/transport"
)

// dcPeer is one Delta Chat core process with accounts on a test home.
type dcPeer struct {
	t   *testing.T
	ctx context.Context
	c   *dcrpc.Client
}

func startDeltaChat(t *testing.T, ctx context.Context) *dcPeer {
	t.Helper()
	var log testutil.SyncBuffer
	c, err := dcrpc.Start(dcrpc.BinaryForTest(t), t.TempDir(), &log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		if t.Failed() {
			t.Logf("Delta Chat events:\n%s", c.Recent(80))
		}
	})
	return &dcPeer{t: t, ctx: ctx, c: c}
}

// account configures a Delta Chat account for a homenode account (plain
// loopback IMAP and SMTP) and starts its I/O.
func (d *dcPeer) account(a transport.Account) uint32 {
	d.t.Helper()
	acc, err := d.c.AddAccount(d.ctx)
	if err != nil {
		d.t.Fatal(err)
	}
	ih, ip := hostPort(d.t, a.IMAP.HostPort)
	sh, sp := hostPort(d.t, a.SMTP.HostPort)
	err = d.c.AddTransport(d.ctx, acc, dcrpc.Transport{Addr: a.Address, Password: a.Password,
		IMAPServer: ih, IMAPPort: ip, IMAPSecurity: "plain", SMTPServer: sh, SMTPPort: sp, SMTPSecurity: "plain",
		CertificateChecks: "acceptInvalidCertificates"})
	if err != nil {
		d.t.Fatal(err)
	}
	mark := d.c.Mark()
	if err := d.c.StartIO(d.ctx, acc); err != nil {
		d.t.Fatal(err)
	}
	// Delta Chat fetches only mail that arrives after its first SELECT:
	// nothing may be sent to it before it idles.
	ctx, cancel := context.WithTimeout(d.ctx, time.Minute)
	defer cancel()
	if _, err := d.c.WaitEvent(ctx, mark, func(e dcrpc.Event) bool { return e.ContextID == acc && e.Kind == "ImapInboxIdle" }); err != nil {
		d.t.Fatalf("%s never reached IMAP IDLE: %v", a.Address, err)
	}
	return acc
}

func hostPort(t testing.TB, hp string) (string, int) {
	h, p, err := net.SplitHostPort(hp)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return h, n
}

// join scans code with acc and waits until the join completed.
func (d *dcPeer) join(acc uint32, code string) uint32 {
	d.t.Helper()
	mark := d.c.Mark()
	chat, err := d.c.SecureJoin(d.ctx, acc, code)
	if err != nil {
		d.t.Fatal(err)
	}
	_, err = d.c.WaitEvent(d.ctx, mark, func(e dcrpc.Event) bool {
		return e.ContextID == acc && e.Kind == "SecurejoinJoinerProgress" && e.Progress == 1000
	})
	if err != nil {
		d.t.Fatalf("join did not complete: %v", err)
	}
	return chat
}

// pairOwner has acc scan a's factory code, v3 or legacy, and waits for the
// encrypted welcome as owner; it returns the chat with the thing and the
// code scanned.
func (d *dcPeer) pairOwner(acc uint32, a *thing.Agent, v3 bool) (chat uint32, code string) {
	d.t.Helper()
	inv, err := a.FactoryInvite()
	if err != nil {
		d.t.Fatal(err)
	}
	inv.V3 = v3
	mark := d.c.Mark()
	chat = d.join(acc, inv.URL())
	if w := d.await(acc, mark, "You are my owner", 30*time.Second); !w.ShowPadlock {
		d.t.Error("welcome not shown as encrypted")
	}
	return chat, inv.URL()
}

// say sends text and returns the thing's answer that contains want.
func (d *dcPeer) say(acc, chat uint32, text, want string) dcrpc.Message {
	d.t.Helper()
	mark := d.c.Mark()
	if _, err := d.c.SendText(d.ctx, acc, chat, text); err != nil {
		d.t.Fatal(err)
	}
	return d.await(acc, mark, want, 30*time.Second)
}

// await returns the first incoming message for acc after mark whose text
// contains want.
func (d *dcPeer) await(acc uint32, mark int, want string, within time.Duration) dcrpc.Message {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(d.ctx, within)
	defer cancel()
	for {
		e, err := d.c.WaitEvent(ctx, mark, func(e dcrpc.Event) bool { return e.ContextID == acc && e.Kind == "IncomingMsg" })
		if err != nil {
			d.t.Fatalf("no answer containing %q: %v", want, err)
		}
		mark = e.Seq + 1
		m, err := d.c.GetMessage(d.ctx, acc, e.MsgID)
		if err != nil {
			d.t.Fatal(err)
		}
		if strings.Contains(m.Text, want) {
			return m
		}
	}
}

// silent checks that acc gets no message for a while.
func (d *dcPeer) silent(acc uint32, mark int, within time.Duration) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(d.ctx, within)
	defer cancel()
	if e, err := d.c.WaitEvent(ctx, mark, func(e dcrpc.Event) bool { return e.ContextID == acc && e.Kind == "IncomingMsg" }); err == nil {
		m, _ := d.c.GetMessage(d.ctx, acc, e.MsgID)
		d.t.Fatalf("expected no answer, got %q", m.Text)
	}
}

var inviteURL = regexp.MustCompile(`https://i\.delta\.chat/#\S+`)

// TestDeltaChatOwnsALamp: a Delta Chat user pairs with a lamp by its invite
// link, both v3 and legacy, becomes owner and commands it; a second Delta
// Chat user without an invite gets nothing; invited, he can switch the
// lamp; revoked, his next command does nothing.
func TestDeltaChatOwnsALamp(t *testing.T) {
	if testing.Short() {
		t.Skip("pairs the real Delta Chat core with a lamp, v3 and legacy, ~13 s each (10 s of it waiting out silence); the full suite runs it")
	}
	for _, v3 := range []bool{true, false} {
		t.Run(map[bool]string{true: "v3", false: "legacy"}[v3], func(t *testing.T) {
			t.Parallel() // each variant has its own home and Delta Chat core
			h := startHome(t, "light")
			dc := startDeltaChat(t, h.ctx)
			aliceAcct, err := h.node.AddAccount(h.ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			bobAcct, err := h.node.AddAccount(h.ctx, "bob")
			if err != nil {
				t.Fatal(err)
			}
			alice, bob := dc.account(aliceAcct), dc.account(bobAcct)

			chat, factory := dc.pairOwner(alice, h.agent, v3)

			m := dc.say(alice, chat, "on", "on")
			if !m.ShowPadlock || !power(t, h.agent) {
				t.Fatalf("on: %+v, power %v", m, power(t, h.agent))
			}
			m = dc.say(alice, chat, "status", "The lamp is on")
			if !m.ShowPadlock {
				t.Fatal("status reply not encrypted")
			}

			// Bob scans the spent factory code: no join, no answer, and
			// his command does nothing.
			mark := dc.c.Mark()
			bobChat, err := dc.c.SecureJoin(h.ctx, bob, factory)
			if err != nil {
				t.Fatal(err)
			}
			dc.c.SendText(h.ctx, bob, bobChat, "off")
			dc.silent(bob, mark, 5*time.Second)
			if !power(t, h.agent) {
				t.Fatal("an unpaired Delta Chat user switched the lamp off")
			}

			// Invited, bob joins as member and can switch the lamp.
			m = dc.say(alice, chat, "invite", "invite")
			code := inviteURL.FindString(m.Text)
			if code == "" {
				t.Fatalf("no invite link in %q", m.Text)
			}
			mark = dc.c.Mark()
			bobChat = dc.join(bob, code)
			dc.await(bob, mark, "You are my member", 30*time.Second)
			dc.say(bob, bobChat, "off", "off")
			if power(t, h.agent) {
				t.Fatal("member could not switch the lamp off")
			}

			// Revoked, bob's next command does nothing.
			dc.say(alice, chat, "revoke "+bobAcct.Address, "can no longer")
			mark = dc.c.Mark()
			dc.c.SendText(h.ctx, bob, bobChat, "on")
			dc.silent(bob, mark, 5*time.Second)
			if power(t, h.agent) {
				t.Fatal("a revoked member switched the lamp on")
			}
		})
	}
}
