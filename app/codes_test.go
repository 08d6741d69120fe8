package app_test

import (
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/thingpost/thingpost/app"
	"github.com/thingpost/thingpost/internal/qr"
	"github.com/thingpost/thingpost/keystore"
	"github.com/thingpost/thingpost/securejoin"
)

func TestParseInvite(t *testing.T) {
	id, err := keystore.New("lamp@demo.home.arpa", "Desk lamp")
	if err != nil {
		t.Fatal(err)
	}
	fpr := id.Fingerprint()
	inv := &securejoin.Invite{Fingerprint: fpr, Addr: id.Addr(), Name: "Desk lamp", V3: true,
		InviteNumber: securejoin.NewToken(), Auth: securejoin.NewToken()}
	want := app.InviteInfo{Name: "Desk lamp", Addr: "lamp@demo.home.arpa", Fingerprint: fpr.String(), FingerprintGroups: fpr.Human()}
	for _, tc := range []struct {
		name, text string
		want       []error // nil: parses to want
		contact    bool
	}{
		{"link", inv.URL(), nil, false},
		{"link with blanks around", "  " + inv.URL() + "\n", nil, false},
		{"OPENPGP4FPR", inv.OpenPGP4FPR(), nil, false},
		{"web address", "https://example.org/", []error{app.ErrNotInvite}, false},
		{"plain text", "hello", []error{app.ErrNotInvite}, false},
		{"damaged fingerprint", strings.Replace(inv.URL(), fpr.String(), fpr.String()[:30], 1), []error{app.ErrBadInvite}, false},
		{"no auth token, no address", "OPENPGP4FPR:" + fpr.String() + "#n=x", []error{app.ErrBadInvite}, false},
		{"group", inv.URL() + "&g=Family&x=" + securejoin.NewToken(), []error{app.ErrGroupInvite}, false},
		{"contact code", "OPENPGP4FPR:" + fpr.String() + "#a=ada%40example.org&n=Ada", []error{app.ErrNotInvite, app.ErrContactCode}, true},
		{"contact code as a link", "https://i.delta.chat/#" + fpr.String() + "&a=ada%40example.org", []error{app.ErrNotInvite, app.ErrContactCode}, true},
		{"contact code, empty tokens", "openpgp4fpr:" + fpr.String() + "%23a=ada%40example.org&i=&s=", []error{app.ErrNotInvite, app.ErrContactCode}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := app.ParseInvite(tc.text)
			if tc.want == nil {
				if err != nil || got != want {
					t.Fatalf("got %+v, %v; want %+v", got, err, want)
				}
				return
			}
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("error %v, want %v", err, w)
				}
			}
			if !tc.contact && errors.Is(err, app.ErrContactCode) {
				t.Errorf("%v: not a contact code", err)
			}
			if got != (app.InviteInfo{}) {
				t.Errorf("info %+v with an error", got)
			}
		})
	}
}

func TestMyCode(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	a := openApp(t, app.Options{Dir: dir})
	if _, err := a.MyCode(); !errors.Is(err, app.ErrNoProfile) {
		t.Fatalf("without a profile: %v", err)
	}
	const name = "Ada Lovelace-König & Co=1"
	p, err := a.CreateProfile(ctx, name, "Ada+home@Example.org", passphrase)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	// The code needs no passphrase: the app stays locked.
	a = openApp(t, app.Options{Dir: dir})
	c, err := a.MyCode()
	if err != nil {
		t.Fatal(err)
	}
	if !a.Locked() {
		t.Fatal("unlocked")
	}
	wantText := "OPENPGP4FPR:" + p.Fingerprint + "#a=ada%2Bhome%40example.org&n=Ada+Lovelace%2DK%C3%B6nig+%26+Co%3D1"
	if c.Text != wantText {
		t.Errorf("text\n %s\nwant\n %s", c.Text, wantText)
	}
	if c.Fingerprint != p.Fingerprint || c.Addr != "ada+home@example.org" || c.Name != name {
		t.Errorf("code %+v, profile %+v", c, p)
	}
	groups := strings.Fields(c.FingerprintGroups)
	if len(groups) != 10 || strings.Join(groups, "") != p.Fingerprint {
		t.Errorf("groups %q", c.FingerprintGroups)
	}
	// A reader that knows only URL query rules gets the same address and name.
	_, frag, _ := strings.Cut(c.Text, "#")
	q, err := url.ParseQuery(frag)
	if err != nil || q.Get("a") != c.Addr || q.Get("n") != name {
		t.Errorf("query %v, %v", q, err)
	}
	scanned, err := qr.Decode(c.QR)
	if err != nil || scanned != c.Text {
		t.Fatalf("QR says %q, %v", scanned, err)
	}
	// Scanned by another app, it is known for what it is.
	if _, err := app.ParseInvite(scanned); !errors.Is(err, app.ErrContactCode) || !errors.Is(err, app.ErrNotInvite) {
		t.Fatalf("parse own code: %v", err)
	}
}

// TestSentinels: the errors a GUI decides on come out of app's own
// methods and match the names app exports.
func TestSentinels(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	a := openApp(t, app.Options{Dir: dir})
	if _, err := a.CreateProfile(ctx, "Ada", "not an address", passphrase); !errors.Is(err, app.ErrBadAddress) {
		t.Errorf("bad address: %v", err)
	}
	if _, err := a.CreateProfile(ctx, "Ada", "ada@example.org", nil); !errors.Is(err, keystore.ErrEmptyPassphrase) {
		t.Errorf("empty passphrase: %v", err)
	}
	if _, err := a.CreateProfile(ctx, "Ada", "ada@example.org", passphrase); err != nil {
		t.Fatal(err)
	}
	a.Close()
	a = openApp(t, app.Options{Dir: dir})
	if err := a.Unlock(ctx, []byte("wrong")); !errors.Is(err, app.ErrWrongPassphrase) {
		t.Errorf("wrong passphrase: %v", err)
	}
	if err := a.Unlock(ctx, passphrase); err != nil {
		t.Fatal(err)
	}

	// A loopback port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	acct := app.Account{Address: "ada@example.org", Password: "pw",
		IMAP: app.Server{HostPort: closed, Security: app.SecurityPlain},
		SMTP: app.Server{HostPort: closed, Security: app.SecurityPlain}}
	for _, tc := range []struct {
		name string
		acct func(app.Account) app.Account
		want error
	}{
		{"refused", func(a app.Account) app.Account { return a }, app.ErrConnRefused},
		{"plain to a remote host", func(a app.Account) app.Account {
			a.IMAP.HostPort, a.SMTP.HostPort = "mail.example.org:143", "mail.example.org:587"
			return a
		}, app.ErrPlainNotLoopback},
		{"no address", func(a app.Account) app.Account { a.Address = ""; return a }, app.ErrInvalidAccount},
		{"host not found", func(a app.Account) app.Account {
			a.IMAP = app.Server{HostPort: "no-such-host.invalid:993", Security: app.SecurityTLS}
			a.SMTP = app.Server{HostPort: "no-such-host.invalid:465", Security: app.SecurityTLS}
			return a
		}, app.ErrDNS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := a.SetAccount(ctx, tc.acct(acct), true); !errors.Is(err, tc.want) {
				t.Fatalf("check: %v, want %v", err, tc.want)
			}
		})
	}
}
