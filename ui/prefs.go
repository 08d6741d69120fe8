package ui

import "fyne.io/fyne/v2"

// prefs are the interface's own settings, in Fyne's preferences (never a
// secret: those stay in package app).
type prefs struct {
	p   fyne.Preferences
	dir string // the data directory: the demo flag belongs to one
}

// notifications reports whether events from things become system
// notifications.
func (p prefs) notifications() bool { return p.p.BoolWithFallback("notifications", true) }

func (p prefs) setNotifications(on bool) { p.p.SetBool("notifications", on) }

// demoAccount is the address of the account the demo home made for this
// data directory: the demo must start again before that account works.
func (p prefs) demoAccount() string { return p.p.String("demo-account:" + p.dir) }

func (p prefs) setDemoAccount(addr string) { p.p.SetString("demo-account:"+p.dir, addr) }
