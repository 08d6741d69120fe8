package smtpd

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

func TestReadData(t *testing.T) {
	for _, size := range []int{0, 1, 4<<10 - 1, 4 << 10, 4<<10 + 1, 12<<10 + 3, 3<<20 + 17} {
		want := make([]byte, size)
		rnd := rand.New(rand.NewPCG(uint64(size), 0))
		for i := range want {
			want[i] = byte(rnd.Uint32())
		}
		// One byte per Read, too, as a slow client delivers it.
		for name, r := range map[string]io.Reader{"whole": bytes.NewReader(want), "byte by byte": iotest.OneByteReader(bytes.NewReader(want))} {
			if size > 64<<10 && name != "whole" {
				continue
			}
			m, err := readData(r)
			if err != nil {
				t.Fatalf("%d bytes, %s: %v", size, name, err)
			}
			if !bytes.Equal(m.bytes(), want) {
				t.Fatalf("%d bytes, %s: read back %d different bytes", size, name, len(m.bytes()))
			}
			if m.start != headroom {
				t.Fatalf("%d bytes, %s: room in front %d, want %d", size, name, m.start, headroom)
			}
		}
	}
}

func TestReadDataError(t *testing.T) {
	boom := errors.New("boom")
	for _, n := range []int{10, 100 << 10} {
		r := io.MultiReader(bytes.NewReader(make([]byte, n)), iotest.ErrReader(boom))
		if _, err := readData(r); !errors.Is(err, boom) {
			t.Errorf("after %d bytes: error %v, want %v", n, err, boom)
		}
	}
}

func TestPrepend(t *testing.T) {
	m, err := readData(bytes.NewReader([]byte("Subject: x\r\n\r\nbody\r\n")))
	if err != nil {
		t.Fatal(err)
	}
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
