package securejoin

import (
	"fmt"

	qrcode "github.com/skip2/go-qrcode"
)

// QRSize is the side, in pixels, of the invite images things send and write
// (invite.png): big enough for a phone camera, small as a PNG.
const QRSize = 512

// QRPNG renders text (an invite URL) as a square QR code PNG of size pixels
// (larger if the code needs more), with medium error correction, as all
// Thingpost codes are made.
func QRPNG(text string, size int) ([]byte, error) {
	png, err := qrcode.Encode(text, qrcode.Medium, size)
	if err != nil {
		return nil, fmt.Errorf("QR code: %w", err)
	}
	return png, nil
}

// QRText renders text as the same QR code in Unicode half blocks for a
// terminal with a dark background: a character is one module wide and two
// high, a space is dark.
func QRText(text string) (string, error) {
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return "", fmt.Errorf("QR code: %w", err)
	}
	return q.ToSmallString(false), nil
}
