// Command thingpost is the Thingpost app for desktops and phones: it holds
// the person's key, pairs with things by their QR codes and sends them
// signed, encrypted commands by mail. The screens are in package ui, the
// core in package app.
package main

import (
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"github.com/thingpost/thingpost/ui"
)

func main() {
	data := flag.String("data", "", "data directory (default: the app's storage, on Linux ~/.config/fyne/org.thingpost.app/data)")
	debug := flag.Bool("debug", false, "log the screens shown and each command's status")
	flag.Parse()
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	a := fyneapp.NewWithID("org.thingpost.app")
	dir := *data
	if dir == "" {
		dir = filepath.Join(a.Storage().RootURI().Path(), "data")
	}
	w := a.NewWindow("Thingpost")
	u := ui.New(a, w, ui.Options{Dir: dir, Logger: log})
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() { <-sig; fyne.Do(a.Quit) }() // close the data directory cleanly
	w.ShowAndRun()
	u.Close()
}
