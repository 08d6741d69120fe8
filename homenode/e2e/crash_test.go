package e2e

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/thingpost/thingpost/homenode/mailstore"
)

// TestCrashKill9: 8 concurrent SMTP clients submit 1,000 messages to the real
// binary; it is killed with SIGKILL after about 400 acknowledgements and
// restarted. Every message that got a 250 must be in its recipient's mailbox
// exactly once, every other message at most once, none truncated, and the
// store must open cleanly.
func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the crash test builds and runs the binary")
	}
	const (
		total   = 1000
		killAt  = 400
		clients = 8
	)
	users := []string{"u0", "u1", "u2", "u3"}
	n := initProcNode(t, "crash.test", users...)
	p := startProc(t, n.dir, n.submission)

	var (
		next   atomic.Int64 // next message number to send
		acked  sync.Map     // token -> recipient address
		nAcked atomic.Int64
		killed = make(chan struct{})
		once   sync.Once
	)
	kill := func() {
		once.Do(func() {
			_ = p.cmd.Process.Signal(syscall.SIGKILL) // from a worker goroutine: no t.Fatal
			close(killed)
		})
	}
	addrs := make([]string, len(users))
	for i, u := range users {
		addrs[i] = u + "@crash.test"
	}
	rcptOf := func(i int) string { return addrs[(i+1)%len(addrs)] }
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			from := addrs[w%len(addrs)]
			var c *smtp.Client
			defer func() {
				if c != nil {
					c.Close()
				}
			}()
			for {
				select {
				case <-killed:
					return
				default:
				}
				i := int(next.Add(1)) - 1
				if i >= total {
					return
				}
				if c == nil {
					var err error
					if c, err = smtp.Dial(n.submission); err != nil {
						continue // the node is gone; the loop ends at <-killed
					}
					if err := c.Auth(sasl.NewPlainClient("", from, n.pass[from])); err != nil {
						c.Close()
						c = nil
						continue
					}
				}
				token := fmt.Sprintf("crash-%04d", i)
				rcpt := rcptOf(i)
				if err := c.SendMail(from, []string{rcpt}, bytes.NewReader(message(from, rcpt, token))); err != nil {
					c.Close()
					c = nil
					continue
				}
				acked.Store(token, rcpt)
				if nAcked.Add(1) >= killAt {
					kill()
				}
			}
		}()
	}
	wg.Wait()
	kill() // in case everything was sent before the threshold
	sendTime := time.Since(start)
	if code := p.wait(10 * time.Second); code != -int(syscall.SIGKILL) {
		t.Fatalf("exit %d, want death by SIGKILL", code)
	}
	sent := int(next.Load())
	t.Logf("%d acknowledged of %d attempted in %s before SIGKILL", nAcked.Load(), min(sent, total), sendTime.Round(time.Millisecond))
	if nAcked.Load() < killAt {
		t.Fatalf("only %d messages acknowledged before the kill", nAcked.Load())
	}

	// Restart on the same data: the store must open and serve.
	p2 := startProc(t, n.dir, n.imap)
	seen := map[string]int{}
	where := map[string]string{}
	tokenRe := regexp.MustCompile(`body token (crash-\d{4})\r\n`)
	for _, a := range addrs {
		msgs, err := inbox(n.imap, a, n.pass[a])
		if err != nil {
			t.Fatalf("after restart, read INBOX of %s: %v", a, err)
		}
		for _, m := range msgs {
			mm := tokenRe.FindSubmatch(m)
			if mm == nil {
				t.Errorf("%s holds a message without a complete body (truncated?):\n%q", a, m)
				continue
			}
			tok := string(mm[1])
			seen[tok]++
			where[tok] = a
			if !bytesContainAll(m, "Message-ID: <"+tok+"@e2e.test>", "Subject: test "+tok) {
				t.Errorf("%s: message %s is damaged:\n%q", a, tok, m)
			}
		}
	}
	lost, extra := 0, 0
	acked.Range(func(k, v any) bool {
		tok, rcpt := k.(string), v.(string)
		switch {
		case seen[tok] == 0:
			lost++
			t.Errorf("acknowledged message %s (to %s) is missing after the crash", tok, rcpt)
		case where[tok] != rcpt:
			t.Errorf("message %s is in %s, want %s", tok, where[tok], rcpt)
		}
		return true
	})
	for tok, c := range seen {
		if c > 1 {
			t.Errorf("message %s is stored %d times", tok, c)
		}
		if _, ok := acked.Load(tok); !ok {
			extra++
		}
	}
	t.Logf("after restart: %d messages stored, %d acknowledged lost, %d stored without acknowledgement (allowed)", len(seen), lost, extra)

	// The restarted node still takes mail, then stops cleanly on SIGTERM.
	if err := submit(n.submission, addrs[0], n.pass[addrs[0]], []string{addrs[1]}, message(addrs[0], addrs[1], "after-restart")); err != nil {
		t.Errorf("submit after restart: %v", err)
	}
	p2.signal(syscall.SIGTERM)
	if code := p2.wait(30 * time.Second); code != 0 {
		t.Errorf("restarted node exit %d after SIGTERM", code)
	}
	st, err := mailstore.Open(n.dir + "/mail.db")
	if err != nil {
		t.Fatalf("store does not open cleanly after the crash and restart: %v", err)
	}
	defer st.Close()
	users2, err := st.Users(context.Background())
	if err != nil || len(users2) != len(users) {
		t.Errorf("users after crash: %v, %v", users2, err)
	}
}
