package queue

import (
	"crypto/ed25519"
	"strings"
	"testing"
)

func TestDKIMDomain(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	for _, tc := range []struct {
		from    string
		domains []string
		want    string
	}{
		{"alice@home.test", nil, "d=home.test"},
		{"Alice <alice@Home.Test>", []string{"home.test", "other.test"}, "d=home.test"},
		{"alice@other.test", []string{"home.test", "other.test"}, "d=other.test"},
		{"alice@stranger.test", []string{"home.test"}, "d=home.test"},
	} {
		sig, err := dkimSignature([]byte("From: "+tc.from+"\r\nSubject: x\r\n\r\nbody\r\n"), &DKIM{Selector: "s", Signer: key, Domains: tc.domains})
		if err != nil || !strings.Contains(sig, tc.want+";") {
			t.Errorf("From %q, domains %v: %q, %v; want %s", tc.from, tc.domains, sig, err, tc.want)
		}
	}
	if _, err := dkimSignature([]byte("Subject: no from\r\n\r\nbody\r\n"), &DKIM{Selector: "s", Signer: key}); err == nil {
		t.Error("signed a message without From")
	}
}

// FuzzDKIMSignature: signing any message either fails cleanly or produces a
// signature that verifies.
func FuzzDKIMSignature(f *testing.F) {
	f.Add([]byte("From: a@home.test\r\nTo: b@x.test\r\nSubject: hi\r\n\r\nbody\r\n"))
	f.Add([]byte("From: a@home.test\nSubject:  folded\n\tline\n\n\n\nbody  with  spaces \n"))
	f.Add([]byte("From: =?utf-8?q?A?= <a@home.test>\r\nFrom: b@home.test\r\n\r\n"))
	pub, key, _ := ed25519.GenerateKey(nil)
	txt := dkimTXT(f, pub)
	f.Fuzz(func(t *testing.T, raw []byte) {
		sig, err := dkimSignature(raw, &DKIM{Selector: "s", Signer: key, Domains: []string{"home.test"}})
		if err != nil {
			return
		}
		signed := append([]byte(sig), raw...)
		verifs, err := verifyDKIM(signed, "s._domainkey.home.test", txt)
		if err != nil || len(verifs) != 1 || verifs[0].Err != nil {
			var verr error
			if len(verifs) == 1 {
				verr = verifs[0].Err
			}
			t.Fatalf("our signature does not verify: %v / %v\n%q", err, verr, signed)
		}
	})
}
