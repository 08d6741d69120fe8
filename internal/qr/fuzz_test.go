package qr_test

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"testing"

	goqrcode "github.com/skip2/go-qrcode"

	"github.com/thingpost/thingpost/internal/qr"
)

// FuzzDecode: any bytes give a code, ErrNoCode or ErrBadImage, never a
// panic or another error.
func FuzzDecode(f *testing.F) {
	code, err := goqrcode.Encode("OPENPGP4FPR:ABCD#a=x%40y.z", goqrcode.Low, 64)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(code)
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 3, 3)))
	f.Add(b.Bytes())
	f.Add([]byte("\xff\xd8\xff\xe0 not really a jpeg"))
	f.Fuzz(func(t *testing.T, data []byte) {
		text, err := qr.Decode(data)
		if err != nil && !errors.Is(err, qr.ErrNoCode) && !errors.Is(err, qr.ErrBadImage) {
			t.Fatalf("unexpected error %v", err)
		}
		if err != nil && text != "" {
			t.Fatalf("text %q with error %v", text, err)
		}
	})
}
