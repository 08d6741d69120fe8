package testutil

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/thingpost/thingpost/homenode/mailstore"
)

// OpenStore opens a mail store in a fresh temporary directory; it is closed
// at the end of the test.
func OpenStore(t testing.TB) *mailstore.Store {
	t.Helper()
	st, err := mailstore.Open(filepath.Join(t.TempDir(), "mail.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Inbox returns the raw messages in addr's INBOX, oldest first.
func Inbox(t testing.TB, st *mailstore.Store, addr string) [][]byte {
	t.Helper()
	ctx := context.Background()
	boxes, err := st.Mailboxes(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	for _, mb := range boxes {
		if mb.Name != mailstore.Inbox {
			continue
		}
		infos, err := st.Messages(ctx, addr, mb.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		var out [][]byte
		for _, m := range infos {
			raw, err := st.MessageRaw(ctx, addr, mb.ID, m.UID)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, raw)
		}
		return out
	}
	t.Fatalf("%s has no INBOX", addr)
	return nil
}
