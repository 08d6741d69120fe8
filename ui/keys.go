package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"
)

// shortcut is one keyboard shortcut of the window.
type shortcut struct {
	key  fyne.KeyName
	mod  fyne.KeyModifier
	name string
	run  func(u *UI)
}

// shortcuts are the window's keyboard shortcuts. Tab and Shift+Tab move
// between controls; Space or Return presses the focused button, switch or
// card; arrow keys move a focused slider.
func shortcuts() []shortcut {
	ctrl := fyne.KeyModifierShortcutDefault
	openThing := func(n int) func(*UI) {
		return func(u *UI) {
			if ts := u.sortedThings(); n < len(ts) && u.home != nil {
				u.showThing(ts[n].ID)
			}
		}
	}
	out := []shortcut{
		{fyne.KeyN, ctrl, "Add a thing", func(u *UI) { u.showScan() }},
		{fyne.KeyO, ctrl, "Choose a picture of a code", func(u *UI) {
			if s := u.showScan(); s != nil && !s.busy {
				s.pickFile()
			}
		}},
		{fyne.KeyD, ctrl, "Demo home", func(u *UI) { u.showDemo() }},
		{fyne.KeyI, ctrl, "My code", func(u *UI) {
			if u.home != nil {
				u.showMyCode()
			}
		}},
		{fyne.KeyComma, ctrl, "Settings", func(u *UI) {
			if u.home != nil {
				u.showSettings()
			}
		}},
		{fyne.KeyLeft, fyne.KeyModifierAlt, "Back", func(u *UI) { u.back() }},
		{fyne.KeyHome, fyne.KeyModifierAlt, "My home", func(u *UI) { u.backToRoot() }},
	}
	for i, k := range []fyne.KeyName{fyne.Key1, fyne.Key2, fyne.Key3, fyne.Key4, fyne.Key5, fyne.Key6, fyne.Key7, fyne.Key8, fyne.Key9} {
		out = append(out, shortcut{k, ctrl, "", openThing(i)})
	}
	return out
}

func (u *UI) installShortcuts() {
	c := u.win.Canvas()
	for _, s := range shortcuts() {
		run := s.run
		c.AddShortcut(&desktop.CustomShortcut{KeyName: s.key, Modifier: s.mod}, func(fyne.Shortcut) { run(u) })
	}
	// Escape goes back when no control has the focus (a focused control
	// takes the key itself).
	c.SetOnTypedKey(func(e *fyne.KeyEvent) {
		if e.Name == fyne.KeyEscape {
			u.back()
		}
	})
}

// shortcutRows are the label-value rows of the settings' keyboard list.
func shortcutRows() []fyne.CanvasObject {
	var rows []fyne.CanvasObject
	for _, s := range shortcuts() {
		if s.name == "" {
			continue
		}
		rows = append(rows, widget.NewLabel(s.name), widget.NewLabel(shortcutText(s.key, s.mod)))
	}
	return append(rows,
		widget.NewLabel("Open thing 1 to 9"), widget.NewLabel("Ctrl+1 … Ctrl+9"),
		widget.NewLabel("Back (nothing focused)"), widget.NewLabel("Escape"),
		widget.NewLabel("Next / previous control"), widget.NewLabel("Tab / Shift+Tab"),
		widget.NewLabel("Press, switch, open"), widget.NewLabel("Space or Return"),
	)
}

func shortcutText(k fyne.KeyName, m fyne.KeyModifier) string {
	s := ""
	switch m {
	case fyne.KeyModifierSuper:
		s = "Cmd+"
	case fyne.KeyModifierControl:
		s = "Ctrl+"
	case fyne.KeyModifierAlt:
		s = "Alt+"
	}
	return s + string(k)
}
