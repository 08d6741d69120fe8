package testutil

import (
	"context"
	"net"
	"testing"
	"time"
)

// Server serves listeners until it is shut down, as smtpd.Server does.
type Server interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
}

// Serve serves srv on a fresh loopback port, through wrap if it is not nil,
// and returns the port's address. At the end of the test srv is shut down,
// and Serve must then have returned nil.
func Serve(t testing.TB, srv Server, wrap func(net.Listener) net.Listener) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if wrap != nil {
		l = wrap(l)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if err := <-done; err != nil {
			t.Errorf("Serve returned %v after Shutdown, want nil", err)
		}
	})
	return addr
}
