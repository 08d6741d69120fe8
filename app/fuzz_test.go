package app

import (
	"errors"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/thingpost/thingpost/wire"
)

// FuzzSenderAddr: the outer From of untrusted mail is read without a
// panic, and what comes back is empty or a bare lower-case address.
func FuzzSenderAddr(f *testing.F) {
	f.Add([]byte("From: <Lamp@Demo.Home.Arpa>\r\nTo: x\r\n\r\nbody"))
	f.Add([]byte("from: lamp@x\n\nFrom: other@y"))
	f.Add([]byte("From: \"A <b>\" <c@d>\r\n\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		a := senderAddr(raw)
		if a == "" {
			return
		}
		if a != strings.ToLower(a) || strings.ContainsAny(a, "<>") {
			t.Fatalf("senderAddr = %q", a)
		}
		if p, err := mail.ParseAddress(a); err != nil || p.Address != a {
			t.Fatalf("senderAddr = %q, which is no bare address (%v)", a, err)
		}
	})
}

func TestSenderAddr(t *testing.T) {
	for _, tt := range []struct{ raw, want string }{
		{"From: <Lamp@Demo.Home.Arpa>\r\nTo: x\r\n\r\nbody", "lamp@demo.home.arpa"},
		{"from: Lamp <lamp@x>\n\nFrom: other@y", "lamp@x"},
		{"From: \"A <b>\" <c@d>\r\n\r\n", "c@d"},
		{"From: \"lamp\"@x\r\n\r\n", "lamp@x"},
		{"To: x\r\n\r\nFrom: a@b", ""},
		{"From:>0", ""},
		// Found by FuzzSenderAddr: net/mail unquotes the local part.
		{"From: \"<\"@x\r\n\r\n", ""},
		{"From: x <\"a\\>\"@y>\r\n\r\n", ""},
		{"From: \"a b\"@x\r\n\r\n", ""},
	} {
		if got := senderAddr([]byte(tt.raw)); got != tt.want {
			t.Errorf("senderAddr(%q) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}

// FuzzLearnRole: a welcome text sets one of the three roles or nothing.
func FuzzLearnRole(f *testing.F) {
	f.Add("Hello! I am Desk lamp. You are my owner. Send \"help\" to see what I can do.")
	f.Add("Hello! I am X. You are my guest until 2026-03-01 12:00 UTC. Send")
	f.Fuzz(func(t *testing.T, text string) {
		var th Thing
		learnRole(&th, text)
		switch th.Role {
		case "", wire.RoleOwner, wire.RoleMember, wire.RoleGuest:
		default:
			t.Fatalf("role %q", th.Role)
		}
		if !th.RoleExpires.IsZero() && th.RoleExpires.Location() != time.UTC {
			t.Fatalf("expiry %v not in UTC", th.RoleExpires)
		}
	})
}

// FuzzParseInvite: any text gives an invite with a 40-digit fingerprint
// and an address, or an error wrapping one of the scan sentinels; a
// contact code is never mistaken for an invite.
func FuzzParseInvite(f *testing.F) {
	const fpr = "0123456789ABCDEF0123456789ABCDEF01234567"
	f.Add("OPENPGP4FPR:" + fpr + "#a=ada%40example.org&n=Ada")
	f.Add("https://i.delta.chat/#" + fpr + "&v=3&i=AAAAAAAAAAAAAAAA&s=BBBBBBBBBBBBBBBB&a=x%40y.z&n=Desk+lamp")
	f.Add("openpgp4fpr:" + fpr + "%23a=x%40y&i=&s=")
	f.Add("https://i.delta.chat#" + fpr)
	f.Fuzz(func(t *testing.T, text string) {
		info, err := ParseInvite(text)
		if err != nil {
			if !errors.Is(err, ErrNotInvite) && !errors.Is(err, ErrBadInvite) && !errors.Is(err, ErrGroupInvite) {
				t.Fatalf("unexpected error %v", err)
			}
			if errors.Is(err, ErrContactCode) && !errors.Is(err, ErrNotInvite) {
				t.Fatalf("contact code not ErrNotInvite: %v", err)
			}
			return
		}
		if len(info.Fingerprint) != 40 || info.Addr == "" || strings.ReplaceAll(info.FingerprintGroups, " ", "") != info.Fingerprint {
			t.Fatalf("info %+v", info)
		}
		if isContactCode(strings.TrimSpace(text)) {
			t.Fatalf("%q is an invite and a contact code", text)
		}
	})
}
