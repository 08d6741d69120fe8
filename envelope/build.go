package envelope

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"strings"
)

// maxLine is the line length headers are folded to (RFC 5322 asks for 78).
const maxLine = 78

// header is an ordered list of header fields, each folded and ended with
// CRLF. It is built by hand rather than with go-message's textproto.Header
// because that one canonicalises names (Message-Id), writes fields in
// reverse order of addition and folds long base64 only at 998 characters.
type header struct{ b bytes.Buffer }

// add appends a field, folding the value at spaces.
func (h *header) add(name, value string) {
	h.b.WriteString(fold(name, value))
}

// addText appends an unstructured field (Subject, custom headers), encoding
// it as RFC 2047 encoded-words when it is not plain ASCII.
func (h *header) addText(name, value string) {
	h.add(name, encodeText(value))
}

// addFolded appends a field that is already folded and ends with CRLF.
func (h *header) addFolded(field string) { h.b.WriteString(field) }

func (h *header) bytes() []byte { return h.b.Bytes() }

// fold formats "name: value" with CRLF line ends, breaking before spaces so
// that lines stay within maxLine where the words allow it. A single word
// longer than a line is left whole (the hard limit is 998).
func fold(name, value string) string {
	line := name + ": " + value
	if len(line) <= maxLine {
		return line + "\r\n"
	}
	var b strings.Builder
	cur := name + ":"
	for i, w := range strings.Split(value, " ") {
		if i > 0 && len(cur)+1+len(w) > maxLine && strings.TrimSpace(cur) != "" {
			b.WriteString(cur)
			b.WriteString("\r\n")
			cur = ""
		}
		cur += " " + w
	}
	b.WriteString(cur)
	b.WriteString("\r\n")
	return b.String()
}

// encodeText returns s as it may appear in an unstructured header field.
func encodeText(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 || (s[i] < 0x20 && s[i] != '\t') {
			return mime.QEncoding.Encode("utf-8", s)
		}
	}
	return s
}

// checkFieldValue rejects values that would break the header block.
func checkFieldValue(name, value string) error {
	if strings.ContainsAny(value, "\r\n") {
		return fmt.Errorf("header %s: value contains a line break", name)
	}
	return nil
}

// checkFieldName accepts RFC 5322 field names: printable ASCII without colon.
func checkFieldName(name string) error {
	if name == "" {
		return fmt.Errorf("empty header name")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c > '~' || c == ':' {
			return fmt.Errorf("header name %q: invalid character", name)
		}
	}
	return nil
}

// newBoundary returns a random MIME boundary.
func newBoundary() string {
	var b [18]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand.Read does not fail (Go 1.24+)
	}
	return hex.EncodeToString(b[:])
}

// crlf converts LF and CRLF line ends to CRLF.
func crlf(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\n", "\r\n")
}

// textBody encodes a text body: 7bit when it is short-lined ASCII, else
// quoted-printable. It returns the Content-Transfer-Encoding and the body
// with CRLF line ends.
func textBody(s string) (string, []byte) {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	plain := true
	for _, l := range strings.Split(s, "\n") {
		if len(l) > 76 || strings.HasPrefix(l, "From ") || strings.TrimRight(l, " \t") != l {
			plain = false
			break
		}
		for i := 0; i < len(l); i++ {
			if l[i] >= 0x80 || l[i] == '\r' || (l[i] < 0x20 && l[i] != '\t') {
				plain = false
				break
			}
		}
	}
	if plain {
		return "7bit", []byte(crlf(s))
	}
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	w.Write([]byte(s)) // writes to a bytes.Buffer do not fail
	w.Close()
	return "quoted-printable", b.Bytes()
}

// base64Body encodes b as base64 in lines of 76 characters with CRLF.
func base64Body(b []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(b)
	var out bytes.Buffer
	for len(enc) > 76 {
		out.WriteString(enc[:76])
		out.WriteString("\r\n")
		enc = enc[76:]
	}
	out.WriteString(enc)
	out.WriteString("\r\n")
	return out.Bytes()
}

// quoteParam formats a MIME parameter value as a quoted string.
func quoteParam(v string) string {
	v = strings.ReplaceAll(v, `\`, `\\`)
	return `"` + strings.ReplaceAll(v, `"`, `\"`) + `"`
}

// multipart writes the parts, each a complete entity (headers, blank line,
// body), between boundaries.
func multipart(boundary string, parts ...[]byte) []byte {
	var b bytes.Buffer
	for _, p := range parts {
		b.WriteString("\r\n--" + boundary + "\r\n")
		b.Write(p)
	}
	b.WriteString("\r\n--" + boundary + "--\r\n")
	return b.Bytes()
}

// entity joins a header block and a body.
func entity(h *header, body []byte) []byte {
	out := make([]byte, 0, h.b.Len()+2+len(body))
	out = append(out, h.bytes()...)
	out = append(out, "\r\n"...)
	return append(out, body...)
}

// wrapEncrypted builds the RFC 3156 message: outer headers, then the
// multipart/encrypted body with the version part and the armored payload.
func wrapEncrypted(outer *header, armored []byte) []byte {
	boundary := newBoundary()
	outer.add("Content-Type", `multipart/encrypted; protocol="application/pgp-encrypted"; boundary="`+boundary+`"`)

	var ver header
	ver.add("Content-Type", "application/pgp-encrypted")
	ver.add("Content-Description", "PGP/MIME version identification")

	var enc header
	enc.add("Content-Type", `application/octet-stream; name="encrypted.asc"`)
	enc.add("Content-Description", "OpenPGP encrypted message")
	enc.add("Content-Disposition", `inline; filename="encrypted.asc"`)

	body := multipart(boundary,
		entity(&ver, []byte("Version: 1\r\n")),
		entity(&enc, []byte(crlf(string(armored)))))
	return entity(outer, body)
}
