package ui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// Colours of our own, beside Fyne's standard names.
const (
	colorCard       fyne.ThemeColorName = "thingpostCard"       // a thing card, a panel
	colorCardBorder fyne.ThemeColorName = "thingpostCardBorder" // its outline
	colorOn         fyne.ThemeColorName = "thingpostOn"         // a lamp that is on
)

// thingpostTheme is Fyne's default theme with the teal of the app icon,
// cards that stand out from a slightly grey background, and rounder inputs.
// It follows the system's light or dark variant.
type thingpostTheme struct{ base fyne.Theme }

func newTheme() fyne.Theme { return thingpostTheme{base: theme.DefaultTheme()} }

func rgb(hex uint32) color.NRGBA {
	return color.NRGBA{R: uint8(hex >> 16), G: uint8(hex >> 8), B: uint8(hex), A: 0xff}
}

func withAlpha(c color.Color, a uint8) color.Color {
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	n.A = a
	return n
}

func (t thingpostTheme) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	dark := v != theme.VariantLight // as the base theme reads other values
	pick := func(light, darkC uint32) color.Color {
		if dark {
			return rgb(darkC)
		}
		return rgb(light)
	}
	switch n {
	case theme.ColorNamePrimary:
		return pick(0x0d9488, 0x14b8a6)
	case theme.ColorNameFocus:
		return withAlpha(pick(0x0d9488, 0x2dd4bf), 0x70)
	case theme.ColorNameHyperlink:
		return pick(0x0f766e, 0x5eead4)
	case theme.ColorNameBackground:
		return pick(0xf1f4f6, 0x14171b)
	case theme.ColorNameHeaderBackground, theme.ColorNameMenuBackground, theme.ColorNameOverlayBackground:
		return pick(0xffffff, 0x1d2126)
	case colorCard:
		return pick(0xffffff, 0x1f2329)
	case colorCardBorder:
		return pick(0xdde3e8, 0x2c3238)
	case colorOn:
		return pick(0xf59e0b, 0xfbbf24)
	case theme.ColorNameSuccess:
		return pick(0x15803d, 0x4ade80)
	case theme.ColorNameWarning:
		return pick(0xb45309, 0xfbbf24)
	case theme.ColorNameError:
		return pick(0xc81e1e, 0xf87171)
	case theme.ColorNameDisabled:
		return pick(0x6b7480, 0x8d96a0)
	case theme.ColorNamePlaceHolder:
		return pick(0x7b8490, 0x7d8690)
	case theme.ColorNameSelection:
		return withAlpha(pick(0x0d9488, 0x14b8a6), 0x40)
	}
	return t.base.Color(n, v)
}

func (t thingpostTheme) Font(s fyne.TextStyle) fyne.Resource { return t.base.Font(s) }

func (t thingpostTheme) Icon(n fyne.ThemeIconName) fyne.Resource { return t.base.Icon(n) }

func (t thingpostTheme) Size(n fyne.ThemeSizeName) float32 {
	switch n {
	case theme.SizeNameInputRadius, theme.SizeNameSelectionRadius:
		return 6
	case theme.SizeNameHeadingText:
		return 22
	case theme.SizeNameSubHeadingText:
		return 17
	}
	return t.base.Size(n)
}
