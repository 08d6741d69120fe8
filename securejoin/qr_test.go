package securejoin

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

func testInvite(t *testing.T) *Invite {
	t.Helper()
	inv, err := ParseInvite("https://i.delta.chat/#" + testFPR + "&v=3&i=" + testI + "&s=" + testS + "&a=lamp%40home.example&n=Kitchen%20lamp")
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// scan reads the QR code in img with gozxing, independently of the encoder.
func scan(t *testing.T, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	return res.GetText()
}

func TestQRPNG(t *testing.T) {
	inv := testInvite(t)
	data, err := QRPNG(inv.URL(), QRSize)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != QRSize || b.Dy() != QRSize {
		t.Errorf("image is %dx%d, want %d square", b.Dx(), b.Dy(), QRSize)
	}
	got, err := ParseInvite(scan(t, img))
	if err != nil || *got != *inv {
		t.Errorf("scanned %+v, %v; want %+v", got, err, inv)
	}
	if _, err := QRPNG(strings.Repeat("x", 4000), QRSize); err == nil || !strings.Contains(err.Error(), "QR code") {
		t.Errorf("too long for a QR code: %v", err)
	}
}

// darkHalves says which halves of a character cell a dark-background
// terminal shows dark: top, bottom.
var darkHalves = map[rune][2]bool{' ': {true, true}, '█': {false, false}, '▀': {false, true}, '▄': {true, false}}

// TestQRText paints the terminal blocks as pixels and scans them.
func TestQRText(t *testing.T) {
	inv := testInvite(t)
	text, err := QRText(inv.URL())
	if err != nil {
		t.Fatal(err)
	}
	const scale = 4
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	width := len([]rune(lines[0]))
	img := image.NewGray(image.Rect(0, 0, width*scale, 2*len(lines)*scale))
	for y, line := range lines {
		for x, r := range []rune(line) {
			halves, ok := darkHalves[r]
			if !ok {
				t.Fatalf("line %d: unexpected %q", y, r)
			}
			for i, dark := range halves {
				c := color.Gray{Y: 255}
				if dark {
					c = color.Gray{}
				}
				for py := range scale {
					for px := range scale {
						img.SetGray(x*scale+px, (2*y+i)*scale+py, c)
					}
				}
			}
		}
	}
	if got := scan(t, img); got != inv.URL() {
		t.Errorf("scanned %q, want %q", got, inv.URL())
	}
}
