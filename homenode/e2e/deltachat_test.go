package e2e

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/thingpost/thingpost/internal/testutil"

	"github.com/thingpost/thingpost/internal/dcrpc"
)

// TestDeltaChatPairAndChat drives two real Delta Chat core accounts on one
// node (plain loopback IMAP and SMTP): they pair by Securejoin and exchange
// end-to-end encrypted messages both ways.
func TestDeltaChatPairAndChat(t *testing.T) {
	bin := dcrpc.BinaryForTest(t)
	h := newHome(t, "dc.test", nil)
	alice := h.addUser("alice")
	bob := h.addUser("bob")
	h.start()
	deltaChatScenario(t, bin, h, alice, h, bob)
}

// TestDeltaChatTwoHomes: Alice lives on one home node, Bob on another; their
// mail goes node to node over SMTP (static MX, DKIM-signed, through the
// outbound queue). They pair and chat as on one node.
func TestDeltaChatTwoHomes(t *testing.T) {
	bin := dcrpc.BinaryForTest(t)
	a, b := newHomePair(t, "dc-a.test", "dc-b.test")
	alice := a.addUser("alice")
	bob := b.addUser("bob")
	a.start()
	b.start()
	deltaChatScenario(t, bin, a, alice, b, bob)
}

// deltaChatScenario configures alice (on home ha) and bob (on hb) in one
// Delta Chat core, pairs them by Securejoin (Alice invites) and sends one
// message each way, checking text, sender and the padlock.
func deltaChatScenario(t *testing.T, bin string, ha *home, alice string, hb *home, bob string) {

	coreLog := &testutil.SyncBuffer{}
	c, err := dcrpc.Start(bin, t.TempDir(), coreLog)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		if t.Failed() {
			t.Logf("Delta Chat events:\n%s", c.Recent(200))
			t.Logf("Delta Chat core log:\n%s", coreLog)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	configure := func(h *home, addr, name string) uint32 {
		t.Helper()
		imapHost, imapPort := splitAddr(t, h.addr("plain_imap"))
		smtpHost, smtpPort := splitAddr(t, h.addr("plain_submission"))
		acc, err := c.AddAccount(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.SetConfig(ctx, acc, "displayname", name); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err = c.AddTransport(ctx, acc, dcrpc.Transport{
			Addr: addr, Password: h.Pass[addr],
			IMAPServer: imapHost, IMAPPort: imapPort, IMAPSecurity: "plain",
			SMTPServer: smtpHost, SMTPPort: smtpPort, SMTPSecurity: "plain",
			CertificateChecks: "acceptInvalidCertificates",
		})
		if err != nil {
			t.Fatalf("configure %s on the node: %v", addr, err)
		}
		t.Logf("%s configured in %s", addr, time.Since(start).Round(time.Millisecond))
		mark := c.Mark()
		if err := c.StartIO(ctx, acc); err != nil {
			t.Fatal(err)
		}
		// Delta Chat ignores mail that was in INBOX before its first SELECT:
		// wait until it has selected and idles, so no handshake step is lost.
		wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
		defer wcancel()
		if _, err := c.WaitEvent(wctx, mark, func(e dcrpc.Event) bool {
			return e.ContextID == acc && e.Kind == "ImapInboxIdle"
		}); err != nil {
			t.Fatalf("%s never reached IMAP IDLE: %v", addr, err)
		}
		return acc
	}
	accA := configure(ha, alice, "Alice")
	accB := configure(hb, bob, "Bob")

	// Securejoin: Alice shows the code, Bob scans it.
	mark := c.Mark()
	qr, err := c.SecurejoinQR(ctx, accA)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	chatB, err := c.SecureJoin(ctx, accB, qr)
	if err != nil {
		t.Fatalf("secure_join: %v", err)
	}
	wait := func(what string, since int, match func(dcrpc.Event) bool) dcrpc.Event {
		t.Helper()
		wctx, wcancel := context.WithTimeout(ctx, 90*time.Second)
		defer wcancel()
		ev, err := c.WaitEvent(wctx, since, match)
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		return ev
	}
	wait("SecurejoinJoinerProgress 1000 on Bob", mark, func(e dcrpc.Event) bool {
		return e.ContextID == accB && e.Kind == "SecurejoinJoinerProgress" && e.Progress == 1000
	})
	wait("SecurejoinInviterProgress 1000 on Alice", mark, func(e dcrpc.Event) bool {
		return e.ContextID == accA && e.Kind == "SecurejoinInviterProgress" && e.Progress == 1000
	})
	t.Logf("Securejoin completed in %s", time.Since(start).Round(time.Millisecond))

	// receive waits for an incoming message with the given text on acc and
	// checks that Delta Chat shows it as end-to-end encrypted.
	receive := func(acc uint32, since int, text, sender string) uint32 {
		t.Helper()
		for {
			ev := wait("IncomingMsg "+strconv.Quote(text), since, func(e dcrpc.Event) bool {
				return e.ContextID == acc && e.Kind == "IncomingMsg"
			})
			since = ev.Seq + 1
			m, err := c.GetMessage(ctx, acc, ev.MsgID)
			if err != nil {
				t.Fatal(err)
			}
			if m.Text != text {
				continue // e.g. a system message about the verification
			}
			if !m.ShowPadlock {
				t.Errorf("message %q arrived without the padlock (not end-to-end encrypted)", text)
			}
			if m.Sender.Address != sender {
				t.Errorf("message %q from %q, want %q", text, m.Sender.Address, sender)
			}
			return m.ChatID
		}
	}

	mark = c.Mark()
	start = time.Now()
	if _, err := c.SendText(ctx, accB, chatB, "hello Alice, from Bob"); err != nil {
		t.Fatal(err)
	}
	chatA := receive(accA, mark, "hello Alice, from Bob", bob)
	t.Logf("Bob -> Alice delivered in %s", time.Since(start).Round(time.Millisecond))

	mark = c.Mark()
	start = time.Now()
	if _, err := c.SendText(ctx, accA, chatA, "hello Bob, from Alice"); err != nil {
		t.Fatal(err)
	}
	receive(accB, mark, "hello Bob, from Alice", alice)
	t.Logf("Alice -> Bob delivered in %s", time.Since(start).Round(time.Millisecond))
}

func splitAddr(t *testing.T, addr string) (string, int) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return host, p
}
