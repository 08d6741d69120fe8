// Package ui is Thingpost's Fyne interface: the screens a person sees on a
// desktop or a phone, built on package app alone (no mail, crypto or
// storage code lives here).
//
// Screens, one file each: first run (welcome.go: create or import an
// identity, connect a mail account, or try the demo home), unlock, home
// (the things as cards), thing (controls generated from the capability
// description, state, history, chart, people, rename, remove), scan (an
// image from a file or dropped on the window, or pasted text; pairing
// progress), demo (the demo home's things and their codes), my code and
// settings.
//
// Threading: every call into package app that does I/O or crypto runs on
// its own goroutine (UI.background); results and the app's event stream
// (events.go) reach widgets only through UI.post, which is fyne.Do in the
// real app. Headless tests replace post with a queue that the test
// goroutine drains, so that widgets are touched by one goroutine there too.
package ui
