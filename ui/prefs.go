package ui

import "fyne.io/fyne/v2"

// prefs are the interface's own settings, in Fyne's preferences (never a
// secret: those stay in package app).
type prefs struct {
	p fyne.Preferences
}

// notifications reports whether events from things become system
// notifications.
func (p prefs) notifications() bool { return p.p.BoolWithFallback("notifications", true) }

func (p prefs) setNotifications(on bool) { p.p.SetBool("notifications", on) }
