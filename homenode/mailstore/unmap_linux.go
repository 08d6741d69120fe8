package mailstore

import (
	"os"

	"golang.org/x/sys/unix"
)

// unmapPages drops the pages of [start, end), widened to whole pages, from
// this process's mapping of the store file (MADV_DONTNEED). The file's
// pages stay in the kernel's page cache; a later access maps them again.
// The range must lie inside the mapping, which a read transaction keeps
// in place.
func unmapPages(start, end uintptr) {
	page := uintptr(os.Getpagesize())
	start &^= page - 1
	end = (end + page - 1) &^ (page - 1)
	if end > start {
		// Advice only: a failure changes nothing that matters.
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, start, end-start, unix.MADV_DONTNEED)
	}
}
