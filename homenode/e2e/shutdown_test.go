package e2e

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rawSMTP is a hand-driven SMTP client, so a test can stop in the middle of
// DATA.
type rawSMTP struct {
	t    *testing.T
	conn net.Conn
	tp   *textproto.Conn
}

func dialRaw(t *testing.T, addr, user, pass string) *rawSMTP {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	r := &rawSMTP{t: t, conn: conn, tp: textproto.NewConn(conn)}
	t.Cleanup(func() { conn.Close() })
	r.expect(220)
	r.cmd(250, "EHLO client.test")
	r.cmd(235, "AUTH PLAIN %s", base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pass)))
	return r
}

func (r *rawSMTP) expect(code int) string {
	r.t.Helper()
	_, msg, err := r.tp.ReadResponse(code)
	if err != nil {
		r.t.Fatalf("want %d: %v", code, err)
	}
	return msg
}

func (r *rawSMTP) cmd(code int, format string, args ...any) string {
	r.t.Helper()
	if err := r.tp.PrintfLine(format, args...); err != nil {
		r.t.Fatal(err)
	}
	return r.expect(code)
}

// response sends a line and returns the reply code (0 with the error when the
// connection is gone).
func (r *rawSMTP) response(format string, args ...any) (int, string, error) {
	if err := r.tp.PrintfLine(format, args...); err != nil {
		return 0, "", err
	}
	code, msg, err := r.tp.ReadResponse(0)
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code, te.Msg, nil
	}
	return code, msg, err
}

// startData opens a transaction and sends the first half of the message.
func (r *rawSMTP) startData(from, to string, raw []byte) (rest []byte) {
	r.t.Helper()
	r.cmd(250, "MAIL FROM:<%s>", from)
	r.cmd(250, "RCPT TO:<%s>", to)
	r.cmd(354, "DATA")
	half := len(raw) / 2
	if _, err := r.conn.Write(raw[:half]); err != nil {
		r.t.Fatal(err)
	}
	return raw[half:]
}

// finishData sends the rest and the final dot; it returns the reply code, or
// 0 when the connection broke.
func (r *rawSMTP) finishData(rest []byte) (int, string) {
	if _, err := r.conn.Write(append(rest, []byte(".\r\n")...)); err != nil {
		return 0, err.Error()
	}
	code, msg, err := r.tp.ReadResponse(0)
	var te *textproto.Error
	switch {
	case errors.As(err, &te):
		return te.Code, te.Msg
	case err != nil:
		return 0, err.Error()
	}
	return code, msg
}

// bigMessage pads a message so that half of it is clearly a fragment.
func bigMessage(from, to, token string) []byte {
	m := message(from, to, token)
	pad := strings.Repeat("padding line to make the body longer than one write\r\n", 200)
	return append(m, []byte(pad+"end of "+token+"\r\n")...)
}

// TestGracefulShutdown sends SIGTERM to the real binary while a client is in
// the middle of DATA on four connections: the listener stops taking
// connections, another client's new MAIL gets a clean 421, the transactions
// in flight complete with 250,
// the process exits 0, and each message is stored once, whole. A second round
// with a client that stalls past --grace gets no 250 and leaves no fragment.
func TestGracefulShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds and runs the binary")
	}
	n := initProcNode(t, "grace.test", "alice", "bob")
	alice, bob := "alice@grace.test", "bob@grace.test"

	t.Run("in flight completes", func(t *testing.T) {
		p := startProc(t, n.dir, n.submission, "--grace", "20s")
		const inFlight = 4
		clients := make([]*rawSMTP, inFlight)
		rests := make([][]byte, inFlight)
		for i := range clients {
			clients[i] = dialRaw(t, n.submission, alice, n.pass[alice])
			rests[i] = clients[i].startData(alice, bob, bigMessage(alice, bob, fmt.Sprintf("graceful%d", i)))
		}
		idle := dialRaw(t, n.submission, alice, n.pass[alice])

		p.signal(syscall.SIGTERM)
		waitRefused(t, n.submission)
		if code, msg, err := idle.response("MAIL FROM:<%s>", alice); err != nil || code != 421 {
			t.Errorf("new MAIL during shutdown: %d %s %v, want 421", code, msg, err)
		}
		for i, c := range clients {
			if code, msg := c.finishData(rests[i]); code != 250 {
				t.Errorf("transaction %d in flight at SIGTERM: %d %s, want 250", i, code, msg)
			}
		}
		if code := p.wait(30 * time.Second); code != 0 {
			t.Errorf("exit %d after SIGTERM, want 0", code)
		}
	})

	t.Run("stalled past grace", func(t *testing.T) {
		p := startProc(t, n.dir, n.submission, "--grace", "1s")
		stalled := dialRaw(t, n.submission, alice, n.pass[alice])
		rest := stalled.startData(alice, bob, bigMessage(alice, bob, "stalled"))
		p.signal(syscall.SIGTERM)
		if code := p.wait(30 * time.Second); code != 1 || !strings.Contains(p.log.String(), "homenode run: plain submission transactions cut off at shutdown: context deadline exceeded\n") {
			t.Errorf("exit %d; want 1 and a line saying the transaction was cut off:\n%s", code, p.log)
		}
		if code, msg := stalled.finishData(rest); code == 250 {
			t.Fatalf("stalled transaction got 250 after the node stopped: %s", msg)
		} else {
			t.Logf("stalled client after grace: %d %s", code, msg)
		}
	})

	// Restart and look: the graceful message once and whole, no fragment of
	// the stalled one.
	startProc(t, n.dir, n.imap)
	msgs, err := inbox(n.imap, bob, n.pass[bob])
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		tok := fmt.Sprintf("graceful%d", i)
		if c := containsToken(msgs, tok); c != 1 {
			t.Errorf("message %s stored %d times, want 1", tok, c)
		}
	}
	gracefulRe := regexp.MustCompile(`body token (graceful\d)\r\n`)
	for _, m := range msgs {
		s := string(m)
		switch mm := gracefulRe.FindStringSubmatch(s); {
		case mm != nil:
			if !strings.Contains(s, "end of "+mm[1]+"\r\n") {
				t.Errorf("message %s stored truncated: %d bytes", mm[1], len(m))
			}
		case strings.Contains(s, "stalled"):
			t.Errorf("a fragment of the stalled transaction was stored (%d bytes)", len(m))
		default:
			t.Errorf("unexpected message: %.200q", s)
		}
	}
}

// waitRefused waits until the listener no longer accepts connections.
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s still accepts connections 10s after SIGTERM", addr)
}
