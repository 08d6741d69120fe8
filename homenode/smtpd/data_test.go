package smtpd

import (
	"bytes"
	"testing"
)

func TestPrepend(t *testing.T) {
	m := &dataMsg{buf: append(make([]byte, headroom), "Subject: x\r\n\r\nbody\r\n"...), start: headroom}
	m.prepend([]byte("Received: a\r\n"))
	before := m.bytes()
	m.prepend([]byte("Return-Path: <a@b>\r\n"))
	if got := string(m.bytes()); got != "Return-Path: <a@b>\r\nReceived: a\r\nSubject: x\r\n\r\nbody\r\n" {
		t.Fatalf("after two prepends: %q", got)
	}
	// More than the room left: the message moves, earlier slices keep
	// their bytes.
	long := bytes.Repeat([]byte("X-Long: 0123456789\r\n"), headroom/20+1)
	m.prepend(long)
	if got, want := string(m.bytes()), string(long)+"Return-Path: <a@b>\r\nReceived: a\r\nSubject: x\r\n\r\nbody\r\n"; got != want {
		t.Fatalf("after a long prepend: %q", got)
	}
	if string(before) != "Received: a\r\nSubject: x\r\n\r\nbody\r\n" {
		t.Fatalf("an earlier slice changed: %q", before)
	}
	m.prepend([]byte("A: b\r\n"))
	if !bytes.HasPrefix(m.bytes(), []byte("A: b\r\nX-Long")) {
		t.Fatalf("prepend after the move: %q", m.bytes()[:20])
	}
}
