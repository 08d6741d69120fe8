package envelope

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// unfold joins a folded header field back into one line (RFC 5322 3.2.2).
func unfold(field string) string {
	return strings.ReplaceAll(field, "\r\n", "")
}

func TestAutocryptFieldRoundTrip(t *testing.T) {
	var tk testKeys
	alice := tk.id(t, "alice@home.example")
	for _, tt := range []struct {
		name string
		a    *Autocrypt
	}{
		{"Autocrypt", NewAutocrypt(alice.Public())},
		{"Autocrypt-Gossip", NewGossip(alice.Public())},
	} {
		f := tt.a.Field(tt.name)
		lines := strings.Split(strings.TrimSuffix(f, "\r\n"), "\r\n")
		for i, l := range lines {
			if len(l) > 78 {
				t.Errorf("%s line %d has %d characters", tt.name, i, len(l))
			}
			if i > 0 && !strings.HasPrefix(l, " ") {
				t.Errorf("%s continuation line %d does not start with a space", tt.name, i)
			}
		}
		if !strings.HasSuffix(f, "\r\n") {
			t.Errorf("%s field does not end in CRLF", tt.name)
		}
		name, value, _ := strings.Cut(unfold(f), ": ")
		if name != tt.name {
			t.Errorf("field name %q", name)
		}
		got, err := ParseAutocrypt(value)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got.Addr != "alice@home.example" || got.PreferEncrypt != tt.a.PreferEncrypt || got.Key.Fingerprint() != alice.Fingerprint() {
			t.Errorf("%s: %+v", tt.name, got)
		}
		// Value is the same header on one line, keydata last.
		if v := tt.a.Value(); strings.ContainsAny(v, "\r\n") || !strings.HasSuffix(v, alice.Public().Keydata()) {
			t.Errorf("Value %q", v)
		}
		if tt.name == "Autocrypt-Gossip" && strings.Contains(f, "prefer-encrypt") {
			t.Error("gossip carries prefer-encrypt")
		}
	}
}

func TestParseAutocrypt(t *testing.T) {
	var tk testKeys
	alice := tk.id(t, "alice@home.example")
	kd := alice.Public().Keydata()
	secret, err := alice.ExportPrivate([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, value string
		ok, mutual  bool
	}{
		{"Level 1 form", "addr=alice@home.example; prefer-encrypt=mutual; keydata=" + kd, true, true},
		{"no prefer-encrypt", "addr=alice@home.example; keydata=" + kd, true, false},
		{"other prefer-encrypt means none", "addr=alice@home.example; prefer-encrypt=reset; keydata=" + kd, true, false},
		{"upper-case addr", "addr=Alice@Home.Example; keydata=" + kd, true, false},
		{"keydata first, spaces and folding whitespace inside", "keydata=" + kd[:30] + "\r\n " + kd[30:90] + " \t" + kd[90:] + ";addr=alice@home.example", true, false},
		{"underscore attribute ignored", "addr=alice@home.example; _verified=1; keydata=" + kd, true, false},
		{"trailing semicolon", "addr=alice@home.example; keydata=" + kd + ";", true, false},
		{"unknown attribute invalidates", "addr=alice@home.example; type=1; keydata=" + kd, false, false},
		{"repeated attribute", "addr=alice@home.example; addr=alice@home.example; keydata=" + kd, false, false},
		{"no addr", "keydata=" + kd, false, false},
		{"no keydata", "addr=alice@home.example", false, false},
		{"attribute without value", "addr=alice@home.example; nonsense; keydata=" + kd, false, false},
		{"addr is not the key's User ID", "addr=mallory@home.example; keydata=" + kd, false, false},
		{"addr not an address", "addr=Alice <alice@home.example>; keydata=" + kd, false, false},
		{"bad base64", "addr=alice@home.example; keydata=!!" + kd, false, false},
		{"truncated key", "addr=alice@home.example; keydata=" + kd[:len(kd)/2], false, false},
		{"secret key as keydata", "addr=alice@home.example; keydata=" + base64.StdEncoding.EncodeToString([]byte(secret)), false, false},
		{"huge", "addr=alice@home.example; keydata=" + strings.Repeat("A", maxKeydata+4), false, false},
	}
	for _, tt := range tests {
		a, err := ParseAutocrypt(tt.value)
		if (err == nil) != tt.ok {
			t.Errorf("%s: error %v", tt.name, err)
			continue
		}
		if err != nil {
			if a != nil || !errors.Is(err, ErrBadAutocrypt) {
				t.Errorf("%s: %v, %v", tt.name, a, err)
			}
			continue
		}
		if a.Addr != "alice@home.example" || a.PreferEncrypt != tt.mutual || a.Key.Fingerprint() != alice.Fingerprint() {
			t.Errorf("%s: %+v", tt.name, a)
		}
	}
}

// TestParseAutocryptDeltaChat parses the header as Delta Chat folds it.
func TestParseAutocryptDeltaChat(t *testing.T) {
	alice, _ := dcKeys(t)
	raw := dcMessage(t, "text_from_alice_encrypted")
	a, err := OuterAutocrypt(raw)
	if err != nil {
		t.Fatal(err)
	}
	if a.Addr != "alice@example.org" || !a.PreferEncrypt || a.Key.Fingerprint() != alice.Fingerprint() {
		t.Errorf("%+v", a)
	}
}

func TestOuterAutocrypt(t *testing.T) {
	var tk testKeys
	bob, carol := tk.id(t, "bob@home.example"), tk.id(t, "carol@home.example")
	msg := func(from string, ac ...*Autocrypt) []byte {
		var b bytes.Buffer
		b.WriteString("From: " + from + "\r\nTo: <alice@home.example>\r\nSubject: Message from bob\r\n")
		for _, a := range ac {
			b.WriteString(a.Field("Autocrypt"))
		}
		b.WriteString("Secure-Join: vc-request\r\nContent-Type: text/plain\r\n\r\nSecure-Join: vc-request\r\n")
		return b.Bytes()
	}
	a, err := OuterAutocrypt(msg("Bob <Bob@Home.Example>", NewAutocrypt(bob.Public())))
	if err != nil {
		t.Fatal(err)
	}
	if a.Key.Fingerprint() != bob.Fingerprint() {
		t.Errorf("key %s", a.Key.Fingerprint())
	}
	for name, raw := range map[string][]byte{
		"none":             msg("<bob@home.example>"),
		"two":              msg("<bob@home.example>", NewAutocrypt(bob.Public()), NewAutocrypt(bob.Public())),
		"addr is not From": msg("<bob@home.example>", NewAutocrypt(carol.Public())),
		"no From":          []byte("Autocrypt: " + NewAutocrypt(bob.Public()).Value() + "\r\n\r\n"),
	} {
		if a, err := OuterAutocrypt(raw); err == nil || a != nil || !errors.Is(err, ErrBadAutocrypt) {
			t.Errorf("%s: %v %v", name, a, err)
		}
	}
}

func FuzzParseAutocrypt(f *testing.F) {
	var tk testKeys
	alice := tk.id(f, "alice@home.example")
	f.Add(NewAutocrypt(alice.Public()).Value())
	f.Add(unfold(NewGossip(alice.Public()).Field("X")))
	f.Add("addr=a@b.c; _x=1; keydata=AAAA")
	f.Add("addr=; keydata=;;;===")
	f.Fuzz(func(t *testing.T, v string) {
		a, err := ParseAutocrypt(v)
		if err != nil {
			if a != nil || !errors.Is(err, ErrBadAutocrypt) {
				t.Fatalf("%v, %v", a, err)
			}
			return
		}
		if a.Key == nil || a.Addr != a.Key.Addr() {
			t.Fatalf("accepted %+v", a)
		}
		// What parses must survive its own round trip.
		b, err := ParseAutocrypt(a.Value())
		if err != nil || b.Key.Fingerprint() != a.Key.Fingerprint() || b.PreferEncrypt != a.PreferEncrypt {
			t.Fatalf("round trip: %v", err)
		}
	})
}
