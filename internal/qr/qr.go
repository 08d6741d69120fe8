// Package qr reads the QR code in a picture (a photo of a thing's label, a
// screenshot) and renders text as a QR code picture. It knows nothing of
// what the code says.
package qr

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // photos of labels and screens
	_ "image/png"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	goqrcode "github.com/skip2/go-qrcode"
)

// Errors Decode wraps with the details.
var (
	// ErrNoCode means an image holds no readable QR code.
	ErrNoCode = errors.New("no QR code found in the image")
	// ErrBadImage means the data is not a PNG or JPEG image this package
	// can read, or it is too large.
	ErrBadImage = errors.New("not a readable PNG or JPEG image")
)

// Limits on pictures given to Decode.
const (
	// MaxImageBytes bounds the file.
	MaxImageBytes = 40 << 20
	// maxImagePixels bounds width times height before decoding, so that a
	// small file cannot make the decoder allocate gigabytes.
	maxImagePixels = 100_000_000
	// scanSize is the longer side a picture is scaled down to: a 12 MP
	// photo fails to decode until it is about this size.
	scanSize = 1200
)

// Decode finds a QR code in a PNG or JPEG picture (a photo of a label or
// of a screen) and returns its text. The picture is converted to grey and
// scaled down to about 1200 pixels on its longer side, then searched with
// gozxing's TRY_HARDER; smaller scales are tried when that fails.
// ErrNoCode when there is no readable code, ErrBadImage when the data is
// not a picture it can read.
func Decode(data []byte) (string, error) {
	if len(data) > MaxImageBytes {
		return "", fmt.Errorf("%w: %d bytes, at most %d", ErrBadImage, len(data), MaxImageBytes)
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadImage, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > maxImagePixels {
		return "", fmt.Errorf("%w: %dx%d pixels is too large", ErrBadImage, cfg.Width, cfg.Height)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadImage, err)
	}
	long := max(img.Bounds().Dx(), img.Bounds().Dy())
	sizes := []int{min(long, scanSize)}
	for _, s := range []int{800, 500, 350} {
		if s < sizes[len(sizes)-1] {
			sizes = append(sizes, s)
		}
	}
	for _, size := range sizes {
		if text, err := decodeGray(grayScaled(img, size)); err == nil {
			return text, nil
		}
	}
	return "", ErrNoCode
}

func decodeGray(g *image.Gray) (string, error) {
	hard := map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true}
	// A clean code on a screen or a generated image sometimes fails the
	// finder-pattern search (about 1 in 100 of go-qrcode's 512 px codes):
	// PURE_BARCODE reads such an image directly.
	pure := map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true, gozxing.DecodeHintType_PURE_BARCODE: true}
	src := gozxing.NewLuminanceSourceFromImage(g)
	var errs []error
	for _, try := range []struct {
		bin   gozxing.Binarizer
		hints map[gozxing.DecodeHintType]any
	}{
		{gozxing.NewHybridBinarizer(src), hard},
		{gozxing.NewGlobalHistgramBinarizer(src), hard},
		{gozxing.NewHybridBinarizer(src), pure},
	} {
		bmp, err := gozxing.NewBinaryBitmap(try.bin)
		if err != nil {
			return "", err
		}
		res, err := qrcode.NewQRCodeReader().Decode(bmp, try.hints)
		if err == nil {
			return res.GetText(), nil
		}
		errs = append(errs, err)
	}
	return "", errors.Join(errs...)
}

// grayScaled converts img to grey with its longer side at most size
// pixels, averaging the source pixels that fall into each target pixel.
func grayScaled(img image.Image, size int) *image.Gray {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	tw, th := w, h
	if long := max(w, h); long > size {
		tw, th = max(1, w*size/long), max(1, h*size/long)
	}
	sum := make([]uint32, tw*th)
	cnt := make([]uint32, tw*th)
	lum := luminance(img)
	for y := 0; y < h; y++ {
		ty := y * th / h
		for x := 0; x < w; x++ {
			i := ty*tw + x*tw/w
			sum[i] += uint32(lum(b.Min.X+x, b.Min.Y+y))
			cnt[i]++
		}
	}
	g := image.NewGray(image.Rect(0, 0, tw, th))
	for i := range sum {
		if cnt[i] > 0 {
			g.Pix[i] = uint8(sum[i] / cnt[i])
		}
	}
	return g
}

// luminance reads the grey value of a pixel, directly from the pixel
// buffers of the types JPEG and PNG decode to (a 12 MP photo is too slow
// through image.Image.At).
func luminance(img image.Image) func(x, y int) uint8 {
	switch m := img.(type) {
	case *image.YCbCr:
		return func(x, y int) uint8 { return m.Y[m.YOffset(x, y)] }
	case *image.Gray:
		return func(x, y int) uint8 { return m.Pix[m.PixOffset(x, y)] }
	case *image.RGBA:
		return func(x, y int) uint8 {
			p := m.Pix[m.PixOffset(x, y):]
			return uint8((299*uint32(p[0]) + 587*uint32(p[1]) + 114*uint32(p[2])) / 1000)
		}
	case *image.NRGBA:
		return func(x, y int) uint8 {
			p := m.Pix[m.PixOffset(x, y):]
			return uint8((299*uint32(p[0]) + 587*uint32(p[1]) + 114*uint32(p[2])) / 1000)
		}
	}
	return func(x, y int) uint8 { return color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y }
}

// Size is the side, in pixels, of the code pictures Thingpost makes (an
// invite.png, the QR of a contact code): big enough for a phone camera, small
// as a PNG.
const Size = 512

// Encode renders text as a square QR code PNG of size pixels (larger if the
// code needs more), with medium error correction, as all Thingpost codes are
// made.
func Encode(text string, size int) ([]byte, error) {
	png, err := goqrcode.Encode(text, goqrcode.Medium, size)
	if err != nil {
		return nil, fmt.Errorf("QR code: %w", err)
	}
	return png, nil
}

// Text renders text as the same QR code in Unicode half blocks for a terminal
// with a dark background: a character is one module wide and two high, a
// space is dark.
func Text(text string) (string, error) {
	q, err := goqrcode.New(text, goqrcode.Medium)
	if err != nil {
		return "", fmt.Errorf("QR code: %w", err)
	}
	return q.ToSmallString(false), nil
}
