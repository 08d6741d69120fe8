package certpin

import (
	"encoding/pem"
	"os"
	"strings"
	"testing"
)

// opensslPin is what `openssl x509 -in testdata/cert.pem -noout -fingerprint
// -sha256` printed for the fixture.
const opensslPin = "56:D9:46:51:25:E5:47:8A:EA:AC:91:FF:32:1F:20:8C:23:4A:0F:24:C9:FB:C6:F3:E2:18:52:40:38:13:CE:0C"

func fixtureDER(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/cert.pem")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "CERTIFICATE" {
		t.Fatal("testdata/cert.pem: no CERTIFICATE block")
	}
	return b.Bytes
}

func TestFingerprintIsOpenSSLs(t *testing.T) {
	if got := Fingerprint(fixtureDER(t)); got != opensslPin {
		t.Errorf("Fingerprint = %s, want %s", got, opensslPin)
	}
}

func TestParse(t *testing.T) {
	der := fixtureDER(t)
	bare := strings.ReplaceAll(opensslPin, ":", "")
	for _, s := range []string{
		opensslPin,
		strings.ToLower(opensslPin),
		bare,
		strings.ToLower(bare), // what transport printed before
		" " + bare[:32] + " " + bare[32:] + "\t",
	} {
		p, err := Parse(s)
		if err != nil {
			t.Errorf("Parse(%q): %v", s, err)
			continue
		}
		if !p.Matches(der) || p.String() != opensslPin {
			t.Errorf("Parse(%q) = %s, does not match the certificate", s, p)
		}
	}
	for _, s := range []string{"", "abcd", bare[:62], bare + "00", strings.Repeat("zz", 32), "SHA256 Fingerprint=" + opensslPin} {
		if _, err := Parse(s); err == nil || !strings.Contains(err.Error(), "64 hex") {
			t.Errorf("Parse(%q) error = %v, want one saying 64 hex digits", s, err)
		}
	}
}

func TestMatchesOnlyThatCertificate(t *testing.T) {
	der := fixtureDER(t)
	p := Of(der)
	other := append([]byte(nil), der...)
	other[len(other)-1] ^= 1
	if !p.Matches(der) || p.Matches(other) || p.Matches(nil) {
		t.Error("Matches must accept exactly the pinned certificate")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(opensslPin)
	f.Add("ab cd")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(p.String())
		if err != nil || again != p {
			t.Fatalf("Parse(%q).String() = %s does not parse back: %v", s, p, err)
		}
	})
}
