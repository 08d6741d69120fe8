package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sync/semaphore"
)

// SmallSize is the largest body kept in memory while it is received.
const SmallSize = 32 << 10

// Refusals a caller answers differently: a body that can never fit, and a
// spool that is full for now.
var (
	ErrTooLarge = errors.New("spool: message exceeds the size limit")
	ErrFull     = errors.New("spool: no room for messages in transfer, try again later")
)

// Limits of a Spool.
type Limits struct {
	// Disk is the most bytes all bodies in transfer may hold on disk.
	Disk int64
	// Memory is the most bytes of bodies loaded at once by Load. A body
	// larger than Memory takes all of it.
	Memory int64
}

// Spool is a directory for bodies in transfer. It is safe for concurrent use.
type Spool struct {
	dir    string
	limits Limits
	mem    *semaphore.Weighted

	mu   sync.Mutex
	disk int64 // bytes held on disk now
}

// New returns a spool in dir, which is created (mode 0700) if needed.
func New(dir string, l Limits) (*Spool, error) {
	if l.Disk <= 0 || l.Memory <= 0 {
		return nil, fmt.Errorf("spool: disk (%d) and memory (%d) limits must be > 0", l.Disk, l.Memory)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	return &Spool{dir: dir, limits: l, mem: semaphore.NewWeighted(l.Memory)}, nil
}

// Body is one received message body. Close it when done.
type Body struct {
	s     *Spool
	small []byte
	f     *os.File
	size  int64
}

// Receive reads r to its end. It returns ErrTooLarge once the body passes
// limit bytes and ErrFull when the spool's disk budget is used up; the
// caller then still owns r and decides whether to drain it.
func (s *Spool) Receive(r io.Reader, limit int64) (*Body, error) {
	var head bytes.Buffer
	n, err := io.Copy(&head, io.LimitReader(r, min(limit, SmallSize)+1))
	if err != nil {
		return nil, fmt.Errorf("spool: read body: %w", err)
	}
	if n > limit {
		return nil, ErrTooLarge
	}
	if n <= SmallSize {
		return &Body{s: s, small: head.Bytes(), size: n}, nil
	}
	b := &Body{s: s}
	if err := b.spill(head.Bytes(), r, limit); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// spill writes head and the rest of r to an unlinked file, charging the
// disk budget as it goes.
func (b *Body) spill(head []byte, r io.Reader, limit int64) error {
	f, err := os.CreateTemp(b.s.dir, "body-*")
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	b.f = f
	if err := os.Remove(f.Name()); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	w := &budgetWriter{b: b}
	if _, err := w.Write(head); err != nil {
		return err
	}
	if _, err := io.Copy(w, io.LimitReader(r, limit-b.size+1)); err != nil {
		return err
	}
	if b.size > limit {
		return ErrTooLarge
	}
	return nil
}

// budgetWriter appends to the body's file within the spool's disk budget.
type budgetWriter struct{ b *Body }

func (w *budgetWriter) Write(p []byte) (int, error) {
	s := w.b.s
	s.mu.Lock()
	if s.disk+int64(len(p)) > s.limits.Disk {
		s.mu.Unlock()
		return 0, ErrFull
	}
	s.disk += int64(len(p))
	s.mu.Unlock()
	n, err := w.b.f.Write(p)
	w.b.size += int64(n)
	if n < len(p) {
		s.release(int64(len(p) - n))
	}
	if errors.Is(err, syscall.ENOSPC) {
		return n, fmt.Errorf("%w: %w", ErrFull, err)
	}
	if err != nil {
		return n, fmt.Errorf("spool: write body: %w", err)
	}
	return n, nil
}

func (s *Spool) release(n int64) {
	s.mu.Lock()
	s.disk -= n
	s.mu.Unlock()
}

// Size is the body's length in bytes.
func (b *Body) Size() int64 { return b.size }

// Load waits until the body fits in the memory budget, then returns it in
// buf[headroom:], with headroom free bytes in front for header fields the
// caller prepends. Call release once buf is no longer used; the budget is
// held until then.
func (b *Body) Load(ctx context.Context, headroom int) (buf []byte, release func(), err error) {
	w := min(b.size+int64(headroom), b.s.limits.Memory)
	if err := b.s.mem.Acquire(ctx, w); err != nil {
		return nil, nil, fmt.Errorf("spool: wait for memory: %w", err)
	}
	release = sync.OnceFunc(func() { b.s.mem.Release(w) })
	buf = make([]byte, headroom+int(b.size))
	if b.f == nil {
		copy(buf[headroom:], b.small)
		return buf, release, nil
	}
	if _, err := b.f.ReadAt(buf[headroom:], 0); err != nil {
		release()
		return nil, nil, fmt.Errorf("spool: read back body: %w", err)
	}
	return buf, release, nil
}

// Close frees the body's file and its disk budget.
func (b *Body) Close() error {
	if b.f == nil {
		return nil
	}
	err := b.f.Close()
	b.s.release(b.size)
	b.f, b.size = nil, 0
	return err
}

// OnDisk is how many bytes bodies in transfer hold on disk now.
func (s *Spool) OnDisk() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.disk
}
