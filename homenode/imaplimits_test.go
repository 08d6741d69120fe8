package homenode

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func startNode(t *testing.T, cfg *Config) *Node {
	t.Helper()
	n, err := Start(context.Background(), cfg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown(context.Background()) })
	return n
}

// imapGreeting dials addr from the loopback address src (all of 127/8 is
// loopback) and returns the first line the node sends, "" when it closes
// the connection first; the connection stays open until the test ends.
func imapGreeting(t *testing.T, addr, src string, implicitTLS bool) string {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	raw, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	raw.SetDeadline(time.Now().Add(5 * time.Second))
	c := raw
	if implicitTLS {
		tc := tls.Client(raw, &tls.Config{InsecureSkipVerify: true})
		if err := tc.Handshake(); err != nil {
			return ""
		}
		c = tc
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil && line == "" {
		return ""
	}
	return line
}

// Attack 10: one IP opens connection after connection. With the default
// caps it gets its share of the imaps listener and no more (a closed
// socket: the cap sits below TLS), and another IP still gets in.
func TestIMAPOneClientCannotTakeAllSlots(t *testing.T) {
	n := startNode(t, testNode(t))
	addr := n.Addr("imaps").String()
	for i := range DefaultIMAPMaxConnectionsPerClient {
		if g := imapGreeting(t, addr, "127.0.0.1", true); !strings.HasPrefix(g, "* OK") {
			t.Fatalf("connection %d from 127.0.0.1: %q, want a greeting", i+1, g)
		}
	}
	if g := imapGreeting(t, addr, "127.0.0.1", true); g != "" {
		t.Fatalf("connection %d from 127.0.0.1: %q, want a closed socket", DefaultIMAPMaxConnectionsPerClient+1, g)
	}
	if g := imapGreeting(t, addr, "127.0.0.2", true); !strings.HasPrefix(g, "* OK") {
		t.Fatalf("127.0.0.2 while 127.0.0.1 holds its share: %q, want a greeting", g)
	}
}

// The caps on a plain and an implicit-TLS listener: over them, plain IMAP
// gets the BYE line and imaps a closed socket (the cap sits below TLS). A
// plain listener is loopback only, this machine's things, so only its
// total applies there; imaps also holds each client to its share.
func TestIMAPConnectionCaps(t *testing.T) {
	cfg := testNode(t)
	cfg.IMAP = IMAPLimits{MaxConnections: 3, MaxConnectionsPerClient: 2}
	n := startNode(t, cfg)
	type step struct {
		src string
		in  bool
	}
	for _, l := range []struct {
		name  string
		tls   bool
		steps []step
	}{
		{"plain_imap", false, []step{
			{"127.0.0.1", true},
			{"127.0.0.1", true},
			{"127.0.0.1", true},  // no share on a loopback-only listener
			{"127.0.0.2", false}, // the total is used up
		}},
		{"imaps", true, []step{
			{"127.0.0.1", true},
			{"127.0.0.1", true},
			{"127.0.0.1", false}, // its share is used up
			{"127.0.0.2", true},
			{"127.0.0.3", false}, // the total is used up
		}},
	} {
		addr := n.Addr(l.name).String()
		for i, step := range l.steps {
			g := imapGreeting(t, addr, step.src, l.tls)
			want := imapRefusal
			if l.tls {
				want = ""
			}
			if step.in && !strings.HasPrefix(g, "* OK") || !step.in && g != want {
				t.Fatalf("%s step %d from %s: %q, want in=%v", l.name, i, step.src, g, step.in)
			}
		}
	}
}

// Attack 10: the node closes an unauthenticated connection that NOOPs
// past login_timeout.
func TestIMAPLoginTimeout(t *testing.T) {
	cfg := testNode(t)
	cfg.IMAP.LoginTimeout = time.Second
	n := startNode(t, cfg)
	c, err := net.Dial("tcp", n.Addr("plain_imap").String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	c.SetDeadline(start.Add(10 * time.Second))
	r := bufio.NewReader(c)
	var last string
	for i := 0; ; i++ {
		line, err := r.ReadString('\n')
		if err != nil {
			break
		}
		last = line
		if time.Since(start) > 5*time.Second {
			t.Fatalf("still NOOPing unauthenticated after %v with login_timeout 1s", time.Since(start).Round(time.Millisecond))
		}
		if strings.HasPrefix(line, "N") || i == 0 {
			time.Sleep(100 * time.Millisecond)
			fmt.Fprintf(c, "N%d NOOP\r\n", i)
		}
	}
	if d := time.Since(start); d < time.Second || !strings.HasPrefix(last, "* BYE") {
		t.Fatalf("closed after %v, last line %q; want * BYE after 1s", d, last)
	}

	// On imaps, a client that never even starts TLS is closed too.
	silent, err := net.Dial("tcp", n.Addr("imaps").String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	silent.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := silent.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a silent imaps client: %v, want the node to close it after login_timeout", err)
	}
}

func TestIMAPLimitsConfig(t *testing.T) {
	cfg, err := ParseConfig("x.toml", []byte(goodConfig+"\n[imap]\nmax_connections = 50\nlogin_timeout = \"90s\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Dir = "/d"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	want := IMAPLimits{MaxConnections: 50, MaxConnectionsPerClient: DefaultIMAPMaxConnectionsPerClient, LoginTimeout: 90 * time.Second}
	if cfg.IMAP != want {
		t.Errorf("[imap] = %+v, want %+v", cfg.IMAP, want)
	}
	back, err := ParseConfig("rendered", RenderConfig(cfg))
	if err != nil || back.IMAP != want {
		t.Fatalf("rendered config reads back as %+v, %v", back.IMAP, err)
	}

	for _, tt := range []struct {
		name string
		l    IMAPLimits
		key  string
	}{
		{"negative total", IMAPLimits{MaxConnections: -1}, "imap.max_connections"},
		{"share over the total", IMAPLimits{MaxConnections: 10, MaxConnectionsPerClient: 11}, "imap.max_connections_per_client"},
		{"negative share", IMAPLimits{MaxConnectionsPerClient: -1}, "imap.max_connections_per_client"},
		{"login timeout too short", IMAPLimits{LoginTimeout: time.Millisecond}, "imap.login_timeout"},
		{"login timeout too long", IMAPLimits{LoginTimeout: time.Hour}, "imap.login_timeout"},
	} {
		cfg.IMAP = tt.l
		var ce *ConfigError
		if err := cfg.Validate(); !errors.As(err, &ce) || ce.Key != tt.key {
			t.Errorf("%s: %v, want a ConfigError for %s", tt.name, err, tt.key)
		}
	}
	// A total below the default share lowers the share with it.
	cfg.IMAP = IMAPLimits{MaxConnections: 5}
	if err := cfg.Validate(); err != nil || cfg.IMAP.MaxConnectionsPerClient != 5 {
		t.Errorf("max_connections 5: %v, share %d", err, cfg.IMAP.MaxConnectionsPerClient)
	}
}
