//go:build android || ios || mobile

package mobile

// StopInBackground reports whether the connection stops while the app is
// in the background: yes on a phone, and in the phone layout on a desktop
// (-tags mobile), which simulates one.
func StopInBackground() bool { return true }

// PickByMIME reports whether the image picker filters by MIME type: the
// phones' pickers hand over content URIs without file extensions.
func PickByMIME() bool { return true }
