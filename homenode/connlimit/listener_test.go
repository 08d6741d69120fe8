package connlimit

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

const refusal = "421 busy\r\n"

// serve accepts on a loopback listener under l and keeps every accepted
// connection open until the test ends; accepted receives them.
func serve(t *testing.T, l Limits) (*Listener, chan net.Conn) {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen(raw, l, nil)
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln, accepted
}

// dialFrom connects from the loopback address src (127.0.0.0/8 is all
// loopback on Linux, so distinct clients need no network).
func dialFrom(t *testing.T, ln net.Listener, src string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// refused reports whether the server answered c with the refusal line and
// closed it; a held connection stays silent.
func refused(t *testing.T, c net.Conn) bool {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return false
		}
		t.Fatalf("read: %q, %v", line, err)
	}
	if line != refusal {
		t.Fatalf("got %q, want the refusal", line)
	}
	return true
}

func TestListenerCaps(t *testing.T) {
	ln, accepted := serve(t, Limits{Total: 3, PerClient: 2, Refusal: refusal})
	steps := []struct {
		src     string
		refused bool
	}{
		{"127.0.0.1", false},
		{"127.0.0.1", false},
		{"127.0.0.1", true}, // the client's share is used up
		{"127.0.0.2", false},
		{"127.0.0.3", true}, // the total is used up
	}
	for i, s := range steps {
		c := dialFrom(t, ln, s.src)
		if got := refused(t, c); got != s.refused {
			t.Fatalf("step %d from %s: refused %v, want %v", i, s.src, got, s.refused)
		}
	}
	if total, one := ln.Open(&net.TCPAddr{IP: net.ParseIP("127.0.0.1")}); total != 3 || one != 2 {
		t.Fatalf("open: total %d, 127.0.0.1 %d; want 3, 2", total, one)
	}

	// Closing a held connection (twice: the slot is given back once) frees
	// a slot for the same client.
	first := <-accepted
	first.Close()
	first.Close()
	if total, one := ln.Open(first.RemoteAddr()); total != 2 || one != 1 {
		t.Fatalf("after close: total %d, client %d; want 2, 1", total, one)
	}
	if refused(t, dialFrom(t, ln, "127.0.0.1")) {
		t.Fatal("refused after a slot was freed")
	}
}

// A refused client that never reads does not hold up the next accept.
func TestListenerRefusalDoesNotBlock(t *testing.T) {
	ln, accepted := serve(t, Limits{Total: 1, PerClient: 1})
	dialFrom(t, ln, "127.0.0.1")
	<-accepted
	for i := 0; i < 20; i++ {
		c := dialFrom(t, ln, "127.0.0.1")
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("refused connection %d: %v, want EOF", i, err)
		}
	}
	dialFrom(t, ln, "127.0.0.2")
	select {
	case <-accepted:
		t.Fatal("accepted over the total")
	case <-time.After(100 * time.Millisecond):
	}
}

func TestClientKey(t *testing.T) {
	tests := []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.7")}, "192.0.2.7/32"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.7")}, "192.0.2.7/32"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:3:4:5:6")}, "2001:db8:1:2::/64"},
		{&net.UnixAddr{Name: "/run/x", Net: "unix"}, "invalid Prefix"},
	}
	for _, tt := range tests {
		if got := ClientKey(tt.addr).String(); got != tt.want {
			t.Errorf("ClientKey(%v) = %s, want %s", tt.addr, got, tt.want)
		}
	}
}

func TestLimitsValidate(t *testing.T) {
	for _, l := range []Limits{{}, {Total: 1}, {PerClient: 1}, {Total: 1, PerClient: 2}, {Total: -1, PerClient: -1}} {
		if _, err := Listen(nil, l, nil); err == nil {
			t.Errorf("Listen accepted %+v", l)
		}
	}
	if _, err := Listen(nil, Limits{Total: 2, PerClient: 2}, nil); err != nil {
		t.Error(err)
	}
}
