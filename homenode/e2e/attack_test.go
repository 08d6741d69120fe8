package e2e

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// The attacks of issue 15 on the node's accounts and disk, each run against
// a real node over real sockets.

// loginFrom tries AUTH PLAIN on the submission listener from the loopback
// address src (Linux routes all of 127/8 to lo, so each one is a client of
// its own to the node) and returns the SMTP reply code: 235 for success.
func loginFrom(t *testing.T, src, addr, user, pass string) int {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	c := smtp.NewClient(conn)
	defer c.Close()
	err = c.Auth(sasl.NewPlainClient("", user, pass))
	if err == nil {
		return 235
	}
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		t.Fatalf("AUTH from %s as %s: %v", src, user, err)
	}
	return se.Code
}

// TestAttackGuessWithOwnAccount is issue 15 item 9: an attacker with an
// account of his own logs in to it between guesses at another account,
// which used to clear the limit of his address each time, and spreads his
// guesses over many addresses. The guesses get 454 per address and then per
// account, while the owner's own client, which logged in before, still gets
// in.
func TestAttackGuessWithOwnAccount(t *testing.T) {
	h := newHome(t, "guess.test", nil)
	h.start()
	alice, mallory := h.addUser("alice"), h.addUser("mallory")
	sub := h.addr("plain_submission")
	const owner, attacker = "127.0.0.1", "127.0.0.2"
	if code := loginFrom(t, owner, sub, alice, h.Pass[alice]); code != 235 {
		t.Fatalf("alice's own login: %d", code)
	}

	// One address: a successful login to his own account after each guess.
	locked := 0
	for i := range 12 {
		if code := loginFrom(t, attacker, sub, alice, fmt.Sprintf("guess-%d", i)); code == 454 {
			locked = i + 1
			break
		}
		// 454 once the address is locked: it then holds every account.
		if code := loginFrom(t, attacker, sub, mallory, h.Pass[mallory]); code != 235 && code != 454 {
			t.Fatalf("mallory's own login after guess %d: %d", i+1, code)
		}
	}
	if locked == 0 || locked > 7 {
		t.Fatalf("12 guesses at alice from one address, each followed by a good login to mallory: locked at guess %d, want 454 by guess 7", locked)
	}

	// Many addresses, three guesses each (below the per-address limit),
	// still with a good login of his own from each.
	guesses, refused := 0, 0
	for i := range 10 {
		src := fmt.Sprintf("127.0.0.%d", 10+i)
		for j := range 3 {
			guesses++
			if code := loginFrom(t, src, sub, alice, fmt.Sprintf("spread-%d-%d", i, j)); code == 454 {
				refused++
			}
		}
		if code := loginFrom(t, src, sub, mallory, h.Pass[mallory]); code != 235 {
			t.Fatalf("mallory from %s: %d", src, code)
		}
	}
	if refused < guesses/2 {
		t.Fatalf("%d guesses at alice from 10 addresses: %d refused with 454, want the account locked for most of them", guesses, refused)
	}
	// The account is locked for strangers, even with the right password ...
	if code := loginFrom(t, "127.0.0.99", sub, alice, h.Pass[alice]); code != 454 {
		t.Errorf("alice's password from a new address during the attack: %d, want 454", code)
	}
	// ... but not for the client that logged in to it before, nor for
	// mallory, whose account nobody attacked.
	if code := loginFrom(t, owner, sub, alice, h.Pass[alice]); code != 235 {
		t.Errorf("alice from her own address during the attack: %d, want 235", code)
	}
	if code := loginFrom(t, "127.0.0.98", sub, mallory, h.Pass[mallory]); code != 235 {
		t.Errorf("mallory from a new address: %d, want 235", code)
	}
}

// TestAttackWeakPassword is issue 15 item 9: "sunshine" fell after 60
// guesses. user add and user passwd refuse it and other weak passwords
// (exit 1, one line saying why); a strong one and a generated one pass.
func TestAttackWeakPassword(t *testing.T) {
	n := initProcNode(t, "weak.test")
	d := []string{"--data", n.dir}
	for _, pw := range []string{"sunshine", "password1", "Password1", "short", "aaaaaaaaaaaa"} {
		out, code := homenodeCmd(t, pw+"\n", append([]string{"user", "add", "alice@weak.test", "--password-stdin"}, d...)...)
		if code != 1 || len(lines(out)) != 1 || !strings.Contains(out, "weak password") {
			t.Errorf("user add with %q: exit %d %q; want exit 1 and one line saying weak password", pw, code, out)
		}
	}
	mustHomenode(t, "correct horse battery\n", append([]string{"user", "add", "alice@weak.test", "--password-stdin"}, d...)...)
	out, code := homenodeCmd(t, "sunshine\n", append([]string{"user", "passwd", "alice@weak.test", "--password-stdin"}, d...)...)
	if code != 1 || !strings.Contains(out, "weak password") {
		t.Errorf("user passwd with sunshine: exit %d %q", code, out)
	}
	mustHomenode(t, "", append([]string{"user", "add", "gen@weak.test"}, d...)...)
	if out := mustHomenode(t, "", append([]string{"user", "list"}, d...)...); out != "alice@weak.test\ngen@weak.test\n" {
		t.Errorf("user list = %q", out)
	}
}
