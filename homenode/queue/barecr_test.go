package queue

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"log/slog"
	"net"
	"testing"
)

// wireMX is a remote MX stand-in that records each DATA transfer as it
// came over the wire.
func wireMX(t *testing.T) (addr string, got chan []byte) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	got = make(chan []byte, 4)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go fakeSMTP(c, "250 2.1.5 ok", got)
		}
	}()
	return l.Addr().String(), got
}

// Item 12 of issue 15: a bare CR (or LF) in a queued message does not reach
// the remote MX as it is: "\r.\r\n" there could end the data early for a
// server that takes a bare CR for a line end, and smuggle what follows as
// commands. The line ends go out as CRLF, dot-stuffed, and the DKIM
// signature covers what goes out.
func TestOutboundBareCRLF(t *testing.T) {
	home := newStore(t, "alice@home.test")
	addr, got := wireMX(t)
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	q := New(home, Options{
		Hostname: "mail.home.test",
		StaticMX: map[string]string{"remote.test": addr},
		DKIM:     &DKIM{Selector: "s1", Signer: key, Domains: []string{"home.test"}},
		Logger:   slog.New(slog.DiscardHandler),
	})
	run(t, q)
	raw := append(msgText("alice@home.test", "dave@remote.test", "barecr"),
		"one\r.\r\nMAIL FROM:<x@evil.example>\r\ntwo\n.\nthree\rfour\r\n"...)
	if _, err := q.Enqueue(context.Background(), "alice@home.test", []string{"dave@remote.test"}, raw); err != nil {
		t.Fatal(err)
	}
	wire := <-got
	for i, b := range wire {
		if b == '\r' && (i+1 == len(wire) || wire[i+1] != '\n') || b == '\n' && (i == 0 || wire[i-1] != '\r') {
			t.Fatalf("bare %q at %d on the wire: %q", b, i, wire[max(0, i-20):min(len(wire), i+20)])
		}
	}
	if !bytes.Contains(wire, []byte("\r\none\r\n..\r\nMAIL FROM:<x@evil.example>\r\ntwo\r\n..\r\nthree\r\nfour\r\n")) {
		t.Fatalf("body on the wire: %q", wire[bytes.Index(wire, []byte("Hello")):])
	}
	unstuffed := bytes.ReplaceAll(wire, []byte("\r\n.."), []byte("\r\n."))
	vs, err := verifyDKIM(unstuffed, "s1._domainkey.home.test", dkimTXT(t, pub))
	if err != nil || len(vs) != 1 || vs[0].Err != nil {
		t.Fatalf("DKIM of what went out: %v %+v", err, vs)
	}
}
