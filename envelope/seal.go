package envelope

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	mrand "math/rand/v2"
	"mime"
	"net/mail"
	"slices"
	"strings"
	"time"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/thingpost/thingpost/keystore"
)

// outerDateSpread is how far into the past the outer (unprotected) Date is
// moved at random, as Delta Chat does: up to 6 days, because some servers
// refuse a Date more than 7 days old.
const outerDateSpread = 6 * 24 * time.Hour

// Field is one header field: a name and an unfolded value.
type Field struct {
	Name, Value string
}

// Part is one leaf part of a message body.
type Part struct {
	// ContentType is the media type, e.g. "application/json" (lower-case
	// when parsed).
	ContentType string
	// Params are further Content-Type parameters (charset, name). Parsed
	// parts always have them; when sealing they may be nil.
	Params map[string]string
	// Filename, when set, makes the part an attachment with this name.
	Filename string
	// Body is the content, without transfer encoding.
	Body []byte
}

// Draft is a message to seal. From and Text are required; everything else
// is optional.
type Draft struct {
	// From signs the message, gets a copy (the message is always encrypted
	// to self too) and is the From address.
	From *keystore.Identity
	// To are the recipients: the message is encrypted to their keys and
	// their addresses are the protected To header.
	To []*keystore.PublicKey
	// ToAddrs are further addresses for the protected To header, for
	// recipients reached without a key (the symmetric Securejoin steps,
	// where they are the only recipients). Seal needs at least one key in
	// To; it cannot encrypt to an address.
	ToAddrs []string
	// Subject is the protected subject (the outer one is always "[...]").
	Subject string
	// Date is the protected Date and the signature time; zero means now.
	Date time.Time
	// MessageID without angle brackets; empty means a fresh random one.
	MessageID string
	// InReplyTo and References (without angle brackets) thread a reply.
	InReplyTo  string
	References []string
	// AutoSubmitted adds "Auto-Submitted: auto-generated", which marks the
	// sender as a bot in Delta Chat.
	AutoSubmitted bool
	// Headers are further protected headers, in order (Secure-Join,
	// Secure-Join-Auth, Chat-Disposition-Notification-To, ...). Values are
	// unfolded; non-ASCII values are RFC 2047 encoded.
	Headers []Field
	// NoAutocrypt leaves out the sender's Autocrypt header (Securejoin
	// vc-request-pubkey goes without one).
	NoAutocrypt bool
	// Gossip are keys to announce with Autocrypt-Gossip headers.
	Gossip []*keystore.PublicKey
	// Text is the text/plain body people see.
	Text string
	// Parts follow the text; with any, the protected body is
	// multipart/mixed.
	Parts []Part
	// NoCompression turns off ZLIB compression.
	NoCompression bool
}

// Sealed is a message ready to submit.
type Sealed struct {
	// Raw is the complete RFC 5322 message with CRLF line ends.
	Raw []byte
	// MessageID is the Message-ID without angle brackets.
	MessageID string
	// SEIPDv2 tells whether AEAD (SEIPDv2, AES-128 OCB) was used; false
	// means SEIPDv1 because a recipient key does not advertise SEIPDv2.
	SEIPDv2 bool
}

// Seal signs d with d.From's key and encrypts it to d.To and to d.From, as
// a PGP/MIME message in Delta Chat's shape: minimal outer headers (From,
// To "hidden-recipients": ;, Subject [...], a Date up to 6 days earlier
// than the real one, Message-ID, MIME-Version, Chat-Version) and the real
// headers protected inside (RFC 9788, hp="cipher", with HP-Outer copies),
// with the sender's Autocrypt header and any Autocrypt-Gossip headers.
func Seal(ctx context.Context, d *Draft) (*Sealed, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if d.From == nil {
		return nil, errors.New("seal: no sender identity")
	}
	if len(d.To) == 0 {
		return nil, errors.New("seal: no recipient key (ToAddrs only name further addresses)")
	}
	now, msgID, outer, inner, err := d.build()
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	recipients := []*openpgp.Entity{d.From.Public().Entity()}
	seen := map[keystore.Fingerprint]bool{d.From.Fingerprint(): true}
	for _, k := range d.To {
		if !seen[k.Fingerprint()] {
			seen[k.Fingerprint()] = true
			recipients = append(recipients, k.Entity())
		}
	}
	var bin bytes.Buffer
	v2, err := encryptTo(&bin, inner, recipients, d.From.Entity(), !d.NoCompression, now)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	armored, err := armorMessage(bin.Bytes())
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return &Sealed{Raw: wrapEncrypted(outer, armored), MessageID: msgID, SEIPDv2: v2}, nil
}

// SealSymmetric seals d with a shared passphrase instead of public keys,
// as the Securejoin v3 steps want: one SKESK (S2K "Salted"), SEIPDv2
// AES-128 OCB, no compression (d.NoCompression is ignored), signed by
// d.From only when sign is true. d.To must be empty (there are no
// recipient keys); name the recipient in d.ToAddrs.
func SealSymmetric(ctx context.Context, d *Draft, passphrase []byte, sign bool) (*Sealed, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if d.From == nil {
		return nil, errors.New("seal symmetric: no sender identity")
	}
	if len(d.To) > 0 {
		return nil, errors.New("seal symmetric: recipient keys given; use ToAddrs")
	}
	if len(passphrase) == 0 {
		return nil, errors.New("seal symmetric: empty passphrase")
	}
	now, msgID, outer, inner, err := d.build()
	if err != nil {
		return nil, fmt.Errorf("seal symmetric: %w", err)
	}
	var signer *openpgp.Entity
	if sign {
		signer = d.From.Entity()
	}
	var bin bytes.Buffer
	if err := encryptSymmetric(&bin, inner, passphrase, signer, now); err != nil {
		return nil, fmt.Errorf("seal symmetric: %w", err)
	}
	armored, err := armorMessage(bin.Bytes())
	if err != nil {
		return nil, fmt.Errorf("seal symmetric: %w", err)
	}
	return &Sealed{Raw: wrapEncrypted(outer, armored), MessageID: msgID, SEIPDv2: true}, nil
}

// NewMessageID returns a random Message-ID (without angle brackets) in the
// form Delta Chat uses, which says nothing about the sender.
func NewMessageID() string {
	var b [18]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand.Read does not fail (Go 1.24+)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]) + "@localhost"
}

// build checks d and returns the signing time, the Message-ID, the outer
// header (without Content-Type) and the protected inner entity. The steps
// are check, the outer fields, the protected header (which repeats the
// outer fields as HP-Outer) and the protected body.
func (d *Draft) build() (now time.Time, msgID string, outer *header, inner []byte, err error) {
	now, msgID = d.dateAndID()
	to, err := d.check(msgID)
	if err != nil {
		return now, "", nil, nil, err
	}
	fields := outerFields(d.From.Addr(), msgID, now)
	outer = &header{}
	for _, f := range fields {
		outer.add(f.Name, f.Value)
	}
	ph := d.protectedHeader(now, msgID, to, fields)
	return now, msgID, outer, d.protectedEntity(ph), nil
}

// dateAndID returns the signing time (d.Date, or now, to the second) and
// the Message-ID (d.MessageID, or a fresh one).
func (d *Draft) dateAndID() (time.Time, string) {
	now := d.Date
	if now.IsZero() {
		now = time.Now()
	}
	msgID := d.MessageID
	if msgID == "" {
		msgID = NewMessageID()
	}
	return now.Truncate(time.Second), msgID
}

// check rejects what would make a broken or ambiguous message: bad
// Message-IDs, recipient addresses, header fields and parts. It returns
// the protected To addresses, each in angle brackets.
func (d *Draft) check(msgID string) ([]string, error) {
	for _, id := range append([]string{msgID, d.InReplyTo}, d.References...) {
		if id != "" { // InReplyTo and References are optional
			if err := checkMsgID(id); err != nil {
				return nil, err
			}
		}
	}
	to, err := d.protectedTo()
	if err != nil {
		return nil, err
	}
	for _, f := range d.Headers {
		if err := checkField(f); err != nil {
			return nil, err
		}
	}
	if err := checkFieldValue("Subject", d.Subject); err != nil {
		return nil, err
	}
	for _, p := range d.Parts {
		if err := p.check(); err != nil {
			return nil, err
		}
	}
	return to, nil
}

// protectedTo returns the addresses of d.To's keys and of d.ToAddrs, each
// in angle brackets.
func (d *Draft) protectedTo() ([]string, error) {
	var to []string
	for _, k := range d.To {
		to = append(to, "<"+k.Addr()+">")
	}
	for _, a := range d.ToAddrs {
		na, err := keystore.NormalizeAddr(a)
		if err != nil {
			return nil, err
		}
		to = append(to, "<"+na+">")
	}
	if len(to) == 0 {
		return nil, errors.New("no recipient")
	}
	return to, nil
}

// checkField accepts one of Draft.Headers: a valid name that Seal does not
// write itself, a value without line breaks.
func checkField(f Field) error {
	if err := checkFieldName(f.Name); err != nil {
		return err
	}
	if err := checkFieldValue(f.Name, f.Value); err != nil {
		return err
	}
	if reservedField(f.Name) {
		return fmt.Errorf("header %s is set by envelope, not by Headers", f.Name)
	}
	return nil
}

// check accepts a part whose header fields partEntity can write: a bare
// media type, parameter names that are MIME tokens, no line breaks.
func (p *Part) check() error {
	if err := checkFieldValue("Content-Type", p.ContentType+p.Filename); err != nil {
		return err
	}
	if _, _, err := mime.ParseMediaType(p.ContentType); err != nil || !strings.Contains(p.ContentType, "/") || strings.Contains(p.ContentType, ";") {
		return fmt.Errorf("part content type %q is not a bare media type", p.ContentType)
	}
	for k, v := range p.Params {
		if err := checkFieldName(k); err != nil || strings.ContainsAny(k, "=;\"()<>@,/[]?") {
			return fmt.Errorf("part parameter name %q is not a token", k)
		}
		if err := checkFieldValue(k, v); err != nil {
			return err
		}
	}
	return nil
}

// outerFields are the header fields a mail server sees, in order, without
// Content-Type: the sender's address and nothing else that is real. The
// Date is moved up to outerDateSpread into the past at random.
func outerFields(fromAddr, msgID string, now time.Time) []Field {
	date := now.Add(-time.Duration(mrand.Int64N(int64(outerDateSpread/time.Second))) * time.Second)
	return []Field{
		{"From", "<" + fromAddr + ">"},
		{"To", `"hidden-recipients": ;`},
		{"Subject", "[...]"},
		{"Date", date.UTC().Format(time.RFC1123Z)},
		{"Message-ID", "<" + msgID + ">"},
		{"MIME-Version", "1.0"},
		{"Chat-Version", "1.0"},
	}
}

// protectedHeader returns the real header fields, in Delta Chat's order:
// From, To, Subject, Date, threading, Chat-Version, Auto-Submitted, the
// caller's Headers, Message-ID, an HP-Outer copy of each outer field but
// MIME-Version (RFC 9788 leaves out the structural fields), then the
// Autocrypt and Autocrypt-Gossip headers.
func (d *Draft) protectedHeader(now time.Time, msgID string, to []string, outer []Field) *header {
	var ph header
	ph.add("From", (&mail.Address{Name: d.From.Name(), Address: d.From.Addr()}).String())
	ph.add("To", strings.Join(to, ", "))
	ph.addText("Subject", d.Subject)
	ph.add("Date", now.Format(time.RFC1123Z))
	if d.InReplyTo != "" {
		ph.add("In-Reply-To", "<"+d.InReplyTo+">")
	}
	if len(d.References) > 0 {
		ph.add("References", "<"+strings.Join(d.References, "> <")+">")
	}
	ph.add("Chat-Version", "1.0")
	if d.AutoSubmitted {
		ph.add("Auto-Submitted", "auto-generated")
	}
	for _, f := range d.Headers {
		ph.addText(f.Name, f.Value)
	}
	ph.add("Message-ID", "<"+msgID+">")
	for _, f := range outer {
		if f.Name != "MIME-Version" {
			ph.add("HP-Outer", f.Name+": "+f.Value)
		}
	}
	if !d.NoAutocrypt {
		ph.addFolded(NewAutocrypt(d.From.Public()).Field("Autocrypt"))
	}
	for _, k := range d.Gossip {
		ph.addFolded(NewGossip(k).Field("Autocrypt-Gossip"))
	}
	return &ph
}

// protectedEntity is the part that gets encrypted: the protected header
// on the text/plain body or, with further parts, on a multipart/mixed of
// the text and d.Parts.
func (d *Draft) protectedEntity(ph *header) []byte {
	const hp = `; protected-headers="v1"; hp="cipher"`
	cte, text := textBody(d.Text)
	var h header
	if len(d.Parts) == 0 {
		h.add("Content-Type", `text/plain; charset="utf-8"`+hp)
		h.addFolded(string(ph.bytes()))
		h.add("Content-Transfer-Encoding", cte)
		return entity(&h, text)
	}
	boundary := newBoundary()
	h.add("Content-Type", `multipart/mixed`+hp+`; boundary="`+boundary+`"`)
	h.addFolded(string(ph.bytes()))
	var th header
	th.add("Content-Type", `text/plain; charset="utf-8"`)
	th.add("Content-Transfer-Encoding", cte)
	parts := [][]byte{entity(&th, text)}
	for _, p := range d.Parts {
		parts = append(parts, partEntity(p))
	}
	return entity(&h, multipart(boundary, parts...))
}

// partEntity encodes one further part: text as quoted-printable or 7bit,
// anything else as base64.
func partEntity(p Part) []byte {
	var h header
	ct := p.ContentType
	for _, k := range slices.Sorted(maps.Keys(p.Params)) {
		if k != "boundary" {
			ct += "; " + k + "=" + quoteParam(p.Params[k])
		}
	}
	h.add("Content-Type", ct)
	if p.Filename != "" {
		h.add("Content-Disposition", "attachment; filename="+quoteParam(mimeWord(p.Filename)))
	}
	if strings.HasPrefix(strings.ToLower(p.ContentType), "text/") {
		cte, body := textBody(string(p.Body))
		h.add("Content-Transfer-Encoding", cte)
		return entity(&h, body)
	}
	h.add("Content-Transfer-Encoding", "base64")
	return entity(&h, base64Body(p.Body))
}

// mimeWord encodes a non-ASCII file name as an RFC 2047 word, which is what
// Delta Chat and most mail clients read in a filename parameter.
func mimeWord(s string) string {
	if e := encodeText(s); e != s {
		return e
	}
	return s
}

// reservedField reports header names Seal writes itself.
func reservedField(name string) bool {
	switch strings.ToLower(name) {
	case "from", "to", "cc", "bcc", "subject", "date", "message-id", "in-reply-to", "references",
		"chat-version", "auto-submitted", "autocrypt", "autocrypt-gossip", "hp-outer",
		"mime-version", "content-type", "content-transfer-encoding", "content-disposition":
		return true
	}
	return false
}

// checkMsgID accepts a msg-id without angle brackets: id-left@id-right,
// printable ASCII without spaces, brackets or a second @.
func checkMsgID(id string) error {
	left, right, ok := strings.Cut(id, "@")
	if !ok || left == "" || right == "" || strings.Contains(right, "@") {
		return fmt.Errorf("message id %q is not left@right", id)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' || c == '<' || c == '>' {
			return fmt.Errorf("message id %q contains %q", id, c)
		}
	}
	return nil
}
