package securejoin

import (
	"errors"
	"strings"
	"testing"
)

const (
	testFPR  = "1A2B3C4D5E6F708192A3B4C5D6E7F8091A2B3C4D"
	testI    = "AbCdEfGhIjKlMnOpQrStUvWx"
	testS    = "zyxwvutsrqponmlkjihg-_12"
	testAddr = "lamp@home.example"
)

func TestParseInvite(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Invite
	}{
		{"link v3", "https://i.delta.chat/#" + testFPR + "&v=3&i=" + testI + "&s=" + testS + "&a=lamp%40home.example&n=Kitchen%20lamp",
			Invite{Addr: testAddr, Name: "Kitchen lamp", InviteNumber: testI, Auth: testS, V3: true}},
		{"link without slash, legacy", "https://i.delta.chat#" + testFPR + "&i=" + testI + "&s=" + testS + "&a=lamp@home.example",
			Invite{Addr: testAddr, InviteNumber: testI, Auth: testS}},
		{"openpgp4fpr lower-case prefix, plus for space", "openpgp4fpr:" + testFPR + "#a=Lamp%40Home.example&n=Kitchen+lamp&i=" + testI + "&s=" + testS,
			Invite{Addr: testAddr, Name: "Kitchen lamp", InviteNumber: testI, Auth: testS}},
		{"openpgp4fpr with %23", "OPENPGP4FPR:" + strings.ToLower(testFPR) + "%23a=lamp%40home.example&i=" + testI + "&s=" + testS + "&v=3",
			Invite{Addr: testAddr, InviteNumber: testI, Auth: testS, V3: true}},
		{"v3 without invite number", "https://i.delta.chat/#" + testFPR + "&s=" + testS + "&a=lamp%40home.example",
			Invite{Addr: testAddr, Auth: testS, V3: true}},
		{"shortened name", "https://i.delta.chat/#" + testFPR + "&v=3&i=" + testI + "&s=" + testS + "&a=lamp%40home.example&n=A%20very%20long%20name%20of%20a%20la_",
			Invite{Addr: testAddr, Name: "A very long name of a la…", InviteNumber: testI, Auth: testS, V3: true}},
		{"surrounding whitespace, unknown params ignored", "  https://i.delta.chat/#" + testFPR + "&v=3&i=" + testI + "&s=" + testS + "&a=lamp%40home.example&r=x%40y.z&zz=1\n",
			Invite{Addr: testAddr, InviteNumber: testI, Auth: testS, V3: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseInvite(tt.in)
			if err != nil {
				t.Fatalf("ParseInvite: %v", err)
			}
			if got.Fingerprint.String() != testFPR {
				t.Errorf("fingerprint %s", got.Fingerprint)
			}
			got.Fingerprint = tt.want.Fingerprint
			if *got != tt.want {
				t.Errorf("got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

func TestParseInviteRejects(t *testing.T) {
	good := "&i=" + testI + "&s=" + testS + "&a=lamp%40home.example"
	tests := []struct {
		name, in string
		want     error
	}{
		{"empty", "", ErrNotInvite},
		{"web link", "https://example.com/#" + testFPR + good, ErrNotInvite},
		{"plain text", "hello lamp", ErrNotInvite},
		{"DCLOGIN is not an invite", "DCLOGIN:a@b.c?p=x&v=1", ErrNotInvite},
		{"too long", "https://i.delta.chat/#" + testFPR + good + "&n=" + strings.Repeat("x", 3000), ErrNotInvite},
		{"short fingerprint", "https://i.delta.chat/#" + testFPR[:38] + good, ErrBadInvite},
		{"v6 fingerprint", "https://i.delta.chat/#" + testFPR + testFPR[:24] + good, ErrBadInvite},
		{"non-hex fingerprint", "https://i.delta.chat/#" + strings.Repeat("Z", 40) + good, ErrBadInvite},
		{"no address", "https://i.delta.chat/#" + testFPR + "&i=" + testI + "&s=" + testS, ErrBadInvite},
		{"bad address", "https://i.delta.chat/#" + testFPR + "&i=" + testI + "&s=" + testS + "&a=nobody", ErrBadInvite},
		{"no auth", "https://i.delta.chat/#" + testFPR + "&i=" + testI + "&a=lamp%40home.example", ErrBadInvite},
		{"short auth", "https://i.delta.chat/#" + testFPR + "&i=" + testI + "&s=abc&a=lamp%40home.example", ErrBadInvite},
		{"auth outside alphabet", "https://i.delta.chat/#" + testFPR + "&i=" + testI + "&s=abc$def%2Bghijkl&a=lamp%40home.example", ErrBadInvite},
		{"bad invite number", "https://i.delta.chat/#" + testFPR + "&i=a/b&s=" + testS + "&a=lamp%40home.example", ErrBadInvite},
		{"duplicate parameter", "https://i.delta.chat/#" + testFPR + good + "&s=" + testS, ErrBadInvite},
		{"bad percent escape in name", "https://i.delta.chat/#" + testFPR + good + "&n=%zz", ErrBadInvite},
		{"invalid UTF-8 name", "https://i.delta.chat/#" + testFPR + good + "&n=%ff%fe", ErrBadInvite},
		{"group invite", "https://i.delta.chat/#" + testFPR + "&v=3&x=" + testI + good + "&g=Family", ErrGroupInvite},
		{"broadcast invite", "https://i.delta.chat/#" + testFPR + "&v=3&x=" + testI + "&j=" + testI + "&s=" + testS + "&a=lamp%40home.example&b=News", ErrGroupInvite},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := ParseInvite(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseInvite = %+v, %v; want %v", inv, err, tt.want)
			}
			if inv != nil {
				t.Fatalf("returned an invite with an error: %+v", inv)
			}
		})
	}
}

func TestInviteURLRoundTrip(t *testing.T) {
	inv, err := ParseInvite("https://i.delta.chat/#" + testFPR + "&v=3&i=" + testI + "&s=" + testS + "&a=lamp%40home.example")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", "Kitchen lamp", "Wohnzimmer-Lampe äöü & co", "A name that is far too long for a code"} {
		inv.Name = name
		for _, code := range []string{inv.URL(), inv.OpenPGP4FPR()} {
			got, err := ParseInvite(code)
			if err != nil {
				t.Fatalf("ParseInvite(%q): %v", code, err)
			}
			want := *inv
			want.Name = shorten(name)
			if strings.HasSuffix(want.Name, "_") {
				want.Name = strings.TrimSuffix(want.Name, "_") + "…"
			}
			if *got != want {
				t.Errorf("round trip of %q:\ngot  %+v\nwant %+v", code, *got, want)
			}
		}
	}
	u := inv.URL()
	if !strings.HasPrefix(u, "https://i.delta.chat/#"+testFPR+"&v=3&i=") || !strings.Contains(u, "&a=lamp%40home.example") {
		t.Errorf("URL %q is not in Delta Chat's form", u)
	}
}

func TestNewToken(t *testing.T) {
	a, b := NewToken(), NewToken()
	if a == b || len(a) != 24 || !validToken(a) {
		t.Errorf("tokens %q %q", a, b)
	}
}

func FuzzParseInvite(f *testing.F) {
	f.Add("https://i.delta.chat/#" + testFPR + "&v=3&i=" + testI + "&s=" + testS + "&a=lamp%40home.example&n=Kitchen%20lamp")
	f.Add("OPENPGP4FPR:" + testFPR + "%23a=lamp%40home.example&i=" + testI + "&s=" + testS)
	f.Add("https://i.delta.chat#" + testFPR + "&s=" + testS + "&a=a%40b.c&n=%ff")
	f.Fuzz(func(t *testing.T, s string) {
		inv, err := ParseInvite(s)
		if err != nil {
			if inv != nil {
				t.Fatal("invite returned with error")
			}
			return
		}
		again, err := ParseInvite(inv.URL())
		if err != nil {
			t.Fatalf("re-parse of %q: %v", inv.URL(), err)
		}
		if again.Fingerprint != inv.Fingerprint || again.Addr != inv.Addr || again.Auth != inv.Auth || again.InviteNumber != inv.InviteNumber || again.V3 != inv.V3 {
			t.Fatalf("round trip changed %+v to %+v", inv, again)
		}
	})
}
