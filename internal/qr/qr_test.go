package qr_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/thingpost/thingpost/internal/qr"
	"github.com/thingpost/thingpost/keystore"
	"github.com/thingpost/thingpost/securejoin"
)

const testInvite = "https://i.delta.chat/#1E5A5B43C6E6E6F22DDD0F0A9DCE4B2A1E8A6B1F&v=3&i=Sk3vQ2o9d0OQb5EykJ4mUWjw&s=Wn1pPGqpDNu2xm3v0vUj6WmS&a=lamp%40demo.home.arpa&n=Desk+lamp"

func codeImage(t testing.TB, text string, size int) image.Image {
	t.Helper()
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	return q.Image(size)
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEG(t testing.TB, img image.Image, quality int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: quality}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// rotate turns img by deg degrees about its centre onto a white canvas
// large enough to hold it (bilinear sampling, like a tilted phone).
func rotate(img image.Image, deg float64) *image.Gray {
	b := img.Bounds()
	w, h := float64(b.Dx()), float64(b.Dy())
	rad := deg * math.Pi / 180
	sin, cos := math.Sin(rad), math.Cos(rad)
	nw := int(math.Abs(w*cos) + math.Abs(h*sin) + 2)
	nh := int(math.Abs(w*sin) + math.Abs(h*cos) + 2)
	out := image.NewGray(image.Rect(0, 0, nw, nh))
	src := image.NewGray(b)
	draw.Draw(src, b, img, b.Min, draw.Src)
	at := func(x, y int) float64 {
		if x < 0 || y < 0 || x >= b.Dx() || y >= b.Dy() {
			return 255
		}
		return float64(src.Pix[y*src.Stride+x])
	}
	for y := 0; y < nh; y++ {
		for x := 0; x < nw; x++ {
			dx, dy := float64(x)-float64(nw)/2, float64(y)-float64(nh)/2
			sx := cos*dx + sin*dy + w/2
			sy := -sin*dx + cos*dy + h/2
			x0, y0 := int(math.Floor(sx)), int(math.Floor(sy))
			fx, fy := sx-float64(x0), sy-float64(y0)
			v := at(x0, y0)*(1-fx)*(1-fy) + at(x0+1, y0)*fx*(1-fy) + at(x0, y0+1)*(1-fx)*fy + at(x0+1, y0+1)*fx*fy
			out.Pix[y*out.Stride+x] = uint8(v)
		}
	}
	return out
}

// blur is a box blur of radius r.
func blur(img image.Image, r int) *image.Gray {
	b := img.Bounds()
	src := image.NewGray(b)
	draw.Draw(src, b, img, b.Min, draw.Src)
	out := image.NewGray(b)
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			sum, n := 0, 0
			for yy := max(0, y-r); yy <= min(b.Dy()-1, y+r); yy++ {
				for xx := max(0, x-r); xx <= min(b.Dx()-1, x+r); xx++ {
					sum += int(src.Pix[yy*src.Stride+xx])
					n++
				}
			}
			out.Pix[y*out.Stride+x] = uint8(sum / n)
		}
	}
	return out
}

// photo is a large noisy colour picture with img pasted in at (x, y) and
// scaled by k, dimmed like a label under poor light.
func photo(img image.Image, w, h, x, y, k int) *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(1, 2))
	for py := 0; py < h; py++ {
		for px := 0; px < w; px++ {
			base := 90 + 80*px/w + 40*py/h
			n := r.IntN(30)
			out.Pix[py*out.Stride+px*4+0] = uint8(min(255, base+n))
			out.Pix[py*out.Stride+px*4+1] = uint8(min(255, base-20+n))
			out.Pix[py*out.Stride+px*4+2] = uint8(min(255, base-40+n))
			out.Pix[py*out.Stride+px*4+3] = 255
		}
	}
	b := img.Bounds()
	for sy := 0; sy < b.Dy()*k; sy++ {
		for sx := 0; sx < b.Dx()*k; sx++ {
			g := color.GrayModel.Convert(img.At(b.Min.X+sx/k, b.Min.Y+sy/k)).(color.Gray).Y
			v := 30 + int(g)*190/255 + r.IntN(20)
			i := (y+sy)*out.Stride + (x+sx)*4
			out.Pix[i], out.Pix[i+1], out.Pix[i+2] = uint8(v), uint8(v), uint8(min(255, v+10))
		}
	}
	return out
}

func TestDecode(t *testing.T) {
	code := codeImage(t, testInvite, 400)
	tests := []struct {
		name string
		data func(t *testing.T) []byte
	}{
		{"clean png", func(t *testing.T) []byte { return encodePNG(t, code) }},
		{"small png", func(t *testing.T) []byte { return encodePNG(t, codeImage(t, testInvite, 200)) }},
		{"jpeg q60", func(t *testing.T) []byte { return encodeJPEG(t, code, 60) }},
		{"rotated 90", func(t *testing.T) []byte { return encodePNG(t, rotate(code, 90)) }},
		{"rotated 17", func(t *testing.T) []byte { return encodePNG(t, rotate(code, 17)) }},
		{"rotated 45 jpeg", func(t *testing.T) []byte { return encodeJPEG(t, rotate(code, 45), 80) }},
		{"blurred", func(t *testing.T) []byte { return encodePNG(t, blur(codeImage(t, testInvite, 600), 2)) }},
		{"12 MP photo", func(t *testing.T) []byte {
			return encodeJPEG(t, photo(codeImage(t, testInvite, 300), 4000, 3000, 1700, 900, 4), 85)
		}},
		{"small code in a photo", func(t *testing.T) []byte {
			return encodeJPEG(t, photo(code, 1600, 1200, 900, 500, 1), 90)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := qr.Decode(tt.data(t))
			if err != nil || got != testInvite {
				t.Fatalf("Decode = %q, %v", got, err)
			}
		})
	}
}

func TestDecodeNoCode(t *testing.T) {
	plain := photo(image.NewGray(image.Rect(0, 0, 1, 1)), 1200, 900, 0, 0, 1)
	if _, err := qr.Decode(encodeJPEG(t, plain, 85)); !errors.Is(err, qr.ErrNoCode) {
		t.Fatalf("photo without a code: %v, want ErrNoCode", err)
	}
	if _, err := qr.Decode([]byte("OPENPGP4FPR:not a picture")); !errors.Is(err, qr.ErrBadImage) {
		t.Fatalf("text: %v, want ErrBadImage", err)
	}
	if _, err := qr.Decode(nil); !errors.Is(err, qr.ErrBadImage) {
		t.Fatalf("nothing: %v, want ErrBadImage", err)
	}
	// A tiny PNG that claims 100000x100000 pixels is refused before
	// decoding.
	small := encodePNG(t, image.NewGray(image.Rect(0, 0, 1, 1)))
	ihdr := small[8+8 : 8+8+13]
	binary.BigEndian.PutUint32(ihdr[0:], 100000)
	binary.BigEndian.PutUint32(ihdr[4:], 100000)
	binary.BigEndian.PutUint32(small[8+8+13:], crc32.ChecksumIEEE(small[8+4:8+8+13]))
	if _, err := qr.Decode(small); !errors.Is(err, qr.ErrBadImage) {
		t.Fatalf("bomb: %v, want ErrBadImage", err)
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, bc := range []struct {
		name string
		img  image.Image
	}{
		{"clean-512", codeImage(b, testInvite, 512)},
		{"photo-12MP", photo(codeImage(b, testInvite, 300), 4000, 3000, 1700, 900, 4)},
	} {
		data := encodeJPEG(b, bc.img, 85)
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := qr.Decode(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestDecodeGeneratedCodes decodes many codes as the things make them:
// before the PURE_BARCODE fallback about 1 in 100 clean 512 px codes failed.
func TestDecodeGeneratedCodes(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for i := range 400 {
		var fpr keystore.Fingerprint
		for j := range fpr {
			fpr[j] = byte(r.UintN(256))
		}
		inv := &securejoin.Invite{Fingerprint: fpr, Addr: "lamp@demo.home.arpa", Name: "Desk lamp",
			InviteNumber: securejoin.NewToken(), Auth: securejoin.NewToken(), V3: true}
		png, err := qr.Encode(inv.URL(), qr.Size)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := qr.Decode(png); err != nil || got != inv.URL() {
			t.Fatalf("code %d (%s): %q, %v", i, inv.URL(), got, err)
		}
	}
}

// darkHalves says which halves of a character cell a dark-background
// terminal shows dark: top, bottom.
var darkHalves = map[rune][2]bool{' ': {true, true}, '█': {false, false}, '▀': {false, true}, '▄': {true, false}}

// TestText paints the terminal blocks as pixels and reads them back.
func TestText(t *testing.T) {
	text, err := qr.Text(testInvite)
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
	if got, err := qr.Decode(encodePNG(t, img)); err != nil || got != testInvite {
		t.Errorf("read %q, %v; want %q", got, err, testInvite)
	}
	if _, err := qr.Text(strings.Repeat("x", 4000)); err == nil || !strings.Contains(err.Error(), "QR code") {
		t.Errorf("too long for a QR code: %v", err)
	}
}
