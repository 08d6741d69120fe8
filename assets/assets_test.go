package assets

import (
	"bytes"
	"image/png"
	"testing"
)

func TestIcons(t *testing.T) {
	img, err := png.Decode(bytes.NewReader(AppIconPNG()))
	if err != nil {
		t.Fatalf("app icon: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 512 || b.Dy() != 512 {
		t.Errorf("app icon is %dx%d, want 512x512", b.Dx(), b.Dy())
	}
	for _, name := range []string{"light", "thermostat", "lock", "unlock", "thing", "verified", "scan", "qr"} {
		if b := Icon(name); !bytes.HasPrefix(b, []byte("<svg")) {
			t.Errorf("icon %q missing or not SVG", name)
		}
	}
	tests := []struct{ kind, want string }{
		{"light", "light"}, {"lock", "lock"}, {"toaster", "thing"}, {"", "thing"}, {"app", "thing"}, {"../icons/app", "thing"},
	}
	for _, tt := range tests {
		if !bytes.Equal(KindIcon(tt.kind), Icon(tt.want)) {
			t.Errorf("KindIcon(%q) is not the %q icon", tt.kind, tt.want)
		}
	}
}
