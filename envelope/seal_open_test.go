package envelope

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/thingpost/thingpost/keystore"
)

func TestSealOpenRoundTrip(t *testing.T) {
	var tk testKeys
	bob, carol := tk.id(t, "bob@home.example"), tk.id(t, "carol@home.example")
	alice, err := keystore.New("alice@home.example", "Alice Ärger, \"the\" owner")
	if err != nil {
		t.Fatal(err)
	}
	date := time.Now().Truncate(time.Second)
	d := &Draft{
		From:          alice,
		To:            []*keystore.PublicKey{bob.Public()},
		Subject:       "Grüße, a subject long enough to be folded into more than one line of header text",
		Date:          date,
		InReplyTo:     "prev@localhost",
		References:    []string{"first@localhost", "prev@localhost"},
		AutoSubmitted: true,
		Headers: []Field{
			{"Secure-Join", "vc-contact-confirm"},
			{"Thingpost-Wire", `{"cmd":"on"}`},
		},
		Gossip: []*keystore.PublicKey{bob.Public(), carol.Public()},
		Text:   "on\nset brightness 40 — with a long line that must be encoded as quoted-printable because it is far longer than seventy-six characters",
		Parts: []Part{
			{ContentType: "application/json", Body: []byte(`{"state":"on"}`)},
			{ContentType: "image/png", Filename: "snap.png", Body: bytes.Repeat([]byte{0x89, 'P', 'N', 'G', 0}, 100)},
		},
	}
	s := seal(t, d)
	if !s.SEIPDv2 {
		t.Error("SEIPDv1 chosen although every key advertises SEIPDv2")
	}
	m, err := Open(context.Background(), s.Raw, OpenOptions{Self: bob, Trusted: trust(alice.Public())})
	if err != nil {
		t.Fatalf("Open: %v\n%s", err, s.Raw)
	}
	if m.From != "alice@home.example" || m.FromName != alice.Name() || m.Signer.Fingerprint() != alice.Fingerprint() || m.SignerSource != SignerTrusted {
		t.Errorf("From %q %q signer %v source %v", m.From, m.FromName, m.Signer.Fingerprint(), m.SignerSource)
	}
	if !m.Protected || m.Subject != d.Subject || !m.Date.Equal(date) || m.MessageID != s.MessageID {
		t.Errorf("protected %v subject %q date %v id %q", m.Protected, m.Subject, m.Date, m.MessageID)
	}
	if m.InReplyTo != "prev@localhost" || strings.Join(m.References, " ") != "first@localhost prev@localhost" {
		t.Errorf("threading %q %q", m.InReplyTo, m.References)
	}
	if len(m.To) != 1 || m.To[0] != "bob@home.example" {
		t.Errorf("To %q", m.To)
	}
	if m.Header.Get("Secure-Join") != "vc-contact-confirm" || m.Header.Get("Thingpost-Wire") != `{"cmd":"on"}` ||
		m.Header.Get("Auto-Submitted") != "auto-generated" || m.Header.Get("Chat-Version") != "1.0" {
		t.Errorf("headers: %v", m.Header)
	}
	if m.Text != d.Text {
		t.Errorf("text %q", m.Text)
	}
	if len(m.Parts) != 3 || m.Parts[1].ContentType != "application/json" || string(m.Parts[1].Body) != `{"state":"on"}` ||
		m.Parts[2].Filename != "snap.png" || !bytes.Equal(m.Parts[2].Body, d.Parts[1].Body) {
		t.Errorf("parts %+v", m.Parts)
	}
	if m.Autocrypt == nil || m.AutocryptOuter || m.Autocrypt.Key.Fingerprint() != alice.Fingerprint() || !m.Autocrypt.PreferEncrypt {
		t.Errorf("autocrypt %+v", m.Autocrypt)
	}
	if len(m.Gossip) != 2 || m.Gossip[0].Key.Fingerprint() != bob.Fingerprint() || m.Gossip[1].Addr != "carol@home.example" || m.Gossip[0].PreferEncrypt {
		t.Errorf("gossip %+v", m.Gossip)
	}
	// Encrypted to self as well.
	if _, err := Open(context.Background(), s.Raw, OpenOptions{Self: alice, Trusted: trust(alice.Public())}); err != nil {
		t.Errorf("sender cannot open her own copy: %v", err)
	}
}

func TestOpenClockSkew(t *testing.T) {
	var tk testKeys
	alice, bob := tk.id(t, "alice@home.example"), tk.id(t, "bob@home.example")
	now := time.Now()
	// The keys exist from now on; Open looks from a minute earlier, so the
	// sender's clock runs a minute ahead of ours.
	s := seal(t, &Draft{From: alice, To: []*keystore.PublicKey{bob.Public()}, Text: "on", Date: now})
	for _, tt := range []struct {
		skew time.Duration
		ok   bool
	}{{0, true}, {2 * time.Minute, true}, {30 * time.Second, false}} {
		m, err := Open(context.Background(), s.Raw, OpenOptions{Self: bob, Trusted: trust(alice.Public()), Now: now.Add(-time.Minute), ClockSkew: tt.skew})
		if (err == nil) != tt.ok || (m != nil) != tt.ok {
			t.Errorf("skew %v: message %v, error %v", tt.skew, m != nil, err)
		}
	}
}

// TestConcurrent opens and seals from several goroutines with shared keys,
// as a thing handling mail for several people does (run with -race).
func TestConcurrent(t *testing.T) {
	var tk testKeys
	alice, bob := tk.id(t, "alice@home.example"), tk.id(t, "bob@home.example")
	raw := seal(t, &Draft{From: alice, To: []*keystore.PublicKey{bob.Public()}, Text: "on"}).Raw
	// Keys fresh from import, as a keyring hands them out: nothing about
	// them has been verified (and cached by go-crypto) yet.
	fresh := func(k *keystore.PublicKey) *keystore.PublicKey {
		f, err := keystore.ImportPublic(k.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	aliceKey, bobKey := fresh(alice.Public()), fresh(bob.Public())
	opts := OpenOptions{Self: bob, Trusted: trust(aliceKey)}
	errs := make(chan error, 16)
	for i := range 8 {
		go func() {
			_, err := Open(context.Background(), raw, opts)
			errs <- err
		}()
		go func() {
			_, err := Seal(context.Background(), &Draft{From: alice, To: []*keystore.PublicKey{bobKey}, Text: fmt.Sprint(i)})
			errs <- err
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestOpenAcceptsVariants: what real clients and servers do to the shape of
// a message: LF line ends, the parts of multipart/encrypted reordered with
// extra parts and whitespace around them, the "mixed-up" multipart/mixed
// form.
func TestOpenAcceptsVariants(t *testing.T) {
	var tk testKeys
	alice, bob := tk.id(t, "alice@home.example"), tk.id(t, "bob@home.example")
	s := seal(t, &Draft{From: alice, To: []*keystore.PublicKey{bob.Public()}, Subject: "x", Text: "on"})
	arm := string(armoredPayload(t, s.Raw))
	head, _, _ := strings.Cut(string(s.Raw), "Content-Type: multipart/encrypted")
	wrap := func(ct, body string) []byte {
		return []byte(head + "Content-Type: " + ct + "\r\n\r\n" + body)
	}
	const version = "Content-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n"
	payloadPart := "Content-Type: application/octet-stream; name=\"encrypted.asc\"\r\n\r\n" + arm
	for name, raw := range map[string][]byte{
		"LF line ends": []byte(strings.ReplaceAll(string(s.Raw), "\r\n", "\n")),
		"payload part first, preamble, extra part and blank lines": wrap(`multipart/encrypted; protocol="application/pgp-encrypted"; boundary="b"`,
			"This is an OpenPGP/MIME encrypted message.\r\n\r\n--b\r\n"+payloadPart+"\r\n\r\n\r\n--b\r\n"+version+
				"\r\n--b\r\nContent-Type: text/plain\r\n\r\nfooter\r\n--b--\r\n\r\nepilogue\r\n"),
		"mixed-up (Exchange)": wrap(`multipart/mixed; boundary="b"`,
			"--b\r\nContent-Type: text/plain\r\n\r\n\r\n--b\r\n"+version+"\r\n--b\r\n"+payloadPart+"\r\n--b--\r\n"),
		"payload base64-encoded (ProtonMail Bridge)": wrap(`multipart/mixed; boundary="b"`,
			"--b\r\nContent-Type: text/plain\r\n\r\nEmpty Message\r\n--b\r\n"+version+"\r\n--b\r\n"+
				"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"+string(base64Body([]byte(arm)))+"\r\n--b--\r\n"),
		"wrapped with a footer (Google Workspace)": wrap(`multipart/mixed; boundary="outer"`,
			"--outer\r\nContent-Type: text/plain\r\n\r\n-- \r\nfooter\r\n--outer\r\n"+
				"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"b\"\r\n\r\n"+
				"--b\r\n"+version+"\r\n--b\r\n"+payloadPart+"\r\n--b--\r\n\r\n--outer--\r\n"),
	} {
		m, err := Open(context.Background(), raw, OpenOptions{Self: bob, Trusted: trust(alice.Public())})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if m.Text != "on" {
			t.Errorf("%s: text %q", name, m.Text)
		}
	}
	// Structures that are not an encrypted message are refused as such.
	for name, raw := range map[string][]byte{
		"two payloads": wrap(`multipart/encrypted; protocol="application/pgp-encrypted"; boundary="b"`,
			"--b\r\n"+version+"\r\n--b\r\n"+payloadPart+"\r\n--b\r\n"+payloadPart+"\r\n--b--\r\n"),
		"S/MIME protocol": wrap(`multipart/encrypted; protocol="application/pkcs7-mime"; boundary="b"`,
			"--b\r\n"+payloadPart+"\r\n--b--\r\n"),
		"mixed with an attachment, no control part": wrap(`multipart/mixed; boundary="b"`,
			"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\n"+payloadPart+"\r\n--b--\r\n"),
		"mixed with an image": wrap(`multipart/mixed; boundary="b"`,
			"--b\r\n"+version+"\r\n--b\r\n"+payloadPart+"\r\n--b\r\nContent-Type: image/png\r\n\r\nx\r\n--b--\r\n"),
	} {
		if m, err := Open(context.Background(), raw, OpenOptions{Self: bob, Trusted: trust(alice.Public())}); m != nil || err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestSealRejects(t *testing.T) {
	var tk testKeys
	alice, bob := tk.id(t, "alice@home.example"), tk.id(t, "bob@home.example")
	to := []*keystore.PublicKey{bob.Public()}
	for name, d := range map[string]*Draft{
		"no sender":                   {To: to, Text: "x"},
		"no recipient key":            {From: alice, ToAddrs: []string{"bob@home.example"}, Text: "x"},
		"line break in a header":      {From: alice, To: to, Headers: []Field{{"X-A", "a\r\nBcc: eve@evil.example"}}},
		"line break in the subject":   {From: alice, To: to, Subject: "a\nb"},
		"header name with a colon":    {From: alice, To: to, Headers: []Field{{"X:A", "a"}}},
		"header Seal writes itself":   {From: alice, To: to, Headers: []Field{{"autocrypt", "a"}}},
		"message id without @":        {From: alice, To: to, MessageID: "abc"},
		"message id with brackets":    {From: alice, To: to, MessageID: "<a@b>"},
		"bad In-Reply-To":             {From: alice, To: to, InReplyTo: "a b@c"},
		"bad further address":         {From: alice, To: to, ToAddrs: []string{"Bob <bob@home.example>"}},
		"part type with parameters":   {From: alice, To: to, Parts: []Part{{ContentType: "text/plain; charset=x"}}},
		"part type not a media type":  {From: alice, To: to, Parts: []Part{{ContentType: "json"}}},
		"part parameter with newline": {From: alice, To: to, Parts: []Part{{ContentType: "text/plain", Params: map[string]string{"name": "a\r\nb"}}}},
	} {
		if s, err := Seal(context.Background(), d); err == nil || s != nil {
			t.Errorf("%s: sealed", name)
		}
	}
	if _, err := SealSymmetric(context.Background(), &Draft{From: alice, To: to, Text: "x"}, []byte("pw"), false); err == nil {
		t.Error("SealSymmetric with recipient keys")
	}
	if _, err := SealSymmetric(context.Background(), &Draft{From: alice, ToAddrs: []string{"bob@home.example"}, Text: "x"}, nil, false); err == nil {
		t.Error("SealSymmetric without passphrase")
	}
}

func TestIsReport(t *testing.T) {
	report := "From: <bob@home.example>\r\nContent-Type: multipart/report; report-type=disposition-notification; boundary=x\r\n\r\n--x--\r\n"
	if !IsReport([]byte(report)) {
		t.Error("multipart/report not recognised")
	}
	for _, raw := range []string{"Content-Type: multipart/encrypted; boundary=x\r\n\r\n", "garbage", ""} {
		if IsReport([]byte(raw)) {
			t.Errorf("%q taken for a report", raw)
		}
	}
}
