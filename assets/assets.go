// Package assets holds Thingpost's icons: the app icon and the small
// single-colour SVG icons of the interface (the kinds of things and a few
// marks). It knows nothing of Fyne: package ui wraps the bytes into themed
// resources, so the icons follow the light or dark theme.
package assets

//go:generate go run genicon.go icons/app.svg icons/app.png 512

import (
	"embed"
	"path"
)

//go:embed icons
var icons embed.FS

// AppIconPNG is the app icon, 512x512 PNG (also FyneApp.toml's Icon).
func AppIconPNG() []byte { return read("app.png") }

// Icon returns the SVG icon of that name ("light", "thermostat", "lock",
// "unlock", "thing", "verified", "scan", "qr"), or nil when there is none.
func Icon(name string) []byte {
	if !plainName(name) {
		return nil
	}
	return read(name + ".svg")
}

// KindIcon is the icon for a kind of thing; unknown kinds get "thing".
func KindIcon(kind string) []byte {
	if b := Icon(kind); b != nil && kind != "app" {
		return b
	}
	return Icon("thing")
}

// plainName keeps a kind sent by a thing from naming a file elsewhere.
func plainName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}

func read(name string) []byte {
	b, err := icons.ReadFile(path.Join("icons", name))
	if err != nil {
		return nil
	}
	return b
}
