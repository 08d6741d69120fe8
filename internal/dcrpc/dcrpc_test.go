package dcrpc

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestClientAgainstRealCore(t *testing.T) {
	bin := BinaryForTest(t)
	c, err := Start(bin, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	mark := c.Mark()
	acc, err := c.AddAccount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if acc == 0 {
		t.Fatal("account ID 0")
	}
	var info map[string]string
	if err := c.Call(ctx, &info, "get_info", acc); err != nil {
		t.Fatal(err)
	}
	if info["deltachat_core_version"] == "" {
		t.Errorf("get_info has no core version: %v", info)
	}
	// A method that does not exist is a JSON-RPC error, not a hang.
	var rpcErr *Error
	if err := c.Call(ctx, nil, "no_such_method"); !errors.As(err, &rpcErr) {
		t.Errorf("unknown method: %v, want *Error", err)
	}
	// Adding an account emits events (AccountsChanged at least).
	if _, err := c.WaitEvent(ctx, mark, func(e Event) bool { return e.Kind != "" }); err != nil {
		t.Error(err)
	}
	// A wait that cannot succeed times out and reports what it saw.
	short, cancelShort := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancelShort()
	if _, err := c.WaitEvent(short, 0, func(e Event) bool { return e.Kind == "NoSuchEvent" }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("impossible wait: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if err := c.Call(ctx, nil, "get_info", acc); !errors.Is(err, ErrClosed) {
		t.Errorf("call after close: %v, want ErrClosed", err)
	}
}

func TestFindBinaryEnv(t *testing.T) {
	t.Setenv(BinaryEnv, "/nonexistent/deltachat-rpc-server")
	if _, err := FindBinary(t.TempDir()); !errors.Is(err, ErrNotFound) {
		t.Errorf("err = %v, want ErrNotFound", err)
	}
}
