// Package ui is Thingpost's Fyne interface: the screens a person sees on a
// desktop or a phone, built on package app (no mail, crypto or storage
// code lives here; wire is used only for the data types app's API hands
// out) and on package demo's Host for the demo home.
//
// Screens, a file each: welcome.go (first run: try the demo home, create
// an identity, restore a key backup; unlock at start), account.go (the
// mail account with its connection check), home.go (the things as cards
// with their main control), thing.go (state, controls generated from the
// capability description in controls.go, history.go, chart.go, people.go
// for the owner, rename and remove), scan.go (a picture chosen or dropped
// on the window, or pasted text; pairing progress), demo.go (the things
// of the demo home the Host runs, with their codes), mycode.go and
// settings.go. nav.go is the page stack and header, keys.go the keyboard
// shortcuts, widgets.go the switch, card and message widgets, theme.go the
// colours.
//
// Threading: every call into package app that does I/O or crypto runs on
// its own goroutine (UI.background); results and the app's event stream
// (events.go) reach widgets only through UI.post, which is fyne.Do in the
// real app. Headless tests replace post with a queue that the test
// goroutine drains, so that widgets are touched by one goroutine there
// too; scripts/smoke-gui.sh runs the real binary and fails on Fyne's
// "Error in Fyne call thread".
//
// Layout: the same screens serve a desktop window and a phone in portrait
// (built with -tags mobile, or on Android and iOS): one column of cards
// instead of a grid, the thing's sections in tabs instead of side by side.
// The connection follows the app's lifecycle through package mobile.
package ui
