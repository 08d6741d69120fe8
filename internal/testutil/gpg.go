package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

// QuickGPGAgent sets up the GnuPG home dir for a -short run. gpg-agent
// calibrates its S2K count to about 100 ms of hashing, and to far more on a
// busy machine, so protecting, exporting and importing a secret key each
// take a second or more. The fewest iterations keep the packets the same;
// the full suite runs with gpg's own count.
func QuickGPGAgent(t testing.TB, dir string) {
	t.Helper()
	if !testing.Short() {
		return
	}
	if err := os.WriteFile(filepath.Join(dir, "gpg-agent.conf"), []byte("s2k-count 65536\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}
