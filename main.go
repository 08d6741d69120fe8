// Command thingpost is the Thingpost app for desktops and phones: it holds
// the person's key, pairs with things by their QR codes and sends them
// signed, encrypted commands by mail. The screens are in package ui, the
// core in package app.
package main

import (
	"flag"
	"log/slog"
	"os"
	"path/filepath"

	fyneapp "fyne.io/fyne/v2/app"

	"github.com/thingpost/thingpost/ui"
)

func main() {
	data := flag.String("data", "", "data directory (default: the app's storage, ~/.config/fyne/org.thingpost.app/data on Linux)")
	flag.Parse()
	a := fyneapp.NewWithID("org.thingpost.app")
	dir := *data
	if dir == "" {
		dir = filepath.Join(a.Storage().RootURI().Path(), "data")
	}
	w := a.NewWindow("Thingpost")
	u := ui.New(a, w, ui.Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	w.ShowAndRun()
	u.Close()
}
