package envelope

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"github.com/thingpost/thingpost/keystore"
)

// maxDepth bounds MIME nesting in what we parse.
const maxDepth = 8

// Content is what a decrypted message says: its protected headers and its
// parts. It carries no authentication; Message and SymmetricMessage add
// that.
type Content struct {
	// From is the sender's address, lower-case; FromName its display name.
	From, FromName string
	// To are the addresses of the To header, lower-case.
	To []string
	// Subject, Date, MessageID (no angle brackets), InReplyTo and
	// References come from the protected headers (see Protected).
	Subject    string
	Date       time.Time
	MessageID  string
	InReplyTo  string
	References []string
	// Protected is true when the headers came from inside the encryption
	// (protected-headers="v1"). When false (a legacy client), the fields
	// above were taken from the outer headers, which the signature does not
	// cover: From is still bound to the signing key, but Subject, Date, To
	// and Message-ID could have been changed on the way.
	Protected bool
	// Header holds the header fields of the decrypted part (Secure-Join,
	// Chat-*, custom fields). For a legacy message it also has the outer
	// From, To, Cc, Subject, Date, Message-ID, In-Reply-To and References
	// where the inner part lacks them.
	Header mail.Header
	// Text is the first text/plain part that is not an attachment, with
	// CRLF turned into LF and an RFC 9788 legacy display block removed.
	Text string
	// Parts are all leaf parts in order, the text part included.
	Parts []Part
	// Autocrypt is the sender's Autocrypt header (addr equal to From), from
	// inside the encryption, or from the outer headers (then AutocryptOuter
	// is true) when there is none inside. Nil when absent or invalid.
	Autocrypt      *Autocrypt
	AutocryptOuter bool
	// Gossip are the valid Autocrypt-Gossip headers from inside.
	Gossip []*Autocrypt
}

// parseOuter reads the outer message and returns its header and the
// armored OpenPGP payload. It accepts RFC 3156 multipart/encrypted with the
// parts in any order and extra parts around them, and the "mixed-up" forms
// mail servers make of it: multipart/mixed holding a text/plain part, the
// application/pgp-encrypted part and the payload (Microsoft Exchange,
// ProtonMail Bridge), or a text/plain part and the whole multipart/encrypted
// (Google Workspace footers).
func parseOuter(raw []byte, limit int64) (mail.Header, []byte, error) {
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return mail.Header{}, nil, fmt.Errorf("%w: outer header: %v", ErrMalformed, err)
	}
	h := mail.Header{Header: e.Header}
	payload, err := findPayload(e, 0, limit)
	if err != nil {
		return h, nil, err
	}
	return h, payload, nil
}

func findPayload(e *message.Entity, depth int, limit int64) ([]byte, error) {
	mt, params, err := e.Header.ContentType()
	if err != nil {
		return nil, fmt.Errorf("%w: Content-Type: %v", ErrNotEncrypted, err)
	}
	switch {
	case mt == "multipart/encrypted":
		if p, ok := params["protocol"]; ok && !strings.EqualFold(p, "application/pgp-encrypted") {
			return nil, fmt.Errorf("%w: multipart/encrypted with protocol %q", ErrNotEncrypted, p)
		}
	case mt == "multipart/mixed" && depth == 0:
	default:
		return nil, fmt.Errorf("%w: Content-Type is %s", ErrNotEncrypted, mt)
	}
	var payloads [][]byte
	control := false
	mr := e.MultipartReader()
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
			return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, mt, err)
		}
		pt, _, _ := p.Header.ContentType()
		switch {
		case pt == "application/octet-stream":
			b, err := io.ReadAll(io.LimitReader(p.Body, limit+1))
			if err != nil {
				return nil, fmt.Errorf("%w: payload part: %v", ErrMalformed, err)
			}
			if int64(len(b)) > limit {
				return nil, ErrTooLarge
			}
			payloads = append(payloads, b)
		case pt == "application/pgp-encrypted":
			control = true
		case pt == "multipart/encrypted" && mt == "multipart/mixed":
			b, err := findPayload(p, depth+1, limit)
			if err != nil {
				return nil, err
			}
			payloads = append(payloads, b)
			control = true
		case mt == "multipart/mixed" && pt != "text/plain":
			return nil, fmt.Errorf("%w: multipart/mixed with a %s part", ErrNotEncrypted, pt)
		}
	}
	switch {
	case len(payloads) == 0:
		return nil, fmt.Errorf("%w: %s without an encrypted payload", ErrNotEncrypted, mt)
	case len(payloads) > 1:
		return nil, fmt.Errorf("%w: %s with %d encrypted payloads", ErrMalformed, mt, len(payloads))
	case mt == "multipart/mixed" && !control:
		return nil, fmt.Errorf("%w: multipart/mixed without application/pgp-encrypted", ErrNotEncrypted)
	}
	return payloads[0], nil
}

// parseContent parses the decrypted MIME entity. outer is the outer header;
// known may supply keys we hold, to spare validating Autocrypt keydata.
func parseContent(plain []byte, outer mail.Header, known knownKeys) (*Content, error) {
	e, err := message.Read(bytes.NewReader(plain))
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return nil, fmt.Errorf("%w: decrypted part: %v", ErrMalformed, err)
	}
	_, params, _ := e.Header.ContentType()
	c := &Content{Protected: strings.EqualFold(params["protected-headers"], "v1")}
	inner := mail.Header{Header: e.Header.Copy()}
	c.Header = mail.Header{Header: e.Header.Copy()}
	if !c.Protected {
		// A legacy message: its envelope fields are only in the outer header.
		for _, k := range [...]string{"From", "To", "Cc", "Subject", "Date", "Message-Id", "In-Reply-To", "References"} {
			if !c.Header.Has(k) {
				for _, v := range outer.Values(k) {
					c.Header.Add(k, v)
				}
			}
		}
	}
	if err := c.readFrom(outer); err != nil {
		return nil, err
	}
	c.readFields()
	if err := collectParts(e, 0, &c.Parts); err != nil {
		return nil, err
	}
	c.Text = firstText(c.Parts)
	if inner.Has("Autocrypt") {
		c.Autocrypt, _ = autocryptFrom(inner, "Autocrypt", known)
	} else if outer.Has("Autocrypt") {
		if c.Autocrypt, _ = autocryptFrom(outer, "Autocrypt", known); c.Autocrypt != nil {
			c.AutocryptOuter = true
		}
	}
	c.Gossip = gossipFrom(inner, known)
	return c, nil
}

// readFrom sets From and FromName from c.Header, which must have exactly
// one From address; a protected From must also be the outer one.
func (c *Content) readFrom(outer mail.Header) error {
	var err error
	if c.From, c.FromName, err = fromAddr(c.Header); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if !c.Protected {
		return nil
	}
	// The signature covers the inner From; a different outer From would
	// let the same signed content show up under another sender in clients
	// that read the outer header.
	of, _, err := fromAddr(outer)
	if err != nil {
		return fmt.Errorf("%w: outer %v", ErrMalformed, err)
	}
	if of != c.From {
		return fmt.Errorf("%w: outer From %s is not the protected From %s", ErrMalformed, of, c.From)
	}
	return nil
}

// readFields sets To, Subject, Date and the message ids from c.Header,
// leaving out what does not parse.
func (c *Content) readFields() {
	if to, err := c.Header.AddressList("To"); err == nil {
		for _, a := range to {
			if na, err := keystore.NormalizeAddr(a.Address); err == nil {
				c.To = append(c.To, na)
			}
		}
	}
	c.Subject, _ = c.Header.Subject()
	c.Date, _ = c.Header.Date()
	c.MessageID, _ = c.Header.MessageID()
	if ids, err := c.Header.MsgIDList("In-Reply-To"); err == nil && len(ids) > 0 {
		c.InReplyTo = ids[0]
	}
	c.References, _ = c.Header.MsgIDList("References")
}

// firstText is the body of the first text/plain part that is not an
// attachment, with LF line ends and without an RFC 9788 legacy display
// block.
func firstText(parts []Part) string {
	for _, p := range parts {
		if p.ContentType == "text/plain" && p.Filename == "" {
			text := strings.ReplaceAll(string(p.Body), "\r\n", "\n")
			if p.Params["hp-legacy-display"] == "1" {
				text = stripLegacyDisplay(text)
			}
			return text
		}
	}
	return ""
}

// collectParts appends the leaf parts of e to out.
func collectParts(e *message.Entity, depth int, out *[]Part) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: MIME nested deeper than %d", ErrMalformed, maxDepth)
	}
	if mr := e.MultipartReader(); mr != nil {
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
				return fmt.Errorf("%w: %v", ErrMalformed, err)
			}
			if err := collectParts(p, depth+1, out); err != nil {
				return err
			}
		}
	}
	mt, params, err := e.Header.ContentType()
	if err != nil || mt == "" {
		mt, params = "text/plain", map[string]string{}
	}
	body, err := io.ReadAll(e.Body)
	if err != nil {
		return fmt.Errorf("%w: %s part: %v", ErrMalformed, mt, err)
	}
	p := Part{ContentType: mt, Params: params, Body: body}
	if disp, dp, err := e.Header.ContentDisposition(); err == nil {
		if p.Filename = dp["filename"]; p.Filename == "" && disp == "attachment" {
			p.Filename = params["name"]
		}
	}
	*out = append(*out, p)
	return nil
}

// stripLegacyDisplay removes the RFC 9788 legacy display element: header
// lines ("Subject: ...") at the start of the text, up to a blank line.
func stripLegacyDisplay(s string) string {
	head, rest, ok := strings.Cut(s, "\n\n")
	if !ok {
		return s
	}
	for _, l := range strings.Split(head, "\n") {
		if name, _, ok := strings.Cut(l, ": "); !ok || checkFieldName(name) != nil {
			return s
		}
	}
	return rest
}

// fromAddr returns the single From address of h, normalised, and its name.
func fromAddr(h mail.Header) (addr, name string, err error) {
	list, err := h.AddressList("From")
	if err != nil {
		return "", "", fmt.Errorf("header field From: %v", err)
	}
	if len(list) != 1 {
		return "", "", fmt.Errorf("header field From has %d addresses, want one", len(list))
	}
	addr, err = keystore.NormalizeAddr(list[0].Address)
	if err != nil {
		return "", "", fmt.Errorf("header field From: %v", err)
	}
	return addr, list[0].Name, nil
}

// IsReport reports whether raw is a multipart/report message at the top
// level (an unencrypted read receipt or delivery report), which callers
// ignore without answering.
func IsReport(raw []byte) bool {
	h, err := textproto.ReadHeader(bufio.NewReader(io.LimitReader(bytes.NewReader(raw), 1<<20)))
	if err != nil {
		return false
	}
	mh := message.Header{Header: h}
	mt, _, err := mh.ContentType()
	return err == nil && mt == "multipart/report"
}
