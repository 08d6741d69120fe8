//go:build ignore

// genicon renders an SVG to a PNG (the app icon for FyneApp.toml and the
// stores): go run genicon.go icons/app.svg icons/app.png 512

package main

import (
	"image"
	"image/png"
	"os"
	"strconv"

	"github.com/srwiley/oksvg"
	"github.com/srwiley/rasterx"
)

func main() {
	in, out := os.Args[1], os.Args[2]
	size, _ := strconv.Atoi(os.Args[3])
	icon, err := oksvg.ReadIcon(in, oksvg.StrictErrorMode)
	if err != nil {
		panic(err)
	}
	icon.SetTarget(0, 0, float64(size), float64(size))
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	icon.Draw(rasterx.NewDasher(size, size, rasterx.NewScannerGV(size, size, img, img.Bounds())), 1)
	f, _ := os.Create(out)
	defer f.Close()
	png.Encode(f, img)
}
