//go:build !android && !ios && !mobile

package mobile

// StopInBackground reports whether the connection stops while the app is
// in the background: not on a desktop, where a window without focus still
// shows events as they come.
func StopInBackground() bool { return false }

// PickByMIME reports whether the image picker filters by MIME type: a
// desktop file dialog filters by extension.
func PickByMIME() bool { return false }
