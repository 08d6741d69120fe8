//go:build !linux

package mailstore

// unmapPages does nothing here: only Linux (routers, Android) needs the
// resident size of the mapping kept small.
func unmapPages(start, end uintptr) {}
