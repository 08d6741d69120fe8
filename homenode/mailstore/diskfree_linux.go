package mailstore

import (
	"path/filepath"
	"syscall"
)

// diskFree returns the bytes an unprivileged process may still write on
// the file system of the file at path.
func diskFree(path string) (int64, bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(path), &st); err != nil {
		return 0, false
	}
	return int64(st.Bavail) * st.Bsize, true
}
