package homenode

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// smtpLine dials addr from the loopback address src, reads the greeting
// and, when ehlo is set and the greeting is 220, says EHLO; it returns the
// last reply line and the open connection.
func smtpLine(t *testing.T, addr, src string, ehlo bool) (string, net.Conn) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	line, _ := r.ReadString('\n')
	if !ehlo || !strings.HasPrefix(line, "220") {
		return line, c
	}
	fmt.Fprintf(c, "EHLO client.example\r\n")
	for {
		line, err = r.ReadString('\n')
		if err != nil || len(line) < 4 || line[3] != '-' {
			return line, c
		}
	}
}

// Items 7 and 10 of issue 15: one client address cannot take every MX slot,
// before or after EHLO; another client still gets in.
func TestNodeMXConnectionShares(t *testing.T) {
	cfg := testNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := Start(ctx, cfg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown(ctx)
	addr := n.Addr("smtp").String()

	// One address opens as many EHLO'd connections as it can, then as
	// many silent ones.
	refused := 0
	for i := range 120 {
		line, _ := smtpLine(t, addr, "127.0.0.1", i < 100)
		if strings.HasPrefix(line, "421") {
			if !strings.HasPrefix(line, "421 4.7.0") {
				t.Fatalf("refusal %q, want 421 4.7.0", line)
			}
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("one client address held 120 connections to the MX")
	}
	if line, _ := smtpLine(t, addr, "127.0.0.2", true); !strings.HasPrefix(line, "250 ") {
		t.Fatalf("another client after the first took its share: %q, want 250 to EHLO", line)
	}
	// Silent connections count too.
	for i := range 120 {
		line, _ := smtpLine(t, addr, "127.0.0.3", false)
		if strings.HasPrefix(line, "421 4.7.0") {
			t.Logf("127.0.0.1: %d of 120 refused; 127.0.0.3: refused after %d silent connections", refused, i)
			return
		}
	}
	t.Fatal("one client address held 120 silent connections")
}
