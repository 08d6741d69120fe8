package mailstore

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// procValue reads a "name: value" line of a /proc file, the first number.
func procValue(t *testing.T, file, name string) int {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Skipf("no %s: %v", file, err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, name+":"); ok {
			n, err := strconv.Atoi(strings.Fields(v)[0])
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s in %s", name, file)
	return 0
}

// residentKiB sums the resident size of this process's mappings of path.
func residentKiB(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skipf("no smaps: %v", err)
	}
	kib, in := 0, false
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":"):
			in = len(f) >= 6 && f[5] == path
		case in && len(f) >= 2 && f[0] == "Rss:":
			n, _ := strconv.Atoi(f[1])
			kib += n
		}
	}
	return kib
}

// TestMessagesWrittenOnce: delivering message after message into one
// mailbox writes each once (plus the pages of the commit, about 40 KiB),
// not again with each next delivery (which wrote 4.9 times their size).
func TestMessagesWrittenOnce(t *testing.T) {
	ctx := context.Background()
	s := openWithUsers(t, "a@example.org")
	msg := bytes.Repeat([]byte("0123456789abcdef"), 4<<10) // 64 KiB
	const n = 40
	before := procValue(t, "/proc/self/io", "wchar")
	for range n {
		if err := s.Deliver(ctx, []string{"a@example.org"}, msg); err != nil {
			t.Fatal(err)
		}
	}
	written := procValue(t, "/proc/self/io", "wchar") - before
	if ratio := float64(written) / float64(n*len(msg)); ratio > 2.5 {
		t.Errorf("%d deliveries of %d KiB wrote %.1f times their size", n, len(msg)>>10, ratio)
	}
}

// TestStoreUnmapsWhatItRead: after deliveries and reads of every message,
// next to nothing of the file is left in this process's resident size.
func TestStoreUnmapsWhatItRead(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	path, err := filepath.EvalSymlinks(path)
	if err != nil {
		t.Fatal(err)
	}
	mustAddUser(t, s, "a@example.org")
	msg := bytes.Repeat([]byte("0123456789abcdef"), 2<<10) // 32 KiB
	const n = 200
	for range n {
		if err := s.Deliver(ctx, []string{"a@example.org"}, msg); err != nil {
			t.Fatal(err)
		}
	}
	afterWrites := residentKiB(t, path)
	inbox := inboxMessages(t, s, "a@example.org")
	mbs, err := s.Mailboxes(ctx, "a@example.org")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range inbox {
		raw, err := s.MessageRaw(ctx, "a@example.org", mbs[0].ID, m.UID)
		if err != nil || !bytes.Equal(raw, msg) {
			t.Fatalf("UID %d: %d bytes, %v", m.UID, len(raw), err)
		}
	}
	afterReads := residentKiB(t, path)
	t.Logf("%d messages of %d KiB: %d KiB of the file resident after the writes, %d KiB after reading them all",
		n, len(msg)>>10, afterWrites, afterReads)
	// Kept mapped, the 6.4 MB file would be resident whole after the reads.
	// What stays is the last commit's pages and the kernel's fault-around
	// neighbours (64 KiB per fault): 100-320 KiB seen here.
	const most = 1024
	if afterWrites > most || afterReads > most {
		t.Errorf("resident: %d KiB after the writes, %d KiB after the reads; want at most %d", afterWrites, afterReads, most)
	}
}
